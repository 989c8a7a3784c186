#include "backend/cuda/matmul.h"

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/reduce.cuh"
#include "common/error.h"

#include <cuda_fp16.h>

namespace orcd::cuda {
namespace {

constexpr int kThreads = 256;  // 8 warps = 8 rows per block

__device__ __forceinline__ float dot16(const uint4& raw, const float* x, const __half*) {
    const __half2* h2 = reinterpret_cast<const __half2*>(&raw);
    const float4 xa = *reinterpret_cast<const float4*>(x);
    const float4 xb = *reinterpret_cast<const float4*>(x + 4);
    const float2 w0 = __half22float2(h2[0]), w1 = __half22float2(h2[1]);
    const float2 w2 = __half22float2(h2[2]), w3 = __half22float2(h2[3]);
    float s = w0.x * xa.x;
    s += w0.y * xa.y;
    s += w1.x * xa.z;
    s += w1.y * xa.w;
    s += w2.x * xb.x;
    s += w2.y * xb.y;
    s += w3.x * xb.z;
    s += w3.y * xb.w;
    return s;
}

__device__ __forceinline__ float dot16(const uint4& raw, const float* x, const float*) {
    const float4 w = *reinterpret_cast<const float4*>(&raw);
    const float4 xa = *reinterpret_cast<const float4*>(x);
    float s = w.x * xa.x;
    s += w.y * xa.y;
    s += w.z * xa.z;
    s += w.w * xa.w;
    return s;
}

__device__ __forceinline__ float to_float(__half h) { return __half2float(h); }
__device__ __forceinline__ float to_float(float f) { return f; }

template <typename T, bool kVec>
__global__ void __launch_bounds__(kThreads) matvec_kernel(float* __restrict__ y, const float* __restrict__ x,
                                                          const T* __restrict__ W, uint32_t rows, uint32_t cols) {
    const uint32_t lane = threadIdx.x & 31;
    const uint32_t r = blockIdx.x * (kThreads / 32) + (threadIdx.x >> 5);
    if (r >= rows) return;  // whole warps leave together: the shuffles stay full
    const T* w = W + uint64_t(r) * cols;
    float sum = 0.0f;
    if constexpr (kVec) {
        constexpr uint32_t kPer = 16 / sizeof(T);
        // Unrolled so several 16-byte loads are in flight per lane; the sum
        // still runs over the chunks in index order.
#pragma unroll 4
        for (uint32_t c = lane * kPer; c < cols; c += 32 * kPer) {
            const uint4 raw = __ldcs(reinterpret_cast<const uint4*>(w + c));
            sum += dot16(raw, x + c, static_cast<const T*>(nullptr));
        }
    } else {
        for (uint32_t c = lane; c < cols; c += 32) sum += to_float(w[c]) * x[c];
    }
    sum = warp_sum(sum);
    if (lane == 0) y[r] = sum;
}

template <typename T>
void launch(float* y, const float* x, const T* w, uint32_t rows, uint32_t cols, cudaStream_t stream) {
    constexpr uint32_t kPer = 16 / sizeof(T);
    const bool vec = cols % kPer == 0 && reinterpret_cast<uintptr_t>(w) % 16 == 0 &&
                     reinterpret_cast<uintptr_t>(x) % 16 == 0;
    const unsigned grid = (rows + kThreads / 32 - 1) / (kThreads / 32);
    if (vec)
        matvec_kernel<T, true><<<grid, kThreads, 0, stream>>>(y, x, w, rows, cols);
    else
        matvec_kernel<T, false><<<grid, kThreads, 0, stream>>>(y, x, w, rows, cols);
}

}  // namespace

void matvec(float* y, const float* x, const DeviceMatrix& W, cudaStream_t stream) {
    if (W.ne0 > 0xffffffffull || W.ne1 > 0x7fffffffull) fail(ORCD_INTERNAL, "matvec: matrix too large");
    const uint32_t rows = uint32_t(W.ne1), cols = uint32_t(W.ne0);
    if (rows == 0) return;
    switch (W.type) {
        case gguf::TensorType::F32: launch(y, x, static_cast<const float*>(W.data), rows, cols, stream); break;
        case gguf::TensorType::F16: launch(y, x, static_cast<const __half*>(W.data), rows, cols, stream); break;
        default: fail(ORCD_INTERNAL, std::string("matvec: unsupported weight type ") + gguf::tensor_type_name(W.type));
    }
    check_launch("matvec");
}

}  // namespace orcd::cuda
