// Causal GQA attention over the F16 KV cache, one block per (query head,
// token[, key split]). Keys are processed in tiles of kTile with an online
// softmax (running max m, running sum l, rescaled accumulator), so no score
// buffer grows with the context. Every sum has a fixed order: the tile sums
// go through block_sum's fixed tree, the weighted V sum runs over the tile's
// keys in index order in the thread owning that dimension, and split results
// are merged in split order.
#include "backend/cuda/kernels.h"

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/reduce.cuh"

#include <cuda_fp16.h>

#include <cmath>

namespace orcd::cuda {
namespace {

constexpr int kTile = 128;  // keys per tile = threads per block
constexpr uint32_t kMaxSplits = 32;
constexpr uint32_t kMinKeysPerSplit = 256;

__device__ __forceinline__ float neg_inf() { return -__int_as_float(0x7f800000); }

// How a single query's keys are split: a function of the number of keys
// only, so the same context always merges the same partial results.
struct Split {
    uint32_t n, keys;  // splits, keys per split
};
__device__ __forceinline__ Split split_for(uint32_t n_keys) {
    if (n_keys <= kMinKeysPerSplit) return {1, 0xffffffffu};
    uint32_t kps = kMinKeysPerSplit;
    if ((n_keys + kps - 1) / kps > kMaxSplits) kps = ((n_keys + kMaxSplits - 1) / kMaxSplits + kTile - 1) / kTile * kTile;
    return {(n_keys + kps - 1) / kps, kps};
}

// Splits the grid must hold for any context up to max_keys keys: below
// kMaxSplits * kMinKeysPerSplit keys the count grows with the context, above
// it is at most kMaxSplits (not monotone there, hence the bound).
uint32_t max_splits_for(uint32_t max_keys) {
    const uint32_t n = (max_keys + kMinKeysPerSplit - 1) / kMinKeysPerSplit;
    return n < 1 ? 1 : (n > kMaxSplits ? kMaxSplits : n);
}

__device__ __forceinline__ uint32_t position(uint32_t pos0, const uint32_t* dev_pos) {
    return dev_pos ? pos0 + *dev_pos : pos0;
}

// With `split` (a single query), blockIdx.z is the key split; blocks past the
// split count of the actual context leave before any barrier.
template <bool kVec>
__global__ void __launch_bounds__(kTile) attention_kernel(float* out, const float* q, const __half* k,
                                                          const __half* v, uint32_t pos_base, const uint32_t* dev_pos,
                                                          uint32_t n_head, uint32_t n_head_kv, uint32_t head_dim,
                                                          float scale, bool split, float* split_ws) {
    extern __shared__ float smem[];
    float* qs = smem;
    float* acc = qs + head_dim;
    float* p = acc + head_dim;
    float* scratch = p + kTile;

    const uint32_t h = blockIdx.x, t = blockIdx.y, z = blockIdx.z;
    const uint32_t kvh = h / (n_head / n_head_kv);
    const uint32_t n_keys = position(pos_base, dev_pos) + t + 1;
    const Split sp = split ? split_for(n_keys) : Split{1, 0xffffffffu};
    if (z >= sp.n) return;  // uniform across the block
    const uint32_t keys_per_split = sp.keys;
    const uint32_t j_begin = z * keys_per_split;
    const uint32_t j_end = min(n_keys, j_begin + keys_per_split);
    const uint64_t row = uint64_t(n_head_kv) * head_dim;
    const float* qh = q + (uint64_t(t) * n_head + h) * head_dim;

    for (uint32_t d = threadIdx.x; d < head_dim; d += blockDim.x) {
        qs[d] = qh[d];
        acc[d] = 0.0f;
    }
    __syncthreads();

    float m = neg_inf(), l = 0.0f;
    for (uint32_t j0 = j_begin; j0 < j_end; j0 += kTile) {
        const uint32_t j = j0 + threadIdx.x;
        float s = neg_inf();
        if (j < j_end) {
            const __half* kr = k + uint64_t(j) * row + uint64_t(kvh) * head_dim;
            float dot = 0.0f;
            if constexpr (kVec) {
                // Unrolled so that several 16-byte loads of the key row are
                // in flight; the products are still added in index order.
#pragma unroll 4
                for (uint32_t c = 0; c < head_dim; c += 8) {
                    const uint4 raw = *reinterpret_cast<const uint4*>(kr + c);
                    const __half2* h2 = reinterpret_cast<const __half2*>(&raw);
#pragma unroll
                    for (int e = 0; e < 4; ++e) {
                        const float2 f = __half22float2(h2[e]);
                        dot += qs[c + 2 * e] * f.x;
                        dot += qs[c + 2 * e + 1] * f.y;
                    }
                }
            } else {
                for (uint32_t d = 0; d < head_dim; ++d) dot += qs[d] * __half2float(kr[d]);
            }
            s = dot * scale;
        }
        const float m_new = fmaxf(m, block_max(s, scratch));
        const float corr = expf(m - m_new);
        const float e = j < j_end ? expf(s - m_new) : 0.0f;
        p[threadIdx.x] = e;
        l = l * corr + block_sum(e, scratch);  // its barriers publish p[]
        const uint32_t n_in = min(uint32_t(kTile), j_end - j0);
        for (uint32_t d = threadIdx.x; d < head_dim; d += blockDim.x) {
            float a = acc[d] * corr;
            const __half* vc = v + uint64_t(j0) * row + uint64_t(kvh) * head_dim + d;
            // Unrolled for loads in flight; the sum stays in key order.
#pragma unroll 8
            for (uint32_t jj = 0; jj < n_in; ++jj) a += p[jj] * __half2float(vc[uint64_t(jj) * row]);
            acc[d] = a;
        }
        m = m_new;
        __syncthreads();  // p[] is rewritten by the next tile
    }

    if (sp.n > 1) {
        float* ws = split_ws + (uint64_t(h) * kMaxSplits + z) * (head_dim + 2);
        if (threadIdx.x == 0) {
            ws[0] = m;
            ws[1] = l;
        }
        for (uint32_t d = threadIdx.x; d < head_dim; d += blockDim.x) ws[2 + d] = acc[d];
    } else {
        float* o = out + (uint64_t(t) * n_head + h) * head_dim;
        for (uint32_t d = threadIdx.x; d < head_dim; d += blockDim.x) o[d] = acc[d] / l;
    }
}

__global__ void attention_merge_kernel(float* out, const float* split_ws, uint32_t pos_base, const uint32_t* dev_pos,
                                       uint32_t head_dim) {
    const uint32_t n_split = split_for(position(pos_base, dev_pos) + 1).n;
    if (n_split == 1) return;  // the attention kernel wrote `out` itself
    const uint32_t h = blockIdx.x;
    const float* ws = split_ws + uint64_t(h) * kMaxSplits * (head_dim + 2);
    float m = neg_inf();
    for (uint32_t z = 0; z < n_split; ++z) m = fmaxf(m, ws[uint64_t(z) * (head_dim + 2)]);
    float l = 0.0f;
    for (uint32_t z = 0; z < n_split; ++z) {
        const float* w = ws + uint64_t(z) * (head_dim + 2);
        l += w[1] * expf(w[0] - m);
    }
    for (uint32_t d = threadIdx.x; d < head_dim; d += blockDim.x) {
        float a = 0.0f;
        for (uint32_t z = 0; z < n_split; ++z) {
            const float* w = ws + uint64_t(z) * (head_dim + 2);
            a += w[2 + d] * expf(w[0] - m);
        }
        out[uint64_t(h) * head_dim + d] = a / l;
    }
}

}  // namespace

uint64_t attention_split_floats(uint32_t n_head, uint32_t head_dim) {
    return uint64_t(n_head) * kMaxSplits * (head_dim + 2);
}

void attention(float* out, const float* q, const f16_bits* k, const f16_bits* v, uint32_t n_tokens, uint32_t pos0,
               uint32_t n_head, uint32_t n_head_kv, uint32_t head_dim, float* split_ws, cudaStream_t stream,
               const uint32_t* dev_pos, uint32_t max_keys) {
    if (n_tokens == 0) return;
    const float scale = 1.0f / std::sqrt(float(head_dim));
    const size_t smem = (2 * size_t(head_dim) + kTile + 32) * sizeof(float);
    const __half* kh = reinterpret_cast<const __half*>(k);
    const __half* vh = reinterpret_cast<const __half*>(v);
    const bool vec = head_dim % 8 == 0;

    // A single query over a long context: split the keys so the whole GPU
    // works on it (split_for, on the device, from the actual context).
    const bool split = n_tokens == 1 && split_ws != nullptr;
    const uint32_t n_split = split ? max_splits_for(dev_pos ? max_keys : pos0 + 1) : 1;
    const dim3 grid(n_head, n_tokens, n_split);
    if (vec)
        attention_kernel<true><<<grid, kTile, smem, stream>>>(out, q, kh, vh, pos0, dev_pos, n_head, n_head_kv,
                                                               head_dim, scale, split, split_ws);
    else
        attention_kernel<false><<<grid, kTile, smem, stream>>>(out, q, kh, vh, pos0, dev_pos, n_head, n_head_kv,
                                                                head_dim, scale, split, split_ws);
    check_launch("attention");
    if (n_split > 1) {
        attention_merge_kernel<<<n_head, 128, 0, stream>>>(out, split_ws, pos0, dev_pos, head_dim);
        check_launch("attention_merge");
    }
}

}  // namespace orcd::cuda
