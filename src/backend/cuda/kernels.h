// Host-side launchers of the CUDA kernels of the forward passes. Each one
// computes the function of the same name in backend/cpu/cpu_ops.h (the
// reference), on device pointers, asynchronously on `stream`, and checks the
// launch. Activations are F32; the KV cache holds F16 (raw binary16 bits as
// uint16_t on the host side). Every reduction has a fixed order: one thread
// sums a fixed subset in index order, then a fixed shuffle/shared-memory
// tree combines the partial sums. No atomic decides a sum.
//
// Sources by op family: norm.cu, rope.cu, elementwise.cu, embedding.cu,
// attention.cu, matvec*.cu (formats.h), sampling_kernels.cu.
#pragma once

#include "engine/kv_cache.h"
#include "engine/model_config.h"
#include "gguf/gguf.h"

#include <cuda_runtime_api.h>

#include <cstdint>

namespace orcd::cuda {

using f16_bits = uint16_t;

// ---- embedding.cu -----------------------------------------------------------

// out[t][:] = F32(table row ids[t]); table is [n_rows][row_len] in any format
// of the CUDA format table (formats.h), decoded exactly.
void embedding(float* out, const void* table, gguf::TensorType type, uint64_t row_len, const int32_t* ids,
               uint32_t n_tokens, cudaStream_t stream);
// out[t][:] += F32 table row (pos0 (+ *dev_pos) + t) (learned positions).
void add_position_embedding(float* out, const float* table, uint64_t row_len, uint32_t n_tokens, uint32_t pos0,
                            const uint32_t* dev_pos, cudaStream_t stream);

// ---- norm.cu ------------------------------------------------------------------

// Row-wise RMSNorm of x [n_rows][n] into out (may alias x).
void rmsnorm(float* out, const float* x, const float* w, uint32_t n_rows, uint32_t n, float eps,
             cudaStream_t stream);
// Row-wise LayerNorm (w, b; b may be null) as cpu::layernorm.
void layernorm(float* out, const float* x, const float* w, const float* b, uint32_t n_rows, uint32_t n, float eps,
               cudaStream_t stream);

// ---- rope.cu --------------------------------------------------------------------

// Positions: the kernels that depend on the position take a host value
// `pos0` plus, when `dev_pos` is given, the device word *dev_pos (read when
// the kernel runs). The forward pass keeps the position in device memory
// (set_step) so that one captured decode graph serves every step.

// ids[0] = token, *dev_pos = pos: the per-step inputs of the forward pass.
void set_step(int32_t* ids, uint32_t* dev_pos, int32_t token, uint32_t pos, cudaStream_t stream);
// The same for a step started before the host has its token: ids[0] =
// *dev_token (where the sampler left it), and in the same launch the n
// floats of `from` (the sampled logits, which the step overwrites) copied
// to `keep`; n may be 0.
void set_step_ahead(int32_t* ids, uint32_t* dev_pos, const int32_t* dev_token, uint32_t pos, float* keep,
                    const float* from, uint32_t n, cudaStream_t stream);

// RoPE in place on x [n_tokens][n_heads][head_dim]; token t sits at pos0 + t.
void rope(float* x, uint32_t n_tokens, uint32_t n_heads, uint32_t head_dim, const RopeConfig& cfg, uint32_t pos0,
          cudaStream_t stream);
// Normal mode without scaling (the Llama convention).
void rope(float* x, uint32_t n_tokens, uint32_t n_heads, uint32_t head_dim, uint32_t rope_dim, uint32_t pos0,
          float freq_base, cudaStream_t stream);

// rope() of q ([n_tokens][n_head][head_dim], in place) and of k, then
// store_kv() of the rotated k and of v into sequence slot `seq`, in one
// launch with the same floats as the separate calls (which remain as the
// tested reference). k itself is not modified. Token t sits at pos0
// (+ *dev_pos) + t.
void rope_store_kv(float* q, const float* k, const float* v, f16_bits* cache, const KvLayout& layout, uint32_t layer,
                   uint32_t seq, uint32_t n_tokens, uint32_t n_head, const RopeConfig& cfg, uint32_t pos0,
                   cudaStream_t stream, const uint32_t* dev_pos = nullptr);
// Slot 0, normal mode without scaling.
void rope_store_kv(float* q, const float* k, const float* v, f16_bits* cache, const KvLayout& layout, uint32_t layer,
                   uint32_t n_tokens, uint32_t n_head, uint32_t rope_dim, float freq_base, uint32_t pos0,
                   cudaStream_t stream, const uint32_t* dev_pos = nullptr);

// ---- elementwise.cu -------------------------------------------------------------

// out[i] = silu(gate[i]) * up[i] (out may alias gate).
void swiglu(float* out, const float* gate, const float* up, uint64_t n, cudaStream_t stream);
// cpu::swiglu_oai (out may alias gate).
void swiglu_oai(float* out, const float* gate, const float* up, uint64_t n, cudaStream_t stream);
// cpu::gelu (out may alias x).
void gelu(float* out, const float* x, uint64_t n, cudaStream_t stream);

// x[i] += y[i].
void add_inplace(float* x, const float* y, uint64_t n, cudaStream_t stream);
// y[t][r] += b[r] for t < n_rows, r < n.
void add_bias(float* y, const float* b, uint32_t n_rows, uint64_t n, cudaStream_t stream);

// x[i] = x[i] / temperature (temperature > 0).
void scale_temperature(float* x, uint64_t n, float temperature, cudaStream_t stream);

// out[i] = binary16(x[i]), round to nearest even.
void to_f16(f16_bits* out, const float* x, uint64_t n, cudaStream_t stream);

// Writes n_tokens rows of K and V (each [n_tokens][n_head_kv * head_dim] F32)
// into layer `layer`, slot 0 of the cache at positions [pos, pos + n_tokens),
// as F16.
void store_kv(f16_bits* cache, const KvLayout& layout, uint32_t layer, uint32_t pos, const float* k, const float* v,
              uint32_t n_tokens, cudaStream_t stream);

// ---- sampling_kernels.cu ----------------------------------------------------------

// out[0] = index of the largest x[i], the lowest index on ties (NaN never
// wins); out[1] = 1 when some x[i] is NaN, else 0. out holds
// kArgmaxOutInts: the rest is the blocks' parts of the search (two launches:
// up to kArgmaxParts blocks, then one that combines their results).
constexpr uint32_t kArgmaxParts = 128;
constexpr uint32_t kArgmaxOutInts = 2 + 3 * kArgmaxParts;
void argmax(int32_t* out, const float* x, uint32_t n, cudaStream_t stream);

// Repetition penalty on logits for each of the n distinct ids: a positive
// logit is divided by penalty, a negative one multiplied.
void repetition_penalty(float* logits, uint32_t n_vocab, const int32_t* ids, uint32_t n, float penalty,
                        cudaStream_t stream);
// OpenAI's presence/frequency penalty (docs/sampling.md, step 1b) on n
// distinct ids with their counts: l = l - float(count) * frequency, then
// l = l - presence, each one rounded float operation.
void presence_frequency_penalty(float* logits, uint32_t n_vocab, const int32_t* ids, const int32_t* counts,
                                uint32_t n, float presence, float frequency, cudaStream_t stream);

// ---- moe_route.cu -----------------------------------------------------------------

// cpu::top_k_softmax for each of n_tokens rows of router logits
// ([n_tokens][n_expert]): ids and weights [n_tokens][n_used], n_used <= 8.
void moe_route(const float* logits, uint32_t n_expert, uint32_t n_used, int32_t* ids, float* weights,
               uint32_t n_tokens, cudaStream_t stream);

// A prompt chunk's (token, slot) pairs grouped by expert, on the device (no
// round trip to the host): for the n_pairs = n_tokens * n_used selections
// ids, sorted by expert and within an expert by pair (stable),
//   order[q]             the token of grouped row q,
//   order[n_pairs + p]   the grouped row of pair p,
//   order[2 n_pairs + q] the expert of grouped row q;
// and the tile table of the grouped expert products (formats.h
// MoeGroupedArgs): tiles[0] = n, then n triples (expert, first grouped row,
// rows <= tile_rows), the tiles of each expert in order. n_expert <= 256.
// A tile multiplies its full height whatever its count: 64 rows, or 16 when
// a chunk's experts average 16 rows or fewer (moe_tile_rows).
constexpr uint32_t kMoeTileRowsSmall = 16, kMoeTileRowsLarge = 64;
inline uint32_t moe_tile_rows(uint32_t n_pairs, uint32_t n_expert) {
    return n_pairs > kMoeTileRowsSmall * n_expert ? kMoeTileRowsLarge : kMoeTileRowsSmall;
}
inline uint32_t moe_max_tiles(uint32_t n_pairs, uint32_t n_expert, uint32_t tile_rows) {
    return (n_pairs + tile_rows - 1) / tile_rows + n_expert;
}
void moe_sort(const int32_t* ids, uint32_t n_pairs, uint32_t n_used, uint32_t n_expert, uint32_t tile_rows,
              int32_t* order, int32_t* tiles, cudaStream_t stream);

// out[p][:] = x[rows[p]][:] for p < n_rows (rows of `cols` floats).
void moe_gather(float* out, const float* x, const int32_t* rows, uint32_t n_rows, uint32_t cols, cudaStream_t stream);

// y[q][c] += bias[expert[q]][c] for q < n_rows, c < cols: each grouped row's
// expert bias (one launch for every expert of a layer).
void moe_add_bias(float* y, const float* bias, const int32_t* expert, uint32_t n_rows, uint32_t cols,
                  cudaStream_t stream);

// x[t][:] += sum over j < n_used of weights[t][j] * y[slot[t][j]][:], summed
// in selection order as the expert kernels do (formats.h MoeDownArgs).
void moe_combine(float* x, const float* y, const int32_t* slot, const float* weights, uint32_t n_tokens,
                 uint32_t n_used, uint32_t cols, cudaStream_t stream);

// ---- attention.cu ---------------------------------------------------------------

// What varies between models in attention: the score scale, a sliding
// window (a query at p sees keys [p + 1 - window, p]; 0 = whole context),
// and per-head sink logits (F32 [n_head], joining the softmax's denominator
// with no value; null = none).
struct AttentionParams {
    float scale = 0.0f;  // 0: 1/sqrt(head_dim)
    uint32_t window = 0;
    const float* sinks = nullptr;
};

// Causal grouped-query attention (cpu::attention_row per query) reading one
// layer's (one slot's) F16 cache blocks k, v ([n_ctx][n_head_kv][head_dim]):
// n_tokens queries at positions pos0.., each over keys [lo, its position].
// For a single query over a long context, the keys are split across blocks
// (flash-decoding) and the partial results merged in a fixed order;
// `split_ws` must then hold attention_split_floats() floats (it may be null
// when n_tokens > 1). The split depends only on the number of keys, and is
// computed on the device: the grid holds enough splits for `max_keys` keys
// (with dev_pos; without it, exactly pos0 + n_tokens), and blocks past the
// split count of the actual context leave at once.
void attention(float* out, const float* q, const f16_bits* k, const f16_bits* v, uint32_t n_tokens, uint32_t pos0,
               uint32_t n_head, uint32_t n_head_kv, uint32_t head_dim, float* split_ws, cudaStream_t stream,
               const uint32_t* dev_pos = nullptr, uint32_t max_keys = 0, const AttentionParams& params = {});
// attention() of one query (the decode step: position *dev_pos) with
// rope_store_kv()'s work in the same kernel: q rotated as it is staged, and
// the new rows k (rotated) and v rounded to F16 into the cache by the blocks
// that read them, before they do. The same bits as the two calls, one launch
// fewer. The kernel reads the position and the cached rows before the
// query's own before its wait, so they must have been written at least two
// launches earlier (launch.cuh), as in a decode step. Returns false, doing
// nothing, where the decode kernel does not apply (head_dim; no dev_pos):
// the caller makes the two calls.
bool attention_rope_store(float* out, const float* q, const float* k, const float* v, f16_bits* k_cache,
                          f16_bits* v_cache, uint32_t n_head, uint32_t n_head_kv, uint32_t head_dim, float* split_ws,
                          cudaStream_t stream, const uint32_t* dev_pos, uint32_t max_keys,
                          const AttentionParams& params, const RopeConfig& rope);
uint64_t attention_split_floats(uint32_t n_head, uint32_t head_dim);
// The split workspace ends in counters that must be zero before its first
// use (every call leaves them zero): after allocating it, or poisoning it.
void attention_split_reset(float* split_ws, uint32_t n_head, uint32_t head_dim, cudaStream_t stream);

}  // namespace orcd::cuda
