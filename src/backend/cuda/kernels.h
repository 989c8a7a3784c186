// Host-side launchers of the CUDA kernels of the Llama forward pass. Each one
// computes the function of the same name in backend/cpu/cpu_ops.h (the
// reference), on device pointers, asynchronously on `stream`, and checks the
// launch. Activations are F32; the KV cache holds F16 (raw binary16 bits as
// uint16_t on the host side). Every reduction has a fixed order: one thread
// sums a fixed subset in index order, then a fixed shuffle/shared-memory
// tree combines the partial sums. No atomic decides a sum.
#pragma once

#include "engine/kv_cache.h"
#include "gguf/gguf.h"

#include <cuda_runtime_api.h>

#include <cstdint>

namespace orcd::cuda {

using f16_bits = uint16_t;

// out[t][:] = F32(table row ids[t]); table is [n_rows][row_len] F32 or F16.
void embedding(float* out, const void* table, gguf::TensorType type, uint64_t row_len, const int32_t* ids,
               uint32_t n_tokens, cudaStream_t stream);

// Row-wise RMSNorm of x [n_rows][n] into out (may alias x).
void rmsnorm(float* out, const float* x, const float* w, uint32_t n_rows, uint32_t n, float eps,
             cudaStream_t stream);

// Positions: the kernels that depend on the position take a host value
// `pos0` plus, when `dev_pos` is given, the device word *dev_pos (read when
// the kernel runs). The forward pass keeps the position in device memory
// (set_step) so that one captured decode graph serves every step.

// ids[0] = token, *dev_pos = pos: the per-step inputs of the forward pass.
void set_step(int32_t* ids, uint32_t* dev_pos, int32_t token, uint32_t pos, cudaStream_t stream);

// RoPE in place on x [n_tokens][n_heads][head_dim]; token t sits at pos0 + t.
void rope(float* x, uint32_t n_tokens, uint32_t n_heads, uint32_t head_dim, uint32_t rope_dim, uint32_t pos0,
          float freq_base, cudaStream_t stream);

// rope() of q ([n_tokens][n_head][head_dim], in place) and of k, then
// store_kv() of the rotated k and of v, in one launch with the same floats
// as the three separate calls (which remain as the tested reference). k
// itself is not modified. Token t sits at pos0 (+ *dev_pos) + t.
void rope_store_kv(float* q, const float* k, const float* v, f16_bits* cache, const KvLayout& layout, uint32_t layer,
                   uint32_t n_tokens, uint32_t n_head, uint32_t rope_dim, float freq_base, uint32_t pos0,
                   cudaStream_t stream, const uint32_t* dev_pos = nullptr);

// out[i] = silu(gate[i]) * up[i] (out may alias gate).
void swiglu(float* out, const float* gate, const float* up, uint64_t n, cudaStream_t stream);

// x[i] += y[i].
void add_inplace(float* x, const float* y, uint64_t n, cudaStream_t stream);

// x[i] = x[i] / temperature (temperature > 0).
void scale_temperature(float* x, uint64_t n, float temperature, cudaStream_t stream);

// out[i] = binary16(x[i]), round to nearest even.
void to_f16(f16_bits* out, const float* x, uint64_t n, cudaStream_t stream);

// Writes n_tokens rows of K and V (each [n_tokens][n_head_kv * head_dim] F32)
// into layer `layer` of the cache at positions [pos, pos + n_tokens), as F16.
void store_kv(f16_bits* cache, const KvLayout& layout, uint32_t layer, uint32_t pos, const float* k, const float* v,
              uint32_t n_tokens, cudaStream_t stream);

// out[0] = index of the largest x[i], the lowest index on ties (NaN never
// wins); out[1] = 1 when some x[i] is NaN, else 0.
void argmax(int32_t* out, const float* x, uint32_t n, cudaStream_t stream);

// Repetition penalty on logits for each of the n distinct ids: a positive
// logit is divided by penalty, a negative one multiplied.
void repetition_penalty(float* logits, uint32_t n_vocab, const int32_t* ids, uint32_t n, float penalty,
                        cudaStream_t stream);

// Causal grouped-query attention (cpu::attention) reading one layer's F16
// cache blocks k, v ([n_ctx][n_head_kv][head_dim]): n_tokens queries at
// positions pos0.., each over keys [0, its position]. For a single query over
// a long context, the keys are split across blocks (flash-decoding) and the
// partial results merged in a fixed order; `split_ws` must then hold
// attention_split_floats() floats (it may be null when n_tokens > 1).
// The split depends only on the number of keys, and is computed on the
// device: the grid holds enough splits for `max_keys` keys (with dev_pos;
// without it, exactly pos0 + n_tokens), and blocks past the split count of
// the actual context leave at once.
void attention(float* out, const float* q, const f16_bits* k, const f16_bits* v, uint32_t n_tokens, uint32_t pos0,
               uint32_t n_head, uint32_t n_head_kv, uint32_t head_dim, float* split_ws, cudaStream_t stream,
               const uint32_t* dev_pos = nullptr, uint32_t max_keys = 0);
uint64_t attention_split_floats(uint32_t n_head, uint32_t head_dim);

}  // namespace orcd::cuda
