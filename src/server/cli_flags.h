// Command-line flags of worker-orcd. Parsing checks every value it can check
// without loading the model; a bad one is a FlagError naming the flag, which
// main() turns into a one-line message and exit code 2.
#pragma once

#include <orcd/orcd.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

namespace orcd::server {

enum class LogFormat { json, text };

struct Config {
    std::string model_path;
    // --chat-template-file's text, read and recognised while parsing: it
    // replaces the model's chat template when set.
    std::optional<std::string> chat_template;
    uint16_t port = 0;
    std::string worker_id;          // generated when --worker-id is absent
    orcd_device_kind device = ORCD_DEVICE_CUDA;
    int32_t gpu_index = 0;
    int32_t cpu_threads = 0;        // CPU backend threads; 0 = all cores
    uint64_t load_chunk_bytes = 16ull << 20;  // staging chunk of the weight upload
    std::string bind = "127.0.0.1";
    uint32_t ctx_size = 0;          // 0 = the model's context
    uint32_t max_tokens_out = 2048;
    double inference_timeout_sec = 300;
    double shutdown_timeout_sec = 5;
    double body_timeout_sec = 5;    // header received -> whole body received
    LogFormat log_format = LogFormat::json;
};

class FlagError : public std::runtime_error {
public:
    FlagError(std::string flag, const std::string& message)
        : std::runtime_error(flag + ": " + message), flag_(std::move(flag)) {}
    const std::string& flag() const noexcept { return flag_; }

private:
    std::string flag_;
};

// Thrown for --help: main() prints usage() and exits 0.
struct HelpRequested {};
// Thrown for --version: main() prints version::text() (version, commit, CUDA,
// supported architectures and weight formats), exits 0.
struct VersionRequested {};

// Parses argv (accepting "--flag value" and "--flag=value"). Throws FlagError
// or HelpRequested.
Config parse_flags(int argc, const char* const* argv);

std::string usage();

}  // namespace orcd::server
