orcd_add_test(test_tokenizer LABELS unit SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_tokenizer.cpp ${CMAKE_CURRENT_SOURCE_DIR}/test_utf8_stream.cpp)
