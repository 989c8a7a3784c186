orcd_add_test(test_engine LABELS unit SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_engine_parts.cpp)
orcd_add_test(test_golden_capi LABELS unit determinism SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_golden_capi.cpp)
orcd_add_test(test_synth_models LABELS unit SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_synth_models.cpp)
add_dependencies(test_synth_models worker-orcd-synth)
if(ORCD_SERVER)
  orcd_add_test(test_engine_wrappers LABELS unit SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_engine_wrappers.cpp
                LIBS orcd_server)
endif()
orcd_add_test(test_tied_output LABELS unit SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_tied_output.cpp)
