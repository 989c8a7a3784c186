#include "common/test_paths.h"

#include <cstdlib>
#include <stdexcept>
#include <string>

#include <unistd.h>

namespace orcd::test {

std::string data_dir() {
    if (const char* env = std::getenv("ORCD_DATA_DIR"); env && *env) return env;
    return ORCD_DATA_DIR_DEFAULT;
}

std::string data_path(const std::string& rel) { return data_dir() + "/" + rel; }

std::string stories_model() { return data_path("models/stories260K.gguf"); }

std::string bin_dir() {
    if (const char* env = std::getenv("ORCD_BIN_DIR"); env && *env) return env;
    return std::string(ORCD_BINARY_DIR) + "/bin";
}

std::string tokenizer_vectors_dir() {
    if (const char* env = std::getenv("ORCD_TOKENIZER_VECTORS_DIR"); env && *env) return env;
    return ORCD_TOKENIZER_VECTORS_DIR;
}

std::string temp_dir() {
    std::string tmpl = "/tmp/orcd-test-XXXXXX";
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    return tmpl;
}

}  // namespace orcd::test
