#include "bench_args.h"

#include <charconv>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>

#include <unistd.h>

namespace orcd::bench {
namespace {

uint64_t parse_u64(const std::string& flag, const std::string& v, uint64_t lo, uint64_t hi) {
    uint64_t x = 0;
    const char* end = v.data() + v.size();
    auto [ptr, ec] = std::from_chars(v.data(), end, x);
    if (v.empty() || ec != std::errc() || ptr != end) throw ArgError(flag + ": expected an integer, got '" + v + "'");
    if (x < lo || x > hi)
        throw ArgError(flag + ": must be in " + std::to_string(lo) + ".." + std::to_string(hi) + ", got " + v);
    return x;
}

// A number in [lo, hi]; `range` spells the interval for the message.
double parse_number(const std::string& flag, const std::string& v, double lo, double hi, const std::string& range) {
    char* end = nullptr;
    const double x = std::strtod(v.c_str(), &end);
    if (v.empty() || *end != '\0' || !(x >= lo && x <= hi))
        throw ArgError(flag + ": expected a number in " + range + ", got '" + v + "'");
    return x;
}

double parse_seconds(const std::string& flag, const std::string& v) {
    char* end = nullptr;
    const double x = std::strtod(v.c_str(), &end);
    if (v.empty() || *end != '\0' || !(x > 0)) throw ArgError(flag + ": expected a positive number, got '" + v + "'");
    return x;
}

std::vector<uint32_t> parse_list(const std::string& flag, const std::string& v, uint64_t lo) {
    std::vector<uint32_t> out;
    size_t at = 0;
    while (at <= v.size()) {
        const size_t comma = v.find(',', at);
        const std::string item = v.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
        out.push_back(uint32_t(parse_u64(flag, item, lo, 1u << 20)));
        if (comma == std::string::npos) break;
        at = comma + 1;
    }
    return out;
}

}  // namespace

std::string usage() {
    return "usage: worker-orcd-bench --model PATH [options]\n"
           "  --model PATH            GGUF model (required)\n"
           "  --device cuda|cpu       backend (default cuda; cpu is a smoke run timed by the host clock)\n"
           "  --gpu-device N          CUDA device ordinal (default 0)\n"
           "  --cpu-threads N         CPU backend threads, 0 = all cores (default 0)\n"
           "  --json PATH             also write every figure as JSON to PATH\n"
           "  --prompts LIST          prefill prompt lengths in tokens (default 128,512,2048)\n"
           "  --depths LIST           decode context depths (default 0,1024,4096)\n"
           "  --decode-steps N        timed decode steps per repetition (default 128)\n"
           "  --reps N                timed repetitions of each figure (default 5)\n"
           "  --warmup N              untimed repetitions before them (default 1)\n"
           "  --ctx N                 KV cache positions (default: what the prompts and depths need)\n"
           "  --copy-bytes N          device-to-device copy size for the bandwidth ceiling (default 4 GiB)\n"
           "  --copy-reps N           timed copies (default 20)\n"
           "  --skip-load --skip-prefill --skip-decode --skip-http --skip-copy\n"
           "                          leave a part out\n"
           "  --worker PATH           worker-orcd binary (default: next to this program)\n"
           "  --http-prompt-tokens N  prompt length for the HTTP runs (default 128)\n"
           "  --http-max-tokens N     tokens asked per HTTP run (default 256)\n"
           "  --http-runs N           timed HTTP runs after one warm-up (default 5)\n"
           "  --ready-timeout S       seconds to wait for the worker's ready line (default 600)\n"
           "  --request-timeout S     seconds one HTTP run may take (default 300)\n"
           "  --seed N                seed of the random prompt ids (default 1234)\n"
           "  --temperature T         decode and HTTP runs sample at T from the whole vocabulary, no\n"
           "                          top-k/top-p (the OpenAI default); 0 = greedy (default 0)\n"
           "  --presence-penalty P    --frequency-penalty F\n"
           "                          decode runs apply OpenAI's penalties over the tokens they generate,\n"
           "                          each in [-2, 2] (default 0: off); the HTTP runs do not\n"
           "  --logprobs N            decode runs ask each token's log-probability and N alternatives\n"
           "                          (0-32), as a request with logprobs does; the HTTP runs do not\n"
           "  --host-logprobs         with --logprobs: computed on the host from the logits read back\n"
           "                          (the backend's default path) instead of where the backend computes them\n"
           "  --llama-server PATH     after worker-orcd, time llama.cpp's llama-server on the same file over\n"
           "                          HTTP (same client, same prompt token ids; its lib/ on LD_LIBRARY_PATH)\n";
}

Args parse_args(int argc, const char* const* argv) {
    static const char* const flags_without_value[] = {"--skip-load", "--skip-prefill", "--skip-decode",
                                                      "--skip-http", "--skip-copy", "--host-logprobs"};
    std::map<std::string, std::string> values;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--help" || arg == "-h") throw HelpRequested{};
        if (arg.rfind("--", 0) != 0) throw ArgError(arg + ": unexpected argument");
        std::string name = arg, value;
        bool is_switch = false;
        for (const char* f : flags_without_value) is_switch = is_switch || arg == f;
        if (is_switch) {
            value = "1";
        } else if (const size_t eq = arg.find('='); eq != std::string::npos) {
            name = arg.substr(0, eq);
            value = arg.substr(eq + 1);
        } else {
            if (i + 1 >= argc) throw ArgError(name + ": needs a value");
            value = argv[++i];
        }
        if (values.count(name)) throw ArgError(name + ": given twice");
        values[name] = value;
    }

