// Reference math of the forward passes, in F32 on the host.
//
// These functions are the ground truth: the CPU backend is built from them
// and every CUDA kernel is tested against them. They favour clarity and a
// fixed summation order (each output element is summed left to right in one
// thread), which also makes them deterministic under OpenMP.
#pragma once

#include "engine/model_config.h"
#include "engine/weights.h"

#include <cstdint>

namespace orcd::cpu {

// out[i] = x[i] / sqrt(mean(x^2) + eps) * w[i], for i < n.
void rmsnorm(float* out, const float* x, const float* w, uint32_t n, float eps);

// out[i] = (x[i] - mean) / sqrt(var + eps) * w[i] + b[i] (biased variance;
// b may be null).
void layernorm(float* out, const float* x, const float* w, const float* b, uint32_t n, float eps);

// out[t][r] = sum_i W[r][i] * x[t][i]   for t < n_tokens, r < W.ne1.
// x is [n_tokens][W.ne0], out is [n_tokens][W.ne1]; W in any format of the
// CPU format table (cpu_formats.h): each row decoded exactly to F32, F32
// accumulation in index order.
void matmul(float* out, const float* x, const TensorView& W, uint32_t n_tokens);

// y[t][r] += b[r] for t < n_tokens, r < n.
void add_bias(float* y, const float* b, uint32_t n_tokens, uint64_t n);

// Row `row` of a weight matrix as F32 (embedding lookup).
void get_row(float* out, const TensorView& W, uint64_t row);

// RoPE in GGUF llama convention ("normal" mode, adjacent pairs): for each
// head and each pair i < rope_dim/2, (x[2i], x[2i+1]) is rotated by
// theta = pos * freq_base^(-2i / rope_dim). Dimensions >= rope_dim are left.
void rope(float* x, uint32_t n_heads, uint32_t head_dim, uint32_t rope_dim, uint32_t pos,
          float freq_base);

// RoPE of any mode of a model (engine/model_config.h): normal pairs
// (x[2i], x[2i+1]) or NEOX pairs (x[i], x[i + dims/2]), with linear or YaRN
// scaling. With no scaling and normal mode it equals rope() above bit for bit.
void rope(float* x, uint32_t n_heads, uint32_t head_dim, uint32_t pos, const RopeConfig& cfg);

// The angle and the (cos, sin) multipliers of pair i at `pos`.
void rope_angle(uint32_t pos, uint32_t i, const RopeConfig& cfg, float& cos_out, float& sin_out);

// One query row of causal grouped-query attention: q [n_head][head_dim] at
// position `pos`, over the keys [lo, pos] of one sequence's cache blocks
// k, v ([n_ctx][n_head_kv][head_dim]), lo = pos + 1 - window when a window
// is set (and 0 before the window fills). Query head h reads KV head
// h / (n_head / n_head_kv). scores = q.k * scale; with sinks, sink[h] joins
// the softmax's denominator (it carries no value).
struct AttentionShape {
    uint32_t n_head, n_head_kv, head_dim;
    float scale;
    uint32_t window;      // 0 = no window
    const float* sinks;   // [n_head] or null
};
void attention_row(float* out, const float* q, const float* k, const float* v, uint32_t pos, const AttentionShape& s);

// Causal GQA attention for n_tokens queries at positions pos0..pos0+n-1
// of one sequence, scale 1/sqrt(head_dim), no window or sinks:
//   q:   [n_tokens][n_head][head_dim], out: the same
//   k,v: the cache blocks of one layer, [n_ctx][n_head_kv][head_dim]
void attention(float* out, const float* q, const float* k, const float* v, uint32_t n_tokens,
               uint32_t pos0, uint32_t n_head, uint32_t n_head_kv, uint32_t head_dim);

// out[i] = silu(gate[i]) * up[i], silu(x) = x / (1 + exp(-x)).
void swiglu(float* out, const float* gate, const float* up, uint64_t n);

// GPT-OSS's clamped SwiGLU: g' = min(gate, 7), u' = clamp(up, -7, 7),
// out = g' / (1 + exp(-1.702 g')) * (u' + 1).
void swiglu_oai(float* out, const float* gate, const float* up, uint64_t n);

// out[i] = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (GELU, tanh form).
void gelu(float* out, const float* x, uint64_t n);

// x[i] += y[i].
void add_inplace(float* x, const float* y, uint64_t n);

// The n_used largest of logits[0..n) (ties: the lower index first), in
// descending order, and their softmax weights (over the selected logits
// only).
void top_k_softmax(const float* logits, uint32_t n, uint32_t n_used, int32_t* ids, float* weights);

}  // namespace orcd::cpu
