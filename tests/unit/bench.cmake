# The benchmark's parts that need no GPU (bench/): the bytes a decode step
# reads, llama-bench's JSON, the side-by-side tables, the HTTP stream reader.
orcd_add_test(test_bench_compare LABELS unit SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_bench_compare.cpp
              LIBS orcd_bench_compare)
add_dependencies(test_bench_compare worker-orcd-synth)
orcd_add_test(test_bench_http_stream LABELS unit SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_bench_http_stream.cpp
              LIBS orcd_bench_compare)
