#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernels.h"
#include "backend/cuda/launch.cuh"
#include "backend/cuda/pointwise.cuh"

#include <cuda_fp16.h>

#include <algorithm>

namespace orcd::cuda {
namespace {

constexpr int kHeadThreads = 64;  // a block per head: head_dim / 2 pairs of q, head_dim elements of k and v

__device__ __forceinline__ uint32_t position(uint32_t pos0, const uint32_t* dev_pos) {
    return dev_pos ? pos0 + *dev_pos : pos0;
}

__global__ void set_step_kernel(int32_t* ids, uint32_t* dev_pos, int32_t token, const int32_t* dev_token,
                                uint32_t pos, float* keep, const float* from, uint32_t n) {
    kernel_begin();
    if (blockIdx.x == 0 && threadIdx.x == 0) {
        ids[0] = dev_token ? *dev_token : token;
        *dev_pos = pos;
    }
    for (uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) keep[i] = from[i];
}

// Rotates the pairs of n_heads heads of one token row in place; threads walk
// (head, pair).
__device__ __forceinline__ void rope_row(float* xt, uint32_t n_heads, uint32_t head_dim, const RopeConfig& r,
                                         float pos) {
    const uint32_t pairs = r.mode == RopeMode::None ? 0 : r.dims / 2;
    for (uint32_t j = threadIdx.x; j < n_heads * pairs; j += blockDim.x) {
        const uint32_t h = j / pairs, i = j % pairs;
        const uint32_t d = r.mode == RopeMode::Neox ? i : 2 * i;  // the pair's first element
        uint32_t e0, e1;
        bool second;
        rope_partner(r.mode, r.dims, d, h * head_dim, e0, e1, second);
        const float a = xt[e0], b = xt[e1];
        rope_pair(a, b, pos, i, r, xt[e0], xt[e1]);
    }
}

__global__ void rope_kernel(float* x, uint32_t n_heads, uint32_t head_dim, RopeConfig r, uint32_t pos0) {
    kernel_begin();
    // block: one token.
    const uint32_t t = blockIdx.x;
    rope_row(x + uint64_t(t) * n_heads * head_dim, n_heads, head_dim, r, float(pos0 + t));
}

// rope() of q and k plus store_kv() in one launch: block (t, h) rotates q
// head h of token t (h < n_head) or stores K/V head h - n_head of it in the
// cache. One block per head, not per token: a decode step is one token, and
// one block walking every head computed its angles serially on one
// multiprocessor. The rotated k goes straight to the cache (k itself is left
// as it was); each thread computes the pair of the element it stores, so no
// thread reads what another writes.
__global__ void rope_store_kernel(float* q, const float* k, const float* v, __half* kc, __half* vc, uint32_t n_head,
                                  uint32_t n_head_kv, uint32_t head_dim, RopeConfig r, uint32_t pos0,
                                  const uint32_t* dev_pos) {
    kernel_begin();
    const uint32_t t = blockIdx.x, h = blockIdx.y;
    const uint32_t p = position(pos0, dev_pos) + t;
    const float pos = float(p);
    if (h < n_head) {
        rope_row(q + (uint64_t(t) * n_head + h) * head_dim, 1, head_dim, r, pos);
        return;
    }
    const uint32_t rotated = r.mode == RopeMode::None ? 0 : r.dims;
    const uint64_t row = uint64_t(n_head_kv) * head_dim, head = uint64_t(h - n_head) * head_dim;
    const float* kt = k + uint64_t(t) * row + head;
    const float* vt = v + uint64_t(t) * row + head;
    __half* kd = kc + uint64_t(p) * row + head;
    __half* vd = vc + uint64_t(p) * row + head;
    for (uint32_t d = threadIdx.x; d < head_dim; d += blockDim.x) {
        float val = kt[d];
        if (d < rotated) {
            uint32_t e0, e1;
            bool second;
            const uint32_t i = rope_partner(r.mode, r.dims, d, 0, e0, e1, second);
            float o0, o1;
            rope_pair(kt[e0], kt[e1], pos, i, r, o0, o1);
            val = second ? o1 : o0;
        }
        kd[d] = __float2half_rn(val);
        vd[d] = __float2half_rn(vt[d]);
    }
}

RopeConfig normal_rope(uint32_t rope_dim, float freq_base) {
    RopeConfig r;
    r.mode = RopeMode::Normal;
    r.dims = rope_dim;
    r.freq_base = freq_base;
    return r;
}

}  // namespace

void set_step(int32_t* ids, uint32_t* dev_pos, int32_t token, uint32_t pos, cudaStream_t stream) {
    launch(set_step_kernel, 1, 1, 0, stream, ids, dev_pos, token, nullptr, pos, nullptr, nullptr, 0u);
    check_launch("set_step");
}

void set_step_ahead(int32_t* ids, uint32_t* dev_pos, const int32_t* dev_token, uint32_t pos, float* keep,
                    const float* from, uint32_t n, cudaStream_t stream) {
    // One launch instead of a copy and a launch: each is a serial hop
    // between two decode steps. A 152k vocabulary is ~2 rounds of 264 blocks.
    const uint32_t blocks = std::clamp<uint32_t>((n + 255) / 256, 1, 264);
    launch(set_step_kernel, blocks, 256, 0, stream, ids, dev_pos, 0, dev_token, pos, keep, from, n);
    check_launch("set_step");
}

void rope(float* x, uint32_t n_tokens, uint32_t n_heads, uint32_t head_dim, const RopeConfig& cfg, uint32_t pos0,
          cudaStream_t stream) {
    if (n_tokens == 0 || cfg.mode == RopeMode::None || cfg.dims < 2) return;
    launch(rope_kernel, n_tokens, 128, 0, stream, x, n_heads, head_dim, cfg, pos0);
    check_launch("rope");
}

void rope(float* x, uint32_t n_tokens, uint32_t n_heads, uint32_t head_dim, uint32_t rope_dim, uint32_t pos0,
          float freq_base, cudaStream_t stream) {
    rope(x, n_tokens, n_heads, head_dim, normal_rope(rope_dim, freq_base), pos0, stream);
}

void rope_store_kv(float* q, const float* k, const float* v, f16_bits* cache, const KvLayout& layout, uint32_t layer,
                   uint32_t seq, uint32_t n_tokens, uint32_t n_head, const RopeConfig& cfg, uint32_t pos0,
                   cudaStream_t stream, const uint32_t* dev_pos) {
    if (n_tokens == 0) return;
    __half* base = reinterpret_cast<__half*>(cache);
    const dim3 grid(n_tokens, n_head + layout.n_head_kv);
    launch(rope_store_kernel, grid, kHeadThreads, 0, stream, q, k, v, base + layout.offset(layer, 0, seq, 0),
           base + layout.offset(layer, 1, seq, 0), n_head,
           layout.n_head_kv, layout.head_dim, cfg, pos0, dev_pos);
    check_launch("rope_store_kv");
}

void rope_store_kv(float* q, const float* k, const float* v, f16_bits* cache, const KvLayout& layout, uint32_t layer,
                   uint32_t n_tokens, uint32_t n_head, uint32_t rope_dim, float freq_base, uint32_t pos0,
                   cudaStream_t stream, const uint32_t* dev_pos) {
    rope_store_kv(q, k, v, cache, layout, layer, 0, n_tokens, n_head, normal_rope(rope_dim, freq_base), pos0, stream,
                  dev_pos);
}

}  // namespace orcd::cuda
