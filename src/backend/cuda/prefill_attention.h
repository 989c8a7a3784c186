// Prefill attention (n_tokens > 1) on tensor cores through cuBLAS, per layer:
//   q16 = F16(q)                                   [n][n_head][head_dim]
//   S_h = scale * q16_h K_{h/group}^T              F32 [n][keys], keys = pos0 + n
//   P_h = causal softmax of each row of S_h        F16 (keys past t's position: 0)
//   out[t][h] = P_h V_{h/group}                    F32, straight into [n][n_head][head_dim]
// The products are strided-batched GEMMs over the KV heads of a pass (one
// call per position i in the GQA group, so every stride is uniform); S and P
// live in one workspace allocated at load. Query heads are processed in
// passes of whole KV-head groups so that the workspace stays under a cap.
// Deterministic: cuBLAS with the Gemm settings (fixed workspace, default
// algorithm, no atomics) on the same shapes, a softmax with a fixed
// reduction tree per row.
//
// Precision against cpu::attention: q and p are rounded to F16 (relative
// 2^-11 each); see tests/gpu for the bound.
#pragma once

#include "backend/cuda/kernels.h"

#include <cuda_runtime_api.h>

#include <cstdint>

namespace orcd::cuda {

class Gemm;

// The S + P (+ q16) workspace never exceeds this.
constexpr uint64_t kPrefillAttentionCap = 256ull << 20;

struct PrefillAttentionPlan {
    uint32_t n_head = 0, n_head_kv = 0, head_dim = 0, max_batch = 0, n_ctx = 0;
    uint32_t kv_per_pass = 0;  // KV heads (with their query heads) per pass; 0: the path is off
    uint64_t key_ld = 0;       // the longest row stride of S and P: n_ctx rounded up to 8
    uint64_t s_offset = 0, p_offset = 0, bytes = 0;  // workspace layout: q16 | S | P
    bool enabled() const { return kv_per_pass > 0; }
};

// Off (enabled() false, bytes 0) when max_batch < 2, when the sizes exceed
// cuBLAS's int arguments, or when even one KV head's S and P do not fit the
// cap: the attention kernel then serves prefill.
PrefillAttentionPlan plan_prefill_attention(uint32_t n_head, uint32_t n_head_kv, uint32_t head_dim, uint32_t max_batch,
                                            uint32_t n_ctx, uint64_t cap = kPrefillAttentionCap);

// Whether a chunk of n_tokens queries over n_keys keys is worth the cuBLAS
// path: each pass issues 2 x (GQA group) batched products, so a small chunk
// on a narrow model pays more in calls than it saves (measured on an H200:
// TinyLlama-shape pp128 fell from 39k to 17k tok/s while 7B pp128 gained).
// A pure function of the shapes, so a request always takes the same path.
bool prefill_attention_pays_off(const PrefillAttentionPlan& plan, uint32_t n_tokens, uint32_t n_keys);

// cpu::attention for n_tokens (2..plan.max_batch) queries at positions
// pos0.. (pos0 + n_tokens <= plan.n_ctx) over one layer's F16 cache blocks k,
// v ([n_ctx][n_head_kv][head_dim]), on gemm's stream. `ws` holds plan.bytes.
// params: the score scale (0: 1/sqrt(head_dim)), sliding window and sinks
// as attention() takes them.
void prefill_attention(Gemm& gemm, const PrefillAttentionPlan& plan, void* ws, float* out, const float* q,
                       const f16_bits* k, const f16_bits* v, uint32_t n_tokens, uint32_t pos0,
                       const AttentionParams& params = {});

// p[r][t][j] = softmax over lo <= j <= pos0 + t of s[r][t][:] (F16), 0
// for the other j < n_keys; rows of stride ld, r < n_heads. lo = pos0 + t + 1
// - window when a window is set and filled, else 0; with sinks, the sink of
// head head_base + r joins the denominator. One block per row.
void causal_softmax_f16(f16_bits* p, const float* s, uint32_t n_heads, uint32_t n_tokens, uint32_t pos0,
                        uint32_t n_keys, uint64_t ld, cudaStream_t stream, uint32_t window = 0,
                        const float* sinks = nullptr, uint32_t head_base = 0);

}  // namespace orcd::cuda