    Args a;
    auto take = [&](const std::string& name) -> std::optional<std::string> {
        auto it = values.find(name);
        if (it == values.end()) return std::nullopt;
        std::string v = it->second;
        values.erase(it);
        return v;
    };

    if (auto v = take("--model")) a.model = *v;
    else throw ArgError("--model: is required");
    std::error_code ec;
    if (!std::filesystem::is_regular_file(a.model, ec) || access(a.model.c_str(), R_OK) != 0)
        throw ArgError("--model: no readable file '" + a.model + "'");

    if (auto v = take("--device")) {
        if (*v == "cpu") a.cpu = true;
        else if (*v != "cuda") throw ArgError("--device: must be cuda or cpu, got '" + *v + "'");
    }
    if (auto v = take("--gpu-device")) {
        if (a.cpu) throw ArgError("--gpu-device: conflicts with --device cpu");
        a.gpu = int(parse_u64("--gpu-device", *v, 0, 1023));
    }
    if (auto v = take("--cpu-threads")) a.cpu_threads = int(parse_u64("--cpu-threads", *v, 0, 1024));
    if (auto v = take("--json")) a.json_path = *v;
    if (auto v = take("--prompts")) a.prompts = parse_list("--prompts", *v, 1);
    if (auto v = take("--depths")) a.depths = parse_list("--depths", *v, 0);
    if (auto v = take("--decode-steps")) a.decode_steps = uint32_t(parse_u64("--decode-steps", *v, 2, 1u << 16));
    if (auto v = take("--reps")) a.reps = int(parse_u64("--reps", *v, 1, 1000));
    if (auto v = take("--warmup")) a.warmup = int(parse_u64("--warmup", *v, 0, 1000));
    if (auto v = take("--ctx")) a.n_ctx = uint32_t(parse_u64("--ctx", *v, 1, 1u << 20));
    if (auto v = take("--copy-bytes")) a.copy_bytes = parse_u64("--copy-bytes", *v, 1u << 20, 1ull << 40);
    if (auto v = take("--copy-reps")) a.copy_reps = int(parse_u64("--copy-reps", *v, 1, 10000));
    a.skip_load = take("--skip-load").has_value();
    a.skip_prefill = take("--skip-prefill").has_value();
    a.skip_decode = take("--skip-decode").has_value();
    a.skip_http = take("--skip-http").has_value();
    a.skip_copy = take("--skip-copy").has_value();
    if (auto v = take("--worker")) a.worker = *v;
    if (auto v = take("--http-prompt-tokens"))
        a.http_prompt_tokens = uint32_t(parse_u64("--http-prompt-tokens", *v, 2, 1u << 16));
    if (auto v = take("--http-max-tokens")) a.http_max_tokens = uint32_t(parse_u64("--http-max-tokens", *v, 2, 1u << 20));
    if (auto v = take("--http-runs")) a.http_runs = int(parse_u64("--http-runs", *v, 1, 1000));
    if (auto v = take("--ready-timeout")) a.ready_timeout_s = parse_seconds("--ready-timeout", *v);
    if (auto v = take("--request-timeout")) a.request_timeout_s = parse_seconds("--request-timeout", *v);
    if (auto v = take("--seed")) a.seed = parse_u64("--seed", *v, 0, UINT64_MAX);
    if (auto v = take("--temperature")) a.temperature = parse_number("--temperature", *v, 0, 2, "[0, 2]");
    if (auto v = take("--presence-penalty"))
        a.presence_penalty = parse_number("--presence-penalty", *v, -2, 2, "[-2, 2]");
    if (auto v = take("--frequency-penalty"))
        a.frequency_penalty = parse_number("--frequency-penalty", *v, -2, 2, "[-2, 2]");
    if (auto v = take("--logprobs")) a.logprobs = int(parse_u64("--logprobs", *v, 0, 32));
    a.host_logprobs = take("--host-logprobs").has_value();
    if (a.host_logprobs && a.logprobs < 0) throw ArgError("--host-logprobs: needs --logprobs N");
    if (auto v = take("--llama-server")) {
        a.llama_server = *v;
        if (access(a.llama_server.c_str(), X_OK) != 0)
            throw ArgError("--llama-server: no executable '" + a.llama_server + "'");
    }
    if (!values.empty()) throw ArgError(values.begin()->first + ": unknown flag");
    return a;
}

}  // namespace orcd::bench
