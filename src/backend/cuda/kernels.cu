#include "backend/cuda/kernels.h"

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/pointwise.cuh"
#include "backend/cuda/reduce.cuh"

#include <cuda_fp16.h>

#include <climits>

namespace orcd::cuda {
namespace {

constexpr int kThreads = 256;

unsigned grid_for(uint64_t n, int threads = kThreads) {
    const uint64_t g = (n + threads - 1) / threads;
    return unsigned(g < 65535u * 16u ? (g == 0 ? 1 : g) : 65535u * 16u);
}

__global__ void embedding_f32(float* out, const float* table, uint64_t row_len, const int32_t* ids) {
    const float* row = table + uint64_t(ids[blockIdx.x]) * row_len;
    float* o = out + uint64_t(blockIdx.x) * row_len;
    for (uint64_t i = threadIdx.x; i < row_len; i += blockDim.x) o[i] = row[i];
}

__global__ void embedding_f16(float* out, const __half* table, uint64_t row_len, const int32_t* ids) {
    const __half* row = table + uint64_t(ids[blockIdx.x]) * row_len;
    float* o = out + uint64_t(blockIdx.x) * row_len;
    for (uint64_t i = threadIdx.x; i < row_len; i += blockDim.x) o[i] = __half2float(row[i]);
}

__global__ void rmsnorm_kernel(float* out, const float* x, const float* w, uint32_t n, float eps) {
    __shared__ float scratch[32];
    const float* xr = x + uint64_t(blockIdx.x) * n;
    float* o = out + uint64_t(blockIdx.x) * n;
    float ss = 0.0f;
    // A decode step normalises one row with one block: unrolled so that a
    // thread's loads overlap instead of paying the latency once per element
    // (the sum stays in index order).
#pragma unroll 4
    for (uint32_t i = threadIdx.x; i < n; i += blockDim.x) ss += xr[i] * xr[i];
    ss = block_sum(ss, scratch);
    // As the reference: one scale 1 / sqrt(mean + eps), then x * scale * w.
    const float scale = 1.0f / sqrtf(ss / float(n) + eps);
#pragma unroll 4
    for (uint32_t i = threadIdx.x; i < n; i += blockDim.x) o[i] = xr[i] * scale * w[i];
}

__device__ __forceinline__ uint32_t position(uint32_t pos0, const uint32_t* dev_pos) {
    return dev_pos ? pos0 + *dev_pos : pos0;
}

__global__ void set_step_kernel(int32_t* ids, uint32_t* dev_pos, int32_t token, uint32_t pos) {
    ids[0] = token;
    *dev_pos = pos;
}

__global__ void rope_kernel(float* x, uint32_t n_heads, uint32_t head_dim, uint32_t rope_dim, uint32_t pos0,
                            float freq_base) {
    // block: one token; threads walk (head, pair).
    const uint32_t t = blockIdx.x;
    const uint32_t pairs = rope_dim / 2;
    const float pos = float(pos0 + t);
    float* xt = x + uint64_t(t) * n_heads * head_dim;
    for (uint32_t k = threadIdx.x; k < n_heads * pairs; k += blockDim.x) {
        const uint32_t h = k / pairs, i = k % pairs;
        float* p = xt + uint64_t(h) * head_dim + 2 * i;
        const float a = p[0], b = p[1];
        rope_pair(a, b, pos, i, rope_dim, freq_base, p[0], p[1]);
    }
}

// rope() of q and k plus store_kv() in one launch, one block per token. The
// rotated k goes straight to the cache (k itself is left as it was); each
// thread computes the pair of the element it stores, so no thread reads
// what another writes.
__global__ void rope_store_kernel(float* q, const float* k, const float* v, __half* kc, __half* vc, uint32_t n_head,
                                  uint32_t n_head_kv, uint32_t head_dim, uint32_t rope_dim, uint32_t pos0,
                                  const uint32_t* dev_pos, float freq_base) {
    const uint32_t t = blockIdx.x;
    const uint32_t p = position(pos0, dev_pos) + t;
    const float pos = float(p);
    const uint32_t pairs = rope_dim / 2;
    float* qt = q + uint64_t(t) * n_head * head_dim;
    for (uint32_t j = threadIdx.x; j < n_head * pairs; j += blockDim.x) {
        const uint32_t h = j / pairs, i = j % pairs;
        float* e = qt + uint64_t(h) * head_dim + 2 * i;
        const float a = e[0], b = e[1];
        rope_pair(a, b, pos, i, rope_dim, freq_base, e[0], e[1]);
    }
    const uint64_t row = uint64_t(n_head_kv) * head_dim;
    const float* kt = k + uint64_t(t) * row;
    const float* vt = v + uint64_t(t) * row;
    __half* kd = kc + uint64_t(p) * row;
    __half* vd = vc + uint64_t(p) * row;
    for (uint32_t e = threadIdx.x; e < row; e += blockDim.x) {
        const uint32_t d = e % head_dim;
        float val = kt[e];
        if (d < 2 * pairs) {
            const uint32_t e0 = e - (d & 1);
            float o0, o1;
            rope_pair(kt[e0], kt[e0 + 1], pos, d / 2, rope_dim, freq_base, o0, o1);
            val = (d & 1) ? o1 : o0;
        }
        kd[e] = __float2half_rn(val);
        vd[e] = __float2half_rn(vt[e]);
    }
}

__global__ void swiglu_kernel(float* out, const float* gate, const float* up, uint64_t n) {
    for (uint64_t i = blockIdx.x * uint64_t(blockDim.x) + threadIdx.x; i < n; i += uint64_t(gridDim.x) * blockDim.x) {
        out[i] = silu_mul(gate[i], up[i]);
    }
}

__global__ void add_kernel(float* x, const float* y, uint64_t n) {
    for (uint64_t i = blockIdx.x * uint64_t(blockDim.x) + threadIdx.x; i < n; i += uint64_t(gridDim.x) * blockDim.x)
        x[i] += y[i];
}

__global__ void scale_kernel(float* x, uint64_t n, float t) {
    for (uint64_t i = blockIdx.x * uint64_t(blockDim.x) + threadIdx.x; i < n; i += uint64_t(gridDim.x) * blockDim.x)
        x[i] = x[i] / t;
}

__global__ void to_f16_kernel(__half* out, const float* x, uint64_t n) {
    for (uint64_t i = blockIdx.x * uint64_t(blockDim.x) + threadIdx.x; i < n; i += uint64_t(gridDim.x) * blockDim.x)
        out[i] = __float2half_rn(x[i]);
}

__global__ void store_kv_kernel(__half* kdst, __half* vdst, const float* k, const float* v, uint64_t n) {
    for (uint64_t i = blockIdx.x * uint64_t(blockDim.x) + threadIdx.x; i < n; i += uint64_t(gridDim.x) * blockDim.x) {
        kdst[i] = __float2half_rn(k[i]);
        vdst[i] = __float2half_rn(v[i]);
    }
}

__device__ __forceinline__ bool better(float v, int32_t i, float bv, int32_t bi) {
    return v > bv || (v == bv && i < bi);
}

__global__ void argmax_kernel(int32_t* out, const float* x, uint32_t n) {
    __shared__ float sv[32];
    __shared__ int32_t si[32];
    float bv = -__int_as_float(0x7f800000);
    int32_t bi = INT_MAX;
    int nan_seen = 0;
    for (uint32_t i = threadIdx.x; i < n; i += blockDim.x) {
        const float v = x[i];
        nan_seen |= v != v;
        if (better(v, int32_t(i), bv, bi)) {
            bv = v;
            bi = int32_t(i);
        }
    }
    nan_seen = __syncthreads_or(nan_seen);
    for (int o = 16; o > 0; o >>= 1) {
        const float ov = __shfl_xor_sync(0xffffffffu, bv, o);
        const int32_t oi = __shfl_xor_sync(0xffffffffu, bi, o);
        if (better(ov, oi, bv, bi)) {
            bv = ov;
            bi = oi;
        }
    }
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) {
        sv[warp] = bv;
        si[warp] = bi;
    }
    __syncthreads();
    if (warp == 0) {
        const int n_warps = blockDim.x >> 5;
        bv = lane < n_warps ? sv[lane] : -__int_as_float(0x7f800000);
        bi = lane < n_warps ? si[lane] : INT_MAX;
        for (int o = 16; o > 0; o >>= 1) {
            const float ov = __shfl_xor_sync(0xffffffffu, bv, o);
            const int32_t oi = __shfl_xor_sync(0xffffffffu, bi, o);
            if (better(ov, oi, bv, bi)) {
                bv = ov;
                bi = oi;
            }
        }
        if (lane == 0) {
            out[0] = bi == INT_MAX ? 0 : bi;
            out[1] = nan_seen;
        }
    }
}

__global__ void penalty_kernel(float* logits, uint32_t n_vocab, const int32_t* ids, uint32_t n, float penalty) {
    // ids are distinct, so no two threads touch the same logit.
    for (uint32_t j = blockIdx.x * blockDim.x + threadIdx.x; j < n; j += gridDim.x * blockDim.x) {
        const int32_t id = ids[j];
        if (id < 0 || uint32_t(id) >= n_vocab) continue;
        const float l = logits[id];
        logits[id] = l > 0.0f ? l / penalty : l * penalty;
    }
}

}  // namespace

