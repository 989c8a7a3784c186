// A model's tensors as the adapters bind them: the distinct file tensors
// (what a backend copies or uploads, by id) and named views of them (what
// the forward pass multiplies by). A view may cover only some rows of its
// tensor: Phi-3's fused attn_qkv is bound as three row views Q, K and V, its
// gate||up tensor as two, so the forward pass reads the same everywhere.
#pragma once

#include "engine/tensor_names.h"
#include "gguf/gguf.h"

#include <cstdint>
#include <string>
#include <vector>

namespace orcd {

struct ModelConfig;

// One tensor of the file, as a backend holds it: id = index in
// ModelWeights::tensors.
struct FileTensor {
    std::string name;
    gguf::TensorType type = gguf::TensorType::F32;
    uint64_t ne[4] = {1, 1, 1, 1};
    uint64_t n_bytes = 0;
    const uint8_t* data = nullptr;  // host bytes until the backend has its copy
};

// A matrix (ne0 per row, ne1 rows), a stack of ne2 such matrices (experts),
// or a vector (ne1 = 1) in the file's block format, starting `offset`
// bytes into file tensor `id`.
struct TensorView {
    static constexpr uint32_t kNone = ~0u;
    gguf::TensorType type = gguf::TensorType::F32;
    uint64_t ne0 = 0, ne1 = 0, ne2 = 1;
    uint32_t id = kNone;
    uint64_t offset = 0;
    const uint8_t* data = nullptr;  // host bytes of the view (load time only)
    uint64_t n_bytes = 0;

    // A standalone matrix over host memory (tests, tools, the reference
    // functions of cpu_ops): file tensor 0, no offset.
    static TensorView of_host(gguf::TensorType type, uint64_t ne0, uint64_t ne1, const void* data);

    bool empty() const { return id == kNone; }
    uint64_t row_bytes() const;
    // Rows [first, first + n) of this view (counting across stacked matrices).
    TensorView rows(uint64_t first, uint64_t n) const;
    // Matrix e of a stack.
    TensorView expert(uint64_t e) const;
    // Elements [first, first + n) of an F32 vector (a fused bias split).
    TensorView elements(uint64_t first, uint64_t n) const;
};

struct LayerWeights {
    TensorView attn_norm, attn_norm_b;
    TensorView wq, bq, wk, bk, wv, bv;  // row views of attn_qkv when fused
    TensorView wo, bo;
    TensorView sinks;                   // [n_head] F32
    TensorView ffn_norm, ffn_norm_b;
    TensorView w_gate, b_gate, w_up, b_up, w_down, b_down;  // gate/up: row views of ffn_up when fused
    TensorView router, router_b;                             // [n_embd] x n_expert
    TensorView exp_gate, exp_gate_b, exp_up, exp_up_b, exp_down, exp_down_b;  // stacked per expert
};

struct ModelWeights {
    std::vector<FileTensor> tensors;
    TensorView tok_embd, pos_embd, output_norm, output_norm_b, output, output_b;
    std::vector<LayerWeights> layers;

    ModelWeights() = default;
    ModelWeights(ModelWeights&&) = default;
    ModelWeights& operator=(ModelWeights&&) = default;
    ModelWeights(const ModelWeights&) = delete;
    ModelWeights& operator=(const ModelWeights&) = delete;

    const FileTensor& file_tensor(const TensorView& v) const { return tensors.at(v.id); }
    const std::string& name_of(const TensorView& v) const { return file_tensor(v).name; }
    // Every view of the model, for format checks; matrices are views with
    // ne1 > 1 or more than one expert.
    template <class F>
    void for_each_view(F&& f) const {
        for (const TensorView* t : {&tok_embd, &pos_embd, &output_norm, &output_norm_b, &output, &output_b})
            if (!t->empty()) f(*t);
        for (const LayerWeights& L : layers)
            for (const TensorView* t :
                 {&L.attn_norm, &L.attn_norm_b, &L.wq, &L.bq, &L.wk, &L.bk, &L.wv, &L.bv, &L.wo, &L.bo, &L.sinks,
                  &L.ffn_norm, &L.ffn_norm_b, &L.w_gate, &L.b_gate, &L.w_up, &L.b_up, &L.w_down, &L.b_down,
                  &L.router, &L.router_b, &L.exp_gate, &L.exp_gate_b, &L.exp_up, &L.exp_up_b, &L.exp_down,
                  &L.exp_down_b})
                if (!t->empty()) f(*t);
    }
    uint64_t total_bytes() const;  // bytes of all distinct tensors
    // The type holding the most matrix bytes, e.g. "F16" (when the file does
    // not name its format).
    const char* dominant_type() const;
    // Forgets the host bytes once the backend holds its own copy, so that
    // nothing reads the file mapping after load.
    void drop_host_data();
};

// Binds tensors of a GGUF file by role, checking shapes; adapters use it.
// Every failure is MODEL_LOAD_FAILED naming the tensor.
class WeightBinder {
public:
    WeightBinder(const gguf::File& file, ModelWeights& w) : file_(file), w_(w) {}

    bool has(TensorRole role, int layer = -1) const;
    // A matrix of `rows` rows of `in` elements ({in, rows} in GGUF order).
    TensorView matrix(TensorRole role, int layer, uint64_t in, uint64_t rows);
    // The same, or an empty view when the file has no such tensor.
    TensorView optional_matrix(TensorRole role, int layer, uint64_t in, uint64_t rows);
    // n_expert stacked matrices: {in, rows, n_expert}.
    TensorView experts(TensorRole role, int layer, uint64_t in, uint64_t rows, uint64_t n_expert);
    // An F32 vector of n elements (norm weights, biases, sinks); rows > 1
    // binds {n, rows} (per-expert biases).
    TensorView vector(TensorRole role, int layer, uint64_t n, uint64_t rows = 1);
    TensorView optional_vector(TensorRole role, int layer, uint64_t n, uint64_t rows = 1);

private:
    TensorView bind(TensorRole role, int layer, const uint64_t (&shape)[3], uint32_t n_dims, bool f32_only);

    const gguf::File& file_;
    ModelWeights& w_;
};

}  // namespace orcd
