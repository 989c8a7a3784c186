#include "common/test_paths.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include <gtest/gtest.h>
#include <unistd.h>

namespace orcd::test {

namespace {

// The directories temp_dir() made, removed when the test program ends well.
// A failed program keeps them (the worker logs in them are what one reads
// next), as does ORCD_KEEP_TEST_TMP=1. Its constructor makes Google Test's
// singleton first, so that one is destroyed after this and can still be
// asked whether a test failed. A forked child that exits
// leaves the parent's directories alone.
class TempDirs {
public:
    TempDirs() { ::testing::UnitTest::GetInstance(); }
    void add(std::string dir) {
        std::lock_guard<std::mutex> lock(mu_);
        dirs_.push_back(std::move(dir));
    }
    ~TempDirs() {
        if (getpid() != owner_ || dirs_.empty()) return;
        const char* keep = std::getenv("ORCD_KEEP_TEST_TMP");
        if ((keep && *keep && std::string(keep) != "0") || ::testing::UnitTest::GetInstance()->Failed()) {
            std::fprintf(stderr, "test directories kept:");
            for (const auto& d : dirs_) std::fprintf(stderr, " %s", d.c_str());
            std::fprintf(stderr, "\n");
            return;
        }
        for (const auto& d : dirs_) {
            std::error_code ec;  // best effort: a directory already gone is fine
            std::filesystem::remove_all(d, ec);
        }
    }

private:
    std::mutex mu_;
    std::vector<std::string> dirs_;
    pid_t owner_ = getpid();
};

TempDirs& temp_dirs() {
    static TempDirs dirs;
    return dirs;
}

}  // namespace

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

std::string file_sha256(const std::string& path) {
    FILE* p = popen(("sha256sum '" + path + "'").c_str(), "r");
    if (!p) throw std::runtime_error("cannot run sha256sum");
    char buf[65] = {};
    const size_t n = std::fread(buf, 1, 64, p);
    pclose(p);
    if (n != 64) throw std::runtime_error("sha256sum gave no digest for " + path);
    return std::string(buf, n);
}

std::string temp_dir() {
    std::string tmpl = "/tmp/orcd-test-XXXXXX";
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    temp_dirs().add(tmpl);
    return tmpl;
}

}  // namespace orcd::test