void embedding(float* out, const void* table, gguf::TensorType type, uint64_t row_len, const int32_t* ids,
               uint32_t n_tokens, cudaStream_t stream) {
    if (n_tokens == 0) return;
    if (type == gguf::TensorType::F16)
        embedding_f16<<<n_tokens, kThreads, 0, stream>>>(out, static_cast<const __half*>(table), row_len, ids);
    else
        embedding_f32<<<n_tokens, kThreads, 0, stream>>>(out, static_cast<const float*>(table), row_len, ids);
    check_launch("embedding");
}

void rmsnorm(float* out, const float* x, const float* w, uint32_t n_rows, uint32_t n, float eps, cudaStream_t stream) {
    if (n_rows == 0) return;
    rmsnorm_kernel<<<n_rows, kThreads, 0, stream>>>(out, x, w, n, eps);
    check_launch("rmsnorm");
}

void set_step(int32_t* ids, uint32_t* dev_pos, int32_t token, uint32_t pos, cudaStream_t stream) {
    set_step_kernel<<<1, 1, 0, stream>>>(ids, dev_pos, token, pos);
    check_launch("set_step");
}

void rope(float* x, uint32_t n_tokens, uint32_t n_heads, uint32_t head_dim, uint32_t rope_dim, uint32_t pos0,
          float freq_base, cudaStream_t stream) {
    if (n_tokens == 0 || rope_dim < 2) return;
    rope_kernel<<<n_tokens, 128, 0, stream>>>(x, n_heads, head_dim, rope_dim, pos0, freq_base);
    check_launch("rope");
}

