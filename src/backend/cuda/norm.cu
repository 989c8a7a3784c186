#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernels.h"
#include "backend/cuda/reduce.cuh"

namespace orcd::cuda {
namespace {

constexpr int kThreads = 256;

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

__global__ void layernorm_kernel(float* out, const float* x, const float* w, const float* b, uint32_t n, float eps) {
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
    rmsnorm_kernel<<<n_rows, kThreads, 0, stream>>>(out, x, w, n, eps);
    check_launch("rmsnorm");
}

void layernorm(float* out, const float* x, const float* w, const float* b, uint32_t n_rows, uint32_t n, float eps,
               cudaStream_t stream) {
    if (n_rows == 0) return;
    layernorm_kernel<<<n_rows, kThreads, 0, stream>>>(out, x, w, b, n, eps);
    check_launch("layernorm");
}

}  // namespace orcd::cuda
