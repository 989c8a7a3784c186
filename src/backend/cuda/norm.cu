#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernels.h"
#include "backend/cuda/launch.cuh"
#include "backend/cuda/norm.cuh"
#include "backend/cuda/reduce.cuh"

#include <algorithm>
#include <cstdint>

namespace orcd::cuda {
namespace {

constexpr int kThreads = 256;

// One block per row. A decode step normalises one row with one block, so
// the block is as wide as a quarter of the row (up to 1024 threads) and each
// thread reads 4 consecutive elements a pass with one 16-byte load: a 4096
// row takes one pass of loads per thread instead of 16 dependent rounds.
// The sum is in a fixed order (norm.cuh). Where one pass covers the row, a
// thread reads its x once and its weights before the wait (they do not
// depend on earlier kernels), so that the step's critical path holds x's
// read, the block's sum and the stores only.
__global__ void rmsnorm_kernel(float* out, const float* x, const float* w, uint32_t n, float eps) {
    __shared__ float scratch[32];
    const float* xr = x + uint64_t(blockIdx.x) * n;
    float* o = out + uint64_t(blockIdx.x) * n;
    const bool vec = n % 4 == 0 && ((reinterpret_cast<uintptr_t>(xr) | reinterpret_cast<uintptr_t>(o) |
                                     reinterpret_cast<uintptr_t>(w)) & 15) == 0;
    const uint32_t i0 = 4 * threadIdx.x;
    if (vec && n <= 4 * blockDim.x) {
        const float4 g = i0 < n ? *reinterpret_cast<const float4*>(w + i0) : make_float4(0, 0, 0, 0);
        kernel_begin();
        const float4 v[1] = {i0 < n ? *reinterpret_cast<const float4*>(xr + i0) : make_float4(0, 0, 0, 0)};
        const float scale = rms_scale_of(v, n, eps, scratch);
        if (i0 < n) *reinterpret_cast<float4*>(o + i0) = scaled(v[0], g, scale);
        return;
    }
    kernel_begin();
    // As the reference: one scale 1 / sqrt(mean + eps), then x * scale * w.
    const float scale = rms_scale(xr, n, eps, vec, scratch);
    if (vec) {
#pragma unroll 2
        for (uint32_t i = 4 * threadIdx.x; i < n; i += 4 * blockDim.x) {
            const float4 v = *reinterpret_cast<const float4*>(xr + i);
            const float4 g = *reinterpret_cast<const float4*>(w + i);
            *reinterpret_cast<float4*>(o + i) = scaled(v, g, scale);
        }
    } else {
#pragma unroll 4
        for (uint32_t i = threadIdx.x; i < n; i += blockDim.x) o[i] = xr[i] * scale * w[i];
    }
}

__global__ void layernorm_kernel(float* out, const float* x, const float* w, const float* b, uint32_t n, float eps) {
    kernel_begin();
    __shared__ float scratch[32];
    const float* xr = x + uint64_t(blockIdx.x) * n;
    float* o = out + uint64_t(blockIdx.x) * n;
    float sum = 0.0f;
    for (uint32_t i = threadIdx.x; i < n; i += blockDim.x) sum += xr[i];
    const float mean = block_sum(sum, scratch) / float(n);
    float var = 0.0f;
    for (uint32_t i = threadIdx.x; i < n; i += blockDim.x) var += (xr[i] - mean) * (xr[i] - mean);
    const float scale = 1.0f / sqrtf(block_sum(var, scratch) / float(n) + eps);
    for (uint32_t i = threadIdx.x; i < n; i += blockDim.x) o[i] = (xr[i] - mean) * scale * w[i] + (b ? b[i] : 0.0f);
}

}  // namespace

void rmsnorm(float* out, const float* x, const float* w, uint32_t n_rows, uint32_t n, float eps, cudaStream_t stream) {
    if (n_rows == 0) return;
    // A quarter of the row, in whole warps, between 128 and 1024 threads.
    const uint32_t threads = std::min(1024u, std::max(128u, (n / 4 + 31) / 32 * 32));
    launch(rmsnorm_kernel, n_rows, threads, 0, stream, out, x, w, n, eps);
    check_launch("rmsnorm");
}

void layernorm(float* out, const float* x, const float* w, const float* b, uint32_t n_rows, uint32_t n, float eps,
               cudaStream_t stream) {
    if (n_rows == 0) return;
    launch(layernorm_kernel, n_rows, kThreads, 0, stream, out, x, w, b, n, eps);
    check_launch("layernorm");
}

}  // namespace orcd::cuda
