orcd_add_test(test_tokenizer LABELS unit SERIAL "^Performance\\." SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_tokenizer.cpp
              ${CMAKE_CURRENT_SOURCE_DIR}/test_bpe_tokenizer.cpp ${CMAKE_CURRENT_SOURCE_DIR}/test_utf8_stream.cpp
              ${CMAKE_CURRENT_SOURCE_DIR}/vocab_vectors.cpp)

# The byte-level BPE families against the reference tokenizers' ids.
orcd_add_test(test_bpe_conformance LABELS unit SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_bpe_conformance.cpp
              ${CMAKE_CURRENT_SOURCE_DIR}/vocab_vectors.cpp LIBS orcd_synth_tokenizer)