void rope_store_kv(float* q, const float* k, const float* v, f16_bits* cache, const KvLayout& layout, uint32_t layer,
                   uint32_t n_tokens, uint32_t n_head, uint32_t rope_dim, float freq_base, uint32_t pos0,
                   cudaStream_t stream, const uint32_t* dev_pos) {
    if (n_tokens == 0) return;
    __half* base = reinterpret_cast<__half*>(cache);
    rope_store_kernel<<<n_tokens, kThreads, 0, stream>>>(q, k, v, base + layout.offset(layer, 0, 0),
                                                         base + layout.offset(layer, 1, 0), n_head, layout.n_head_kv,
                                                         layout.head_dim, rope_dim, pos0, dev_pos,
                                                         freq_base);
    check_launch("rope_store_kv");
}

void swiglu(float* out, const float* gate, const float* up, uint64_t n, cudaStream_t stream) {
    if (n == 0) return;
    swiglu_kernel<<<grid_for(n), kThreads, 0, stream>>>(out, gate, up, n);
    check_launch("swiglu");
}

void add_inplace(float* x, const float* y, uint64_t n, cudaStream_t stream) {
    if (n == 0) return;
    add_kernel<<<grid_for(n), kThreads, 0, stream>>>(x, y, n);
    check_launch("add_inplace");
}

void scale_temperature(float* x, uint64_t n, float temperature, cudaStream_t stream) {
    if (n == 0) return;
    scale_kernel<<<grid_for(n), kThreads, 0, stream>>>(x, n, temperature);
    check_launch("scale_temperature");
}

void to_f16(f16_bits* out, const float* x, uint64_t n, cudaStream_t stream) {
    if (n == 0) return;
    to_f16_kernel<<<grid_for(n), kThreads, 0, stream>>>(reinterpret_cast<__half*>(out), x, n);
    check_launch("to_f16");
}

void store_kv(f16_bits* cache, const KvLayout& layout, uint32_t layer, uint32_t pos, const float* k, const float* v,
              uint32_t n_tokens, cudaStream_t stream) {
    const uint64_t n = uint64_t(n_tokens) * layout.row_elems();
    if (n == 0) return;
    __half* base = reinterpret_cast<__half*>(cache);
    store_kv_kernel<<<grid_for(n), kThreads, 0, stream>>>(base + layout.offset(layer, 0, pos),
                                                          base + layout.offset(layer, 1, pos), k, v, n);
    check_launch("store_kv");
}

void argmax(int32_t* out, const float* x, uint32_t n, cudaStream_t stream) {
    argmax_kernel<<<1, 1024, 0, stream>>>(out, x, n);
    check_launch("argmax");
}

void repetition_penalty(float* logits, uint32_t n_vocab, const int32_t* ids, uint32_t n, float penalty,
                        cudaStream_t stream) {
    if (n == 0) return;
    penalty_kernel<<<grid_for(n), kThreads, 0, stream>>>(logits, n_vocab, ids, n, penalty);
    check_launch("repetition_penalty");
}

}  // namespace orcd::cuda
