// Command-line flags of worker-orcd-bench. A bad flag is an ArgError naming
// it; main() prints it with the usage and exits 2.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace orcd::bench {

struct Args {
    std::string model;
    bool cpu = false;               // --device cpu: a smoke run on the CPU backend
    int gpu = 0;                    // --gpu-device
    int cpu_threads = 0;            // 0 = all cores
    std::string json_path;          // --json; empty = no file
    bool skip_load = false, skip_prefill = false, skip_decode = false, skip_http = false, skip_copy = false;
    std::vector<uint32_t> prompts{128, 512, 2048};
    std::vector<uint32_t> depths{0, 1024, 4096};
    uint32_t decode_steps = 128;
    int reps = 5;                   // timed repetitions of each figure
    int warmup = 1;                 // untimed repetitions first
    uint32_t n_ctx = 0;             // 0 = what the largest prompt / depth needs
    uint64_t copy_bytes = 4ull << 30;  // size of the device-to-device copy
    int copy_reps = 20;
    std::string worker;             // default: worker-orcd next to this binary
    uint32_t http_prompt_tokens = 128;
    uint32_t http_max_tokens = 256;
    int http_runs = 5;
    double ready_timeout_s = 600;   // the worker loads the model from scratch
    double request_timeout_s = 300;
    double temperature = 0.0;       // decode and HTTP runs: 0 greedy, above it sampled from the whole vocabulary
    double presence_penalty = 0.0;  // decode runs only (OpenAI's rules, docs/sampling.md); 0 = off
    double frequency_penalty = 0.0;
    int logprobs = -1;              // decode runs: each token's log-probability and this many alternatives; -1 = off
    bool host_logprobs = false;     // ... computed by the host from the logits read back (the default path)
    uint64_t seed = 1234;           // prompt token ids and HTTP request seeds
    std::string llama_server;       // --llama-server: also time llama-server over HTTP on the same file
};

class ArgError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct HelpRequested {};

// Throws ArgError or HelpRequested.
Args parse_args(int argc, const char* const* argv);
std::string usage();

}  // namespace orcd::bench
