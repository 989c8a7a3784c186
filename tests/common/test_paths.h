// Where tests find the shared data (../shared, or $ORCD_SHARED_DIR) and the
// build's binaries.
#pragma once

#include <string>

namespace orcd::test {

// The shared data folder: $ORCD_SHARED_DIR, else ../shared beside the source.
std::string shared_dir();
// shared_dir() + "/" + rel.
std::string shared_path(const std::string& rel);
// The real model every end-to-end test uses.
std::string stories_model();
// The build's bin/ folder ($ORCD_BIN_DIR overrides).
std::string bin_dir();
// A fresh temporary directory, removed by the OS eventually.
std::string temp_dir();

}  // namespace orcd::test
