// Prefill attention (n_tokens > 1) on tensor cores through cuBLAS, per layer:
//   q16 = F16(q)                                   [n][n_head][head_dim]
//   S_h = scale * q16_h K_{h/group}^T              F32 [n][keys], keys = pos0 + n
//   P_h = causal softmax of each row of S_h        F16 (keys past t's position: 0)
//   out[t][h] = P_h V_{h/group}                    F32, straight into [n][n_head][head_dim]
// The products are strided-batched GEMMs over the KV heads of a pass (one
// call per position i in the GQA group, so every stride is uniform); S and P
// live in one workspace allocated at load. Query heads are processed in
// passes of whole KV-head groups, and a chunk deep in a long context in
// sub-chunks of its query rows, so that the workspace stays under a cap
// whatever the context (the rows of a causal softmax are independent).
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

// The workspace, sized at load for the largest chunk: q16 of max_batch
// tokens, then S and P of as many rows as the cap (or the largest chunk at
// the full context) allows.
struct PrefillAttentionPlan {
    uint32_t n_head = 0, n_head_kv = 0, head_dim = 0, max_batch = 0, n_ctx = 0;
    uint64_t s_offset = 0;  // where S (then P) begins: after q16
    uint64_t bytes = 0;     // the whole workspace; 0: the path is off
    bool enabled() const { return bytes > 0; }
};

// Off (enabled() false, bytes 0) when max_batch < 2, when the sizes exceed
// cuBLAS's int arguments, or when even one query row of one KV head's group
// at the full context does not fit the cap: the attention kernel then serves
// prefill.
PrefillAttentionPlan plan_prefill_attention(uint32_t n_head, uint32_t n_head_kv, uint32_t head_dim, uint32_t max_batch,
                                            uint32_t n_ctx, uint64_t cap = kPrefillAttentionCap);

// How one chunk is cut to fit the workspace: its query rows in equal
// sub-chunks of at most `rows` (each over the keys up to its own last
// position), each sub-chunk's KV heads in equal passes of at most
// `kv_per_pass`. S and P grow with the keys, so a chunk deep in a long
// context takes more passes or sub-chunks than one near its start; the
// workspace does not grow with the context. A pure function of the
// shapes, so a request always takes the same path. rows == 0: the chunk
// cannot be served (the plan is off).
struct PrefillSplit {
    uint32_t rows = 0, kv_per_pass = 0;
};
PrefillSplit prefill_split(const PrefillAttentionPlan& plan, uint32_t n_tokens, uint32_t pos0);

// Whether a chunk of n_tokens queries at pos0 is worth the cuBLAS path:
// each pass issues 2 x (GQA group) batched products, so a small chunk on a
// narrow model pays more in calls than it saves (measured on an H200:
// TinyLlama-shape pp128 fell from 39k to 17k tok/s while 7B pp128 gained).
bool prefill_attention_pays_off(const PrefillAttentionPlan& plan, uint32_t n_tokens, uint32_t pos0);

// cpu::attention for n_tokens (2..plan.max_batch) queries at positions
// pos0.. (pos0 + n_tokens <= plan.n_ctx) over one layer's F16 cache blocks k,
// v ([n_ctx][n_head_kv][head_dim]), on gemm's stream, cut as prefill_split
// says. `ws` holds plan.bytes.
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
