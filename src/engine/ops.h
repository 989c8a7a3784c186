// The block-level operations a forward pass is written in. An adapter
// (engine/adapter.h) calls them top to bottom; each backend implements them
// (backend/cpu: the reference functions of cpu_ops; backend/cuda: fused
// kernels). A call works on the whole batch the backend set up before the
// adapter ran (Batch: a token, a position and a sequence slot per row).
//
// The operations read and write the backend's activation state:
//   x   [n][n_embd]    the residual stream
//   h   [n][n_embd]    the normalised stream (norm's output, the FFN's input)
//   q   [n][q_dim], k, v [n][kv_dim]   projections of h
//   att [n][q_dim]     attention output
// so a forward pass names weights and variants, never buffers.
#pragma once

#include "engine/model_config.h"
#include "engine/weights.h"

#include <cstdint>
#include <span>

namespace orcd {

// The rows a forward pass computes: token i sits at position pos[i] of
// sequence slot seq[i] of the KV cache. Logits are produced for the last
// row.
struct Batch {
    std::span<const int32_t> tokens;
    std::span<const uint32_t> pos;
    std::span<const uint32_t> seq;
    uint32_t size() const { return uint32_t(tokens.size()); }
    // True when all rows are one sequence at consecutive positions (a prompt
    // chunk or a decode step of one job).
    bool contiguous() const;
};

// A projection y = W x (+ b); b may be empty.
struct Linear {
    const TensorView& w;
    const TensorView& b;
};

struct NormSpec {
    NormKind kind;
    float eps;
    const TensorView& w;
    const TensorView& b;  // LayerNorm bias (may be empty)
};

struct AttentionSpec {
    float scale;                // scores = q.k * scale
    uint32_t window = 0;        // 0 = whole causal context
    const TensorView& sinks;    // per-head sink logits (may be empty)
};

struct FfnSpec {
    Activation act;
    const TensorView& w_gate;  // empty for Gelu
    const TensorView& b_gate;
    const TensorView& w_up;
    const TensorView& b_up;
    const TensorView& w_down;
    const TensorView& b_down;
};

// Mixture of experts over h: router logits r = R h + br; the top n_used by
// raw logit, weights softmax over the selected logits; each expert e is an
// FfnSpec-like triple (stacked weights, row blocks per expert).
struct MoeSpec {
    uint32_t n_used;
    Activation act;
    const TensorView& router;
    const TensorView& router_b;
    const TensorView& gate;
    const TensorView& gate_b;
    const TensorView& up;
    const TensorView& up_b;
    const TensorView& down;
    const TensorView& down_b;
};

class Ops {
public:
    virtual ~Ops() = default;

    // x = tok_embd[token] (+ pos_embd[position] when given).
    virtual void embed(const TensorView& tok_embd, const TensorView& pos_embd) = 0;
    // h = norm(x).
    virtual void norm(const NormSpec& n) = 0;
    // q = Wq h + bq, k = Wk h + bk, v = Wv h + bv.
    virtual void qkv(const Linear& q, const Linear& k, const Linear& v) = 0;
    // Rotates q and k of every row by its position, then stores k and v in
    // layer `layer` of the cache at each row's (sequence, position).
    virtual void rope_store_kv(uint32_t layer, const RopeConfig& rope) = 0;
    // att = softmax(q.K * scale + causal/window mask [+ sink]) V over the
    // row's sequence in the cache, GQA by contiguous head groups.
    virtual void attention(uint32_t layer, const AttentionSpec& a) = 0;
    // x += Wo att + bo.
    virtual void out_proj_add(const Linear& o) = 0;
    // x += W_down act(W_gate h + b_gate, W_up h + b_up) + b_down.
    virtual void ffn(const FfnSpec& f) = 0;
    // x += sum over the selected experts of weight * expert(h).
    virtual void moe(const MoeSpec& m) = 0;
    // logits = W norm(x of the last row) + b.
    virtual void logits(const NormSpec& n, const Linear& out) = 0;
};

}  // namespace orcd
