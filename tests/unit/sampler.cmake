orcd_add_test(test_sampler LABELS unit determinism
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_sampler.cpp ${CMAKE_CURRENT_SOURCE_DIR}/test_philox.cpp)
