#include "backend/cuda/candidate_order.cuh"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernels.h"
#include "backend/cuda/launch.cuh"

#include <algorithm>
#include <climits>

namespace orcd::cuda {
namespace {

constexpr int kThreads = 256;

unsigned grid_for(uint64_t n) {
    const uint64_t g = (n + kThreads - 1) / kThreads;
    return unsigned(g < 65535u * 16u ? (g == 0 ? 1 : g) : 65535u * 16u);
}

// The best (value, index) over the block and whether any thread saw a NaN,
// in thread 0. Order-free: ties go to the lower index whatever the order.
__device__ void block_best(float& bv, int32_t& bi, int& nan_seen) {
    __shared__ float sv[32];
    __shared__ int32_t si[32];
    nan_seen = __syncthreads_or(nan_seen);
    warp_first(bv, bi);
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
        warp_first(bv, bi);
    }
}

// Block b's part of the argmax: x[begin, end) with begin = b * chunk (chunk
// a multiple of 4), into out[2 + 3b ..]: index (INT_MAX: none), value, NaN.
__global__ void argmax_part_kernel(int32_t* out, const float* x, uint32_t n, uint32_t chunk) {
    kernel_begin();
    float bv = -__int_as_float(0x7f800000);
    int32_t bi = INT_MAX;
    int nan_seen = 0;
    auto take = [&](float v, uint32_t i) {
        nan_seen |= v != v;
        if (precedes(v, int32_t(i), bv, bi)) {
            bv = v;
            bi = int32_t(i);
        }
    };
    const uint32_t begin = blockIdx.x * chunk, end = min(n, begin + chunk);
    // 16-byte loads where x allows them (chunks start at multiples of 4).
    const uint32_t end4 = (reinterpret_cast<uintptr_t>(x) & 15) == 0 ? begin + (end - begin) / 4 * 4 : begin;
#pragma unroll 2
    for (uint32_t i = begin + 4 * threadIdx.x; i < end4; i += 4 * blockDim.x) {
        const float4 v = *reinterpret_cast<const float4*>(x + i);
        take(v.x, i);
        take(v.y, i + 1);
        take(v.z, i + 2);
        take(v.w, i + 3);
    }
    for (uint32_t i = end4 + threadIdx.x; i < end; i += blockDim.x) take(x[i], i);
    block_best(bv, bi, nan_seen);
    if (threadIdx.x == 0) {
        int32_t* part = out + 2 + 3 * blockIdx.x;
        part[0] = bi;
        part[1] = __float_as_int(bv);
        part[2] = nan_seen;
    }
}

// The parts' best into out[0] (0 when no part had an index) and their NaN
// flags into out[1].
__global__ void argmax_final_kernel(int32_t* out, uint32_t n_parts) {
    kernel_begin();
    float bv = -__int_as_float(0x7f800000);
    int32_t bi = INT_MAX;
    int nan_seen = 0;
    for (uint32_t p = threadIdx.x; p < n_parts; p += blockDim.x) {
        const int32_t* part = out + 2 + 3 * p;
        const float v = __int_as_float(part[1]);
        if (precedes(v, part[0], bv, bi)) {
            bv = v;
            bi = part[0];
        }
        nan_seen |= part[2];
    }
    block_best(bv, bi, nan_seen);
    if (threadIdx.x == 0) {
        out[0] = bi == INT_MAX ? 0 : bi;
        out[1] = nan_seen;
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

__global__ void presence_frequency_kernel(float* logits, uint32_t n_vocab, const int32_t* ids, const int32_t* counts,
                                          uint32_t n, float presence, float frequency) {
    kernel_begin();
    // ids are distinct, so no two threads touch the same logit.
    for (uint32_t j = blockIdx.x * blockDim.x + threadIdx.x; j < n; j += gridDim.x * blockDim.x) {
        const int32_t id = ids[j];
        if (id < 0 || uint32_t(id) >= n_vocab) continue;
        float l = logits[id];
        l = __fsub_rn(l, __fmul_rn(__int2float_rn(counts[j]), frequency));
        l = __fsub_rn(l, presence);
        logits[id] = l;
    }
}

}  // namespace

void argmax(int32_t* out, const float* x, uint32_t n, cudaStream_t stream) {
    // A part of at least 1024 elements a block, at most kArgmaxParts blocks:
    // a 152k vocabulary is read by 128 blocks in one or two rounds of loads
    // (one block took ~21 us on an H200, ten rounds of loads and a
    // 1024-thread reduction).
    const uint32_t per = std::max<uint32_t>(1024, (n + kArgmaxParts - 1) / kArgmaxParts);
    const uint32_t chunk = (per + 3) / 4 * 4, parts = std::max<uint32_t>(1, (n + chunk - 1) / chunk);
    launch(argmax_part_kernel, parts, 256, 0, stream, out, x, n, chunk);
    check_launch("argmax");
    launch(argmax_final_kernel, 1, 128, 0, stream, out, parts);
    check_launch("argmax");
}

void repetition_penalty(float* logits, uint32_t n_vocab, const int32_t* ids, uint32_t n, float penalty,
                        cudaStream_t stream) {
    if (n == 0) return;
    launch(penalty_kernel, grid_for(n), kThreads, 0, stream, logits, n_vocab, ids, n, penalty);
    check_launch("repetition_penalty");
}

void presence_frequency_penalty(float* logits, uint32_t n_vocab, const int32_t* ids, const int32_t* counts,
                                uint32_t n, float presence, float frequency, cudaStream_t stream) {
    if (n == 0) return;
    launch(presence_frequency_kernel, grid_for(n), kThreads, 0, stream, logits, n_vocab, ids, counts, n, presence,
           frequency);
    check_launch("presence_frequency_penalty");
}

}  // namespace orcd::cuda
