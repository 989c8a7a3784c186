# GGUF reader and writer unit tests (included from tests/unit/CMakeLists.txt).
orcd_add_test(test_gguf LABELS unit SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_gguf.cpp)
