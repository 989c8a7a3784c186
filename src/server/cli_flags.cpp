#include "cli_flags.h"

#include "uuid.h"

#include "chat/chat_template.h"

#include <boost/asio/ip/address.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <sstream>
#include <string_view>

#include <unistd.h>

namespace orcd::server {
namespace {

int64_t parse_int(const std::string& flag, const std::string& value, int64_t lo, int64_t hi) {
    int64_t v = 0;
    const char* end = value.data() + value.size();
    auto [ptr, ec] = std::from_chars(value.data(), end, v);
    if (value.empty() || ec != std::errc() || ptr != end)
        throw FlagError(flag, "expected an integer, got '" + value + "'");
    if (v < lo || v > hi)
        throw FlagError(flag, "must be in " + std::to_string(lo) + ".." + std::to_string(hi) + ", got " + value);
    return v;
}

// Timeouts accept fractions ("0.5") so tests can provoke them quickly.
double parse_seconds(const std::string& flag, const std::string& value, double lo, double hi) {
    double v = 0;
    try {
        size_t used = 0;
        v = std::stod(value, &used);
        if (used != value.size()) throw std::invalid_argument("trailing");
    } catch (const std::exception&) {
        throw FlagError(flag, "expected a number of seconds, got '" + value + "'");
    }
    if (!std::isfinite(v) || v < lo || v > hi)
        throw FlagError(flag, "must be in " + std::to_string(lo) + ".." + std::to_string(hi) + " seconds, got " + value);
    return v;
}

}  // namespace

std::string usage() {
    return "usage: worker-orcd --model PATH --port N [options]\n"
           "  --model PATH                 GGUF model file (required)\n"
           "  --port N                     TCP port, 1-65535 (required)\n"
           "  --worker-id UUID             worker id (generated when absent)\n"
           "  --device cpu|cuda            backend (default cuda)\n"
           "  --gpu-device N               CUDA device ordinal (implies --device cuda)\n"
           "  --cpu-threads N              CPU backend threads, 0 = all cores (default 0)\n"
           "  --load-chunk-mb N            host-to-device staging chunk while loading (default 16)\n"
           "  --bind ADDR                  listen address (default 127.0.0.1)\n"
           "  --ctx-size N                 KV cache positions (default: the model's context)\n"
           "  --max-tokens-out N           largest max_tokens a request may ask (default 2048)\n"
           "  --inference-timeout-sec S    per-job deadline (default 300)\n"
           "  --shutdown-timeout-sec S     drain time before a running job is cancelled (default 5)\n"
           "  --body-timeout-sec S         time for a request body to arrive after its header (default 5)\n"
           "  --log-format json|text       log line format (default json)\n"
           "  --chat-template-file PATH    chat template to use instead of the model's (a known one)\n"
           "  --version                    print the version, build commit, CUDA version and the\n"
           "                               supported architectures and weight formats, then exit\n";
}

Config parse_flags(int argc, const char* const* argv) {
    static const char* const known[] = {"--model", "--port", "--worker-id", "--device", "--gpu-device",
                                        "--cpu-threads", "--load-chunk-mb", "--bind", "--ctx-size", "--max-tokens-out",
                                        "--inference-timeout-sec", "--shutdown-timeout-sec", "--body-timeout-sec",
                                        "--log-format", "--chat-template-file"};
    std::map<std::string, std::string> values;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "--help" || arg == "-h") throw HelpRequested{};
        if (arg == "--version") throw VersionRequested{};
        if (arg.rfind("--", 0) != 0) throw FlagError(arg, "unexpected argument");
        const size_t eq = arg.find('=');
        const std::string name = arg.substr(0, eq);
        std::string value = eq == std::string::npos ? std::string() : arg.substr(eq + 1);
        // Named before its value is looked for: an unknown flag last on the
        // line is "unknown", not "needs a value".
        if (std::find(std::begin(known), std::end(known), name) == std::end(known))
            throw FlagError(name, "unknown flag");
        if (eq == std::string::npos) {
            if (i + 1 >= argc || std::string_view(argv[i + 1]).rfind("--", 0) == 0)
                throw FlagError(name, "needs a value");
            value = argv[++i];
        }
        if (values.count(name)) throw FlagError(name, "given twice");
        values[name] = value;
    }

    Config cfg;
    auto take = [&](const std::string& name) -> std::optional<std::string> {
        auto it = values.find(name);
        if (it == values.end()) return std::nullopt;
        std::string v = it->second;
        values.erase(it);
        return v;
    };

    if (auto v = take("--model")) {
        std::error_code ec;
        if (v->empty() || !std::filesystem::exists(*v, ec))
            throw FlagError("--model", "no such file: '" + *v + "'");
        if (!std::filesystem::is_regular_file(*v, ec))
            throw FlagError("--model", "not a regular file: '" + *v + "'");
        if (access(v->c_str(), R_OK) != 0) throw FlagError("--model", "file is not readable: '" + *v + "'");
        cfg.model_path = *v;
    } else {
        throw FlagError("--model", "is required");
    }
    if (auto v = take("--port")) cfg.port = static_cast<uint16_t>(parse_int("--port", *v, 1, 65535));
    else throw FlagError("--port", "is required");

    if (auto v = take("--worker-id")) {
        if (!is_uuid(*v)) throw FlagError("--worker-id", "must be a UUID (8-4-4-4-12 hex), got '" + *v + "'");
        cfg.worker_id = *v;
    } else {
        cfg.worker_id = new_uuid();
    }

    auto device = take("--device");
    auto gpu = take("--gpu-device");
    if (device) {
        if (*device == "cpu") cfg.device = ORCD_DEVICE_CPU;
        else if (*device == "cuda") cfg.device = ORCD_DEVICE_CUDA;
        else throw FlagError("--device", "must be cpu or cuda, got '" + *device + "'");
    }
    if (gpu) {
        if (cfg.device == ORCD_DEVICE_CPU) throw FlagError("--gpu-device", "conflicts with --device cpu");
        cfg.gpu_index = static_cast<int32_t>(parse_int("--gpu-device", *gpu, 0, 1023));
    }
    if (auto v = take("--cpu-threads")) cfg.cpu_threads = static_cast<int32_t>(parse_int("--cpu-threads", *v, 0, 1024));
    if (auto v = take("--load-chunk-mb"))
        cfg.load_chunk_bytes = static_cast<uint64_t>(parse_int("--load-chunk-mb", *v, 1, 1024)) << 20;

    if (auto v = take("--bind")) {
        boost::system::error_code ec;
        boost::asio::ip::make_address(*v, ec);
        if (ec) throw FlagError("--bind", "not an IP address: '" + *v + "'");
        cfg.bind = *v;
    }
    if (auto v = take("--ctx-size")) cfg.ctx_size = static_cast<uint32_t>(parse_int("--ctx-size", *v, 1, ORCD_MAX_CONTEXT));
    if (auto v = take("--max-tokens-out"))
        cfg.max_tokens_out = static_cast<uint32_t>(parse_int("--max-tokens-out", *v, 1, 1 << 20));
    if (auto v = take("--inference-timeout-sec"))
        cfg.inference_timeout_sec = parse_seconds("--inference-timeout-sec", *v, 0.001, 86400.0);
    if (auto v = take("--shutdown-timeout-sec"))
        cfg.shutdown_timeout_sec = parse_seconds("--shutdown-timeout-sec", *v, 0.0, 3600.0);
    if (auto v = take("--chat-template-file")) {
        // Read and recognised here, before the model loads: a template the
        // worker cannot render is a bad flag value (exit 2), not a model that
        // refuses every chat request once it is up.
        std::ifstream in(*v, std::ios::binary);
        if (!in) throw FlagError("--chat-template-file", "file is not readable: '" + *v + "'");
        std::ostringstream text;
        text << in.rdbuf();
        if (!chat::detect(text.str()))
            throw FlagError("--chat-template-file", chat::describe_unknown(text.str(), "the template in '" + *v + "'"));
        cfg.chat_template = text.str();
    }
    if (auto v = take("--body-timeout-sec"))
        cfg.body_timeout_sec = parse_seconds("--body-timeout-sec", *v, 0.001, 3600.0);
    if (auto v = take("--log-format")) {
        if (*v == "json") cfg.log_format = LogFormat::json;
        else if (*v == "text") cfg.log_format = LogFormat::text;
        else throw FlagError("--log-format", "must be json or text, got '" + *v + "'");
    }
    return cfg;
}

}  // namespace orcd::server
