#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernels.h"
#include "backend/cuda/launch.cuh"
#include "backend/cuda/pointwise.cuh"

#include <cuda_fp16.h>

namespace orcd::cuda {
namespace {

constexpr int kThreads = 256;

unsigned grid_for(uint64_t n, int threads = kThreads) {
    const uint64_t g = (n + threads - 1) / threads;
    return unsigned(g < 65535u * 16u ? (g == 0 ? 1 : g) : 65535u * 16u);
}

#define ORCD_GRID_STRIDE(i, n) \
    for (uint64_t i = blockIdx.x * uint64_t(blockDim.x) + threadIdx.x; i < (n); i += uint64_t(gridDim.x) * blockDim.x)

__global__ void swiglu_kernel(float* out, const float* gate, const float* up, uint64_t n) {
    kernel_begin();
    ORCD_GRID_STRIDE(i, n) out[i] = silu_mul(gate[i], up[i]);
}

__global__ void swiglu_oai_kernel(float* out, const float* gate, const float* up, uint64_t n) {
    kernel_begin();
    ORCD_GRID_STRIDE(i, n) out[i] = swiglu_oai_mul(gate[i], up[i]);
}

__global__ void gelu_kernel(float* out, const float* x, uint64_t n) {
    kernel_begin();
    ORCD_GRID_STRIDE(i, n) out[i] = gelu_tanh(x[i]);
}

__global__ void add_kernel(float* x, const float* y, uint64_t n) {
    kernel_begin();
    ORCD_GRID_STRIDE(i, n) x[i] += y[i];
}

__global__ void add_bias_kernel(float* y, const float* b, uint64_t n, uint64_t total) {
    kernel_begin();
    ORCD_GRID_STRIDE(i, total) y[i] += b[i % n];
}

__global__ void scale_kernel(float* x, uint64_t n, float t) {
    kernel_begin();
    ORCD_GRID_STRIDE(i, n) x[i] = x[i] / t;
}

__global__ void to_f16_kernel(__half* out, const float* x, uint64_t n) {
    kernel_begin();
    ORCD_GRID_STRIDE(i, n) out[i] = __float2half_rn(x[i]);
}

__global__ void store_kv_kernel(__half* kdst, __half* vdst, const float* k, const float* v, uint64_t n) {
    kernel_begin();
    ORCD_GRID_STRIDE(i, n) {
        kdst[i] = __float2half_rn(k[i]);
        vdst[i] = __float2half_rn(v[i]);
    }
}

}  // namespace

void swiglu(float* out, const float* gate, const float* up, uint64_t n, cudaStream_t stream) {
    if (n == 0) return;
    launch(swiglu_kernel, grid_for(n), kThreads, 0, stream, out, gate, up, n);
    check_launch("swiglu");
}

void swiglu_oai(float* out, const float* gate, const float* up, uint64_t n, cudaStream_t stream) {
    if (n == 0) return;
    launch(swiglu_oai_kernel, grid_for(n), kThreads, 0, stream, out, gate, up, n);
    check_launch("swiglu_oai");
}

void gelu(float* out, const float* x, uint64_t n, cudaStream_t stream) {
    if (n == 0) return;
    launch(gelu_kernel, grid_for(n), kThreads, 0, stream, out, x, n);
    check_launch("gelu");
}

void add_inplace(float* x, const float* y, uint64_t n, cudaStream_t stream) {
    if (n == 0) return;
    launch(add_kernel, grid_for(n), kThreads, 0, stream, x, y, n);
    check_launch("add_inplace");
}

void add_bias(float* y, const float* b, uint32_t n_rows, uint64_t n, cudaStream_t stream) {
    const uint64_t total = uint64_t(n_rows) * n;
    if (total == 0) return;
    launch(add_bias_kernel, grid_for(total), kThreads, 0, stream, y, b, n, total);
    check_launch("add_bias");
}

void scale_temperature(float* x, uint64_t n, float temperature, cudaStream_t stream) {
    if (n == 0) return;
    launch(scale_kernel, grid_for(n), kThreads, 0, stream, x, n, temperature);
    check_launch("scale_temperature");
}

void to_f16(f16_bits* out, const float* x, uint64_t n, cudaStream_t stream) {
    if (n == 0) return;
    launch(to_f16_kernel, grid_for(n), kThreads, 0, stream, reinterpret_cast<__half*>(out), x, n);
    check_launch("to_f16");
}

void store_kv(f16_bits* cache, const KvLayout& layout, uint32_t layer, uint32_t pos, const float* k, const float* v,
              uint32_t n_tokens, cudaStream_t stream) {
    const uint64_t n = uint64_t(n_tokens) * layout.row_elems();
    if (n == 0) return;
    __half* base = reinterpret_cast<__half*>(cache);
    launch(store_kv_kernel, grid_for(n), kThreads, 0, stream, base + layout.offset(layer, 0, pos),
           base + layout.offset(layer, 1, pos), k, v, n);
    check_launch("store_kv");
}

}  // namespace orcd::cuda
