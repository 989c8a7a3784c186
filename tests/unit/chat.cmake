find_package(nlohmann_json 3 REQUIRED)
orcd_add_test(test_chat_template LABELS unit SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_chat_template.cpp LIBS orcd_chat nlohmann_json::nlohmann_json)
orcd_add_test(test_tokenize_segments LABELS unit SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_tokenize_segments.cpp
              LIBS nlohmann_json::nlohmann_json)
