// Reference math of the Llama forward pass, in F32 on the host.
//
// These functions are the ground truth: the CPU backend is built from them
// and every CUDA kernel is tested against them. They favour clarity and a
// fixed summation order (each output element is summed left to right in one
// thread), which also makes them deterministic under OpenMP.
#pragma once

#include "engine/weights.h"

#include <cstdint>

namespace orcd::cpu {

// out[i] = x[i] / sqrt(mean(x^2) + eps) * w[i], for i < n.
void rmsnorm(float* out, const float* x, const float* w, uint32_t n, float eps);

// out[t][r] = sum_i W[r][i] * x[t][i]   for t < n_tokens, r < W.ne1.
// x is [n_tokens][W.ne0], out is [n_tokens][W.ne1]; W is F32 or F16
// (FP16 converted exactly to F32, FP32 accumulation).
void matmul(float* out, const float* x, const TensorView& W, uint32_t n_tokens);

// Row `row` of a weight matrix as F32 (embedding lookup).
void get_row(float* out, const TensorView& W, uint64_t row);

// RoPE, GGUF llama convention ("normal" mode, adjacent pairs): for each head
// and each pair i < rope_dim/2, (x[2i], x[2i+1]) is rotated by
// theta = pos * freq_base^(-2i / rope_dim). Dimensions >= rope_dim are left.
void rope(float* x, uint32_t n_heads, uint32_t head_dim, uint32_t rope_dim, uint32_t pos,
          float freq_base);

// Causal grouped-query attention for n_tokens queries at positions
// pos0..pos0+n_tokens-1, over keys/values at positions [0, pos]:
//   q:   [n_tokens][n_head][head_dim]
//   k,v: the cache blocks of one layer, [n_ctx][n_head_kv][head_dim]
//   out: [n_tokens][n_head][head_dim]
// Query head h reads KV head h / (n_head / n_head_kv). Scale 1/sqrt(head_dim).
void attention(float* out, const float* q, const float* k, const float* v, uint32_t n_tokens,
               uint32_t pos0, uint32_t n_head, uint32_t n_head_kv, uint32_t head_dim);

// out[i] = silu(gate[i]) * up[i], silu(x) = x / (1 + exp(-x)).
void swiglu(float* out, const float* gate, const float* up, uint64_t n);

// x[i] += y[i].
void add_inplace(float* x, const float* y, uint64_t n);

}  // namespace orcd::cpu
