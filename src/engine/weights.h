// Host-side views of a model's tensors, straight from the mapped GGUF file.
#pragma once

#include "gguf/gguf.h"

#include <string_view>
#include <vector>

namespace orcd {

struct ModelConfig;

// A weight matrix or vector as stored in the file: ne[0] is the row length
// (the input dimension of a matmul), ne[1] the number of rows (outputs).
struct TensorView {
    gguf::TensorType type = gguf::TensorType::F32;
    uint64_t ne0 = 0, ne1 = 1;
    const uint8_t* data = nullptr;
    uint64_t n_bytes = 0;
    std::string_view name;  // points into the mapped file
};

struct LayerWeights {
    TensorView attn_norm;           // [n_embd]
    TensorView wq, wk, wv, wo;      // wq: [n_embd] x n_head*head_dim rows, ...
    TensorView ffn_norm;            // [n_embd]
    TensorView w_gate, w_up;        // [n_embd] x n_ff rows
    TensorView w_down;              // [n_ff] x n_embd rows
};

struct ModelWeights {
    TensorView tok_embd;            // [n_embd] x n_vocab rows
    TensorView output_norm;         // [n_embd]
    TensorView output;              // [n_embd] x n_vocab rows (= tok_embd when tied)
    bool output_tied = false;
    std::vector<LayerWeights> layers;

    // Binds every tensor the Llama architecture needs and checks its shape
    // and type (F32/F16 for matrices, F32 for norms); MODEL_LOAD_FAILED names
    // the first missing or malformed tensor.
    static ModelWeights bind(const gguf::File& file, const ModelConfig& cfg);
    // The dominant matrix type, e.g. "F16", for model info.
    const char* quant_kind() const;
    uint64_t total_bytes() const;  // bytes of all distinct tensors
};

}  // namespace orcd
