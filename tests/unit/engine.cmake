orcd_add_test(test_engine LABELS unit SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_engine_parts.cpp)
orcd_add_test(test_golden_capi LABELS unit determinism SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_golden_capi.cpp)
