// Engine-level figures, through the engine's C++ API on one loaded model:
// load time, prefill throughput, decode throughput at a context depth.
#pragma once

#include "bench_stats.h"

#include "engine/engine.h"

#include <cstdint>
#include <memory>
#include <string>

namespace orcd::bench {

struct LoadResult {
    double first_s = 0;        // cold or warm, whatever the page cache held
    double second_s = 0;       // the figure: file in the page cache
    uint64_t weight_bytes = 0;
    uint64_t file_bytes = 0;
    double gbps() const { return second_s > 0 ? double(weight_bytes) / second_s / 1e9 : 0; }
};

// Loads the model twice (the first load warms the page cache and is freed)
// and keeps the second. With measure == false it loads once, untimed.
std::unique_ptr<Model> load_model(Device& device, const std::string& path, uint32_t n_ctx, bool measure,
                                  LoadResult& out);

struct PrefillResult {
    uint32_t tokens = 0;
    uint32_t chunk = 0;        // tokens per forward() (the engine's max batch)
    Summary ms;                // whole prompt
    Summary tok_s;
    Summary host_ms;           // host time to enqueue the whole prompt (forward() calls return)
    bool logits_finite = true; // sanity check after the timed runs
};

struct DecodeResult {
    uint32_t depth = 0;
    uint32_t steps = 0;
    Summary ms_per_token;
    Summary tok_s;
    double mean_context = 0;       // positions attended, averaged over the timed steps
    uint64_t kv_bytes_per_token = 0;  // K and V read at mean_context
    bool deterministic = true;     // every repetition produced the same tokens
    bool tokens_in_range = true;
    bool logprobs_finite = true;   // every asked log-probability a number <= 0
    float temperature = 0.0f;      // 0: greedy; above: sampled from the whole vocabulary
    float presence_penalty = 0.0f, frequency_penalty = 0.0f;  // over the generated tokens; 0 = off
    int logprobs = -1;             // alternatives asked with each token's log-probability; -1 = off
    bool host_logprobs = false;    // ... computed on the host from the logits read back
};

class EngineBench {
public:
    // Timing uses the backend's native stream; cuda says whether the device
    // is a GPU, so that a backend without a stream is timed with syncs.
    // temperature: 0 decodes greedily; above 0 every decode step samples from
    // the whole vocabulary (no top-k/top-p, the OpenAI default) with seed.
    // The presence and frequency penalties (OpenAI's) count the tokens each
    // repetition generates.
    EngineBench(Model& model, bool cuda, int warmup, int reps, uint64_t seed, float temperature = 0.0f,
                float presence_penalty = 0.0f, float frequency_penalty = 0.0f);

    // Decode runs ask each token's log-probability and n alternatives (n >= 0),
    // as a request with logprobs does; on_host: through the host path
    // (Backend::logprobs: the logits read back), not the backend's own.
    void set_logprobs(int n, bool on_host) {
        logprobs_ = n;
        host_logprobs_ = on_host;
    }

    PrefillResult prefill(uint32_t tokens);
    DecodeResult decode(uint32_t depth, uint32_t steps);
    std::string timing_method() const;
    // Bytes of one KV element on this backend (F16 on CUDA, F32 on CPU).
    uint32_t kv_elem_bytes() const;

private:
    std::vector<int32_t> random_tokens(uint32_t n, uint64_t salt) const;
    // Runs tokens at [0, n) in chunks of max_batch, as the engine's prefill does.
    void run_prefill(const std::vector<int32_t>& tokens);

    Model& model_;
    bool cuda_;
    int warmup_, reps_;
    uint64_t seed_;
    float temperature_, presence_, frequency_;
    int logprobs_ = -1;
    bool host_logprobs_ = false;
};

}  // namespace orcd::bench
