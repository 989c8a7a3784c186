#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernels.h"
#include "backend/cuda/launch.cuh"

#include <climits>

namespace orcd::cuda {
namespace {

constexpr int kThreads = 256;

unsigned grid_for(uint64_t n) {
    const uint64_t g = (n + kThreads - 1) / kThreads;
    return unsigned(g < 65535u * 16u ? (g == 0 ? 1 : g) : 65535u * 16u);
}

__device__ __forceinline__ bool better(float v, int32_t i, float bv, int32_t bi) {
    return v > bv || (v == bv && i < bi);
}

__global__ void argmax_kernel(int32_t* out, const float* x, uint32_t n) {
    kernel_begin();
    __shared__ float sv[32];
    __shared__ int32_t si[32];
    float bv = -__int_as_float(0x7f800000);
    int32_t bi = INT_MAX;
    int nan_seen = 0;
    auto take = [&](float v, uint32_t i) {
        nan_seen |= v != v;
        if (better(v, int32_t(i), bv, bi)) {
            bv = v;
            bi = int32_t(i);
        }
    };
    // 16-byte loads, four in flight per thread: one block reads a 152k
    // vocabulary in ~10 rounds of loads instead of ~150 dependent ones. The
    // result does not depend on the order (ties go to the lower id).
    const uint32_t n4 = (reinterpret_cast<uintptr_t>(x) & 15) == 0 ? n / 4 : 0;
#pragma unroll 4
    for (uint32_t j = threadIdx.x; j < n4; j += blockDim.x) {
        const float4 v = reinterpret_cast<const float4*>(x)[j];
        take(v.x, 4 * j);
        take(v.y, 4 * j + 1);
        take(v.z, 4 * j + 2);
        take(v.w, 4 * j + 3);
    }
    for (uint32_t i = 4 * n4 + threadIdx.x; i < n; i += blockDim.x) take(x[i], i);
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
    kernel_begin();
    // ids are distinct, so no two threads touch the same logit.
    for (uint32_t j = blockIdx.x * blockDim.x + threadIdx.x; j < n; j += gridDim.x * blockDim.x) {
        const int32_t id = ids[j];
        if (id < 0 || uint32_t(id) >= n_vocab) continue;
        const float l = logits[id];
        logits[id] = l > 0.0f ? l / penalty : l * penalty;
    }
}

}  // namespace

void argmax(int32_t* out, const float* x, uint32_t n, cudaStream_t stream) {
    launch(argmax_kernel, 1, 1024, 0, stream, out, x, n);
    check_launch("argmax");
}

void repetition_penalty(float* logits, uint32_t n_vocab, const int32_t* ids, uint32_t n, float penalty,
                        cudaStream_t stream) {
    if (n == 0) return;
    launch(penalty_kernel, grid_for(n), kThreads, 0, stream, logits, n_vocab, ids, n, penalty);
    check_launch("repetition_penalty");
}

}  // namespace orcd::cuda
