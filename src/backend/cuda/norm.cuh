// RMSNorm's scale of one row, shared by the norm kernel (norm.cu) and the
// products that normalise x as they stage it (matvec_q8.cu, matvec.cu): the
// row's normalised element i is x[i] * scale * w[i].
#pragma once

#include "backend/cuda/reduce.cuh"

#include <cstdint>

namespace orcd::cuda {

// The scale from the sum of squares ss of the row's n elements.
__device__ __forceinline__ float rms_scale_of_sum(float ss, uint32_t n, float eps) {
    return 1.0f / sqrtf(ss / float(n) + eps);
}

// scale = 1 / sqrt(mean(x^2) + eps), as the reference. Every thread of the
// block calls it and gets the scale. Each thread sums the squares of its
// elements in index order (4 consecutive ones a pass, one 16-byte load when
// `vec`: n % 4 == 0 and x 16-byte aligned), then block_sum combines the
// threads; the bits so depend on the block size.
__device__ __forceinline__ float rms_scale(const float* x, uint32_t n, float eps, bool vec, float* scratch) {
    float ss = 0.0f;
    if (vec) {
#pragma unroll 2
        for (uint32_t i = 4 * threadIdx.x; i < n; i += 4 * blockDim.x) {
            const float4 v = *reinterpret_cast<const float4*>(x + i);
            ss += v.x * v.x;
            ss += v.y * v.y;
            ss += v.z * v.z;
            ss += v.w * v.w;
        }
    } else {
#pragma unroll 4
        for (uint32_t i = threadIdx.x; i < n; i += blockDim.x) ss += x[i] * x[i];
    }
    return rms_scale_of_sum(block_sum(ss, scratch), n, eps);
}

// rms_scale for a block whose threads hold their elements in registers:
// v[k] holds elements 4t + 4 k blockDim .. + 3 of thread t (zeros past n),
// summed in rms_scale's order.
template <uint32_t N>
__device__ __forceinline__ float sum_squares(const float4 (&v)[N]) {
    float ss = 0.0f;
#pragma unroll
    for (uint32_t k = 0; k < N; ++k) {
        ss += v[k].x * v[k].x;
        ss += v[k].y * v[k].y;
        ss += v[k].z * v[k].z;
        ss += v[k].w * v[k].w;
    }
    return ss;
}

template <uint32_t N>
__device__ __forceinline__ float rms_scale_of(const float4 (&v)[N], uint32_t n, float eps, float* scratch) {
    return rms_scale_of_sum(block_sum(sum_squares(v), scratch), n, eps);
}

// The same scale from each warp's sum of its threads' sum_squares(), in
// scratch[warp], after a barrier: block_sum's second half, so the bits are
// rms_scale_of's.
__device__ __forceinline__ float norm_scale_of_partials(const float* scratch, uint32_t n, float eps) {
    const uint32_t lane = threadIdx.x & 31, n_warps = blockDim.x >> 5;
    return rms_scale_of_sum(warp_sum(lane < n_warps ? scratch[lane] : 0.0f), n, eps);
}

// The RMSNorm's weight and scale applied to 4 elements of x, as the
// reference: x * scale * w.
__device__ __forceinline__ float4 scaled(float4 v, float4 w, float scale) {
    return make_float4(v.x * scale * w.x, v.y * scale * w.y, v.z * scale * w.z, v.w * scale * w.w);
}

}  // namespace orcd::cuda
