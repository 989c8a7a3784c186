// llama.cpp's llama-bench results (`-o json`: one array; `-o jsonl`: one
// object per line), read into the few fields a side-by-side table needs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace orcd::bench {

// One llama-bench test: pp N (n_prompt > 0, n_gen == 0), tg N (n_gen > 0,
// n_prompt == 0) or pp+tg, each after filling the cache to n_depth.
struct LlamaBenchTest {
    uint32_t n_prompt = 0, n_gen = 0, n_depth = 0;
    double avg_ts = 0, stddev_ts = 0;  // tokens/s over the repetitions
    size_t reps = 0;                   // samples_ts entries
};

struct LlamaBenchRun {
    std::string build;        // "d32676d77 (9749)"
    std::string gpu_info, backends, model_type, model_filename;
    std::string type_k = "f16", type_v = "f16";
    std::string flash_attn;   // as llama-bench printed it ("1", "true", "auto", ...)
    int n_gpu_layers = 0;
    uint64_t model_size = 0;  // bytes of the model's tensors
    uint64_t model_n_params = 0;
    std::vector<LlamaBenchTest> tests;

    // The generation test at `depth` (nullptr when the run has none).
    const LlamaBenchTest* decode(uint32_t depth) const;
    // The prompt test of n_prompt tokens at `depth`.
    const LlamaBenchTest* prefill(uint32_t n_prompt, uint32_t depth) const;
};

// Throws std::runtime_error when the text holds no llama-bench result.
LlamaBenchRun parse_llama_bench(const std::string& text);

// Bytes of one cache element of a llama.cpp cache type ("f16" 2, "f32" 4,
// "q8_0" 34/32, ...); 0 for a type it does not know.
double cache_type_bytes(const std::string& type);

}  // namespace orcd::bench
