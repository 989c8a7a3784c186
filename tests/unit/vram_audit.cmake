# Source-level VRAM-only audit; runs on every machine (no GPU needed).
orcd_add_test(vram_audit_test LABELS unit vram_enforcement
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_vram_audit.cpp)
target_compile_definitions(vram_audit_test PRIVATE ORCD_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
