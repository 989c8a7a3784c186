// Hyper-parameters of a Llama-family model, read from GGUF metadata.
#pragma once

#include <cstdint>
#include <string>

namespace orcd::gguf { class File; }

namespace orcd {

struct ModelConfig {
    std::string architecture;  // "llama"
    std::string name;
    uint32_t n_embd = 0;       // hidden size
    uint32_t n_layer = 0;
    uint32_t n_head = 0;       // query heads
    uint32_t n_head_kv = 0;    // key/value heads (GQA when < n_head)
    uint32_t head_dim = 0;     // n_embd / n_head
    uint32_t n_ff = 0;         // SwiGLU inner size
    uint32_t n_vocab = 0;
    uint32_t n_ctx_train = 0;  // the model's context length
    uint32_t rope_dim = 0;     // rotated dimensions per head (<= head_dim)
    float rope_freq_base = 10000.0f;
    float rms_eps = 1e-5f;

    // Reads and validates the keys the architecture needs; an architecture
    // this engine does not implement fails with MODEL_LOAD_FAILED naming it.
    static ModelConfig from_gguf(const gguf::File& file);
};

}  // namespace orcd
