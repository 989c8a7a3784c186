// The bytes one batch-1 decode step must read from device memory, worked out
// from a GGUF file's header alone, so that every engine benchmarked on that
// file (worker-orcd and llama.cpp) is charged the same bytes against the
// copy ceiling:
//   - every weight tensor once, with two exceptions: a token or position
//     embedding table is only gathered (one row per token) unless it is also
//     the output head (tied: no output.weight), and a mixture of experts reads
//     experts_used of its experts (expert tensors count experts_used / experts
//     of their bytes);
//   - the K and V rows attended: per layer, KV heads x (key + value length)
//     x positions x the cache's element size, where a sliding-window layer
//     attends to at most its window.
#pragma once

#include "gguf/gguf.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace orcd::bench {

struct DecodeBytes {
    std::string architecture;
    std::string name;               // general.name
    uint64_t file_bytes = 0;
    uint64_t tensor_bytes = 0;      // all tensors
    uint64_t weights_read = 0;      // per decode step (rules above)
    uint64_t gathered_bytes = 0;    // embedding tables left out of weights_read
    uint64_t expert_bytes = 0;      // all expert tensors (counted in part)
    uint32_t n_expert = 0, n_expert_used = 0;
    uint32_t n_layer = 0;
    uint32_t n_vocab = 0;
    // Per layer: KV heads x (key length + value length), and the window (0: none).
    std::vector<uint64_t> kv_row_elems;
    std::vector<uint32_t> window;

    // K and V bytes one step reads with `context` positions in the cache
    // (each windowed layer at most its window).
    double kv_bytes(double context, double elem_bytes) const;
    // weights_read + kv_bytes(context, elem_bytes).
    double step_bytes(double context, double elem_bytes) const;
};

// Throws std::runtime_error for a file whose shape keys are missing.
DecodeBytes decode_bytes(const gguf::File& file);
DecodeBytes decode_bytes(const std::string& path);

// The mean number of cached positions over `steps` decode steps that start
// at `depth`: step i (1-based) attends to depth + i positions, so the mean
// is depth + (steps + 1) / 2 (the convention of worker-orcd-bench and of
// llama-bench's tg@d runs).
double mean_context(uint32_t depth, uint32_t steps);

nlohmann::json to_json(const DecodeBytes& d);
DecodeBytes decode_bytes_from_json(const nlohmann::json& j);

}  // namespace orcd::bench
