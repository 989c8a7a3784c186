// The batch-1 matrix-vector products of a decode step. Batch 1 reads every
// weight once per token, so the kernel exists to keep HBM busy: a block of
// 256 threads owns kDots rows, every thread issues all its 16-byte weight
// loads for two column sweeps (2 * kDots independent loads) before the first
// multiply, and the activation chunk it multiplies is loaded once for all
// kDots rows. Grids have thousands of blocks, several per SM.
//
// Sums have a fixed order: each thread adds its chunks (columns tid*per +
// k*256*per, k = 0, 1, ...) in index order, a warp butterfly combines the 32
// lanes, and one thread per row adds the 8 warp sums in warp order. No
// atomics. The same row of the same matrix gets the same bits whichever
// fused variant (QKV, SwiGLU, residual) computes it, so fusing changes no
// result.
//
// The RMSNorm before Q/K/V and gate/up is staged here as in the 8-bit
// products (matvec_q8.cu): each block normalises x into shared memory
// (stage_normed) instead of a one-block norm kernel writing it first, which
// was a launch and a kernel boundary on the step's critical path twice a
// layer. The scale's sum of squares is in rms_scale's order for a block of
// 256 (norm.cuh), so it may differ in its last bits from the norm kernel's,
// whose block is as wide as a quarter of the row.
#include "backend/cuda/matmul.h"

#include "backend/cuda/formats.h"

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/launch.cuh"
#include "backend/cuda/matvec_segment.cuh"
#include "backend/cuda/norm.cuh"
#include "backend/cuda/pointwise.cuh"
#include "backend/cuda/reduce.cuh"
#include "common/error.h"

#include <cuda_fp16.h>

#include <type_traits>
#include <string>

namespace orcd::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kDots = 4;  // row products per block
// Passes of 4 elements a thread that stage_normed holds in registers: rows
// of up to kPlainNormCols elements (formats.h) stage the norm.
constexpr uint32_t kNormPasses = kPlainNormCols / (4 * kThreads);
static_assert(kNormPasses * 4 * kThreads == kPlainNormCols);

// xn = RMSNorm(x) * norm_w for the block. Before the wait (the weights do
// not depend on earlier kernels) xn holds norm_w; after it each thread loads
// its elements of x (4t .. 4t + 3, then 1024 further, as rms_scale reads
// them), forms the scale and overwrites the same elements of xn with
// x * scale * w. Callers check cols % 4 == 0, cols <= kPlainNormCols and the
// alignment of x and norm_w.
__device__ __forceinline__ void load_norm_w(float* xn, const MatvecArgs& a) {
    const float4* w4 = reinterpret_cast<const float4*>(a.norm_w);
    float4* xn4 = reinterpret_cast<float4*>(xn);
    for (uint32_t i = threadIdx.x; i < a.cols / 4; i += kThreads) xn4[i] = w4[i];
}

__device__ __forceinline__ void stage_normed(float* xn, const MatvecArgs& a, float* scratch) {
    const float4* x4 = reinterpret_cast<const float4*>(a.x);
    float4* xn4 = reinterpret_cast<float4*>(xn);
    const uint32_t n4 = a.cols / 4;
    float4 v[kNormPasses];
#pragma unroll
    for (uint32_t k = 0; k < kNormPasses; ++k) {
        const uint32_t i = threadIdx.x + k * kThreads;
        v[k] = i < n4 ? x4[i] : make_float4(0, 0, 0, 0);
    }
    const float scale = rms_scale_of(v, a.cols, a.norm_eps, scratch);
#pragma unroll
    for (uint32_t k = 0; k < kNormPasses; ++k) {
        const uint32_t i = threadIdx.x + k * kThreads;
        if (i < n4) xn4[i] = scaled(v[k], xn4[i], scale);
    }
    __syncthreads();
}

// Products of one 16-byte weight chunk with its activations, in element order.
__device__ __forceinline__ float dot_chunk(const uint4& raw, const float* xs, const __half*) {
    const __half2* h2 = reinterpret_cast<const __half2*>(&raw);
    const float2 w0 = __half22float2(h2[0]), w1 = __half22float2(h2[1]);
    const float2 w2 = __half22float2(h2[2]), w3 = __half22float2(h2[3]);
    float s = w0.x * xs[0];
    s += w0.y * xs[1];
    s += w1.x * xs[2];
    s += w1.y * xs[3];
    s += w2.x * xs[4];
    s += w2.y * xs[5];
    s += w3.x * xs[6];
    s += w3.y * xs[7];
    return s;
}

__device__ __forceinline__ float dot_chunk(const uint4& raw, const float* xs, const float*) {
    const float4 w = *reinterpret_cast<const float4*>(&raw);
    float s = w.x * xs[0];
    s += w.y * xs[1];
    s += w.z * xs[2];
    s += w.w * xs[3];
    return s;
}

__device__ __forceinline__ float to_float(__half h) { return __half2float(h); }
__device__ __forceinline__ float to_float(float f) { return f; }

// kNorm: the product is of RMSNorm(x) * a.norm_w, staged in shared memory
// (dynamic, cols floats); only with kVec.
template <typename T, bool kVec, Epilogue kEpi, bool kNorm = false>
__global__ void __launch_bounds__(kThreads) matvec_kernel(const MatvecArgs a) {
    static_assert(!kNorm || kVec);
    // SwiGLU: the first half of the products are gate rows, the second half
    // the same rows of up.
    constexpr int kOut = kEpi == Epilogue::SwiGlu ? kDots / 2 : kDots;
    __shared__ float part[kDots][kWarps];
    extern __shared__ float4 xn4[];

    const MatvecSegment g = segment_of(a, blockIdx.x);
    const uint32_t cols = a.cols;
    const uint32_t r0 = (blockIdx.x - g.block_begin) * kOut;

    // Rows past the end repeat the last row (their results are dropped), so
    // every thread runs the same loop and the barriers stay uniform.
    const T* w[kDots];
#pragma unroll
    for (int i = 0; i < kDots; ++i) {
        const uint32_t r = min(r0 + uint32_t(i % kOut), g.rows - 1);
        const void* base = (kEpi == Epilogue::SwiGlu && i >= kOut) ? a.w_up : g.w;
        w[i] = static_cast<const T*>(base) + uint64_t(r) * cols;
    }
    // The weights do not depend on earlier kernels: asked of L2 while the
    // predecessor finishes (launch.cuh).
#pragma unroll
    for (int i = 0; i < kDots; ++i) prefetch_l2(w[i], uint64_t(cols) * sizeof(T));
    const float* __restrict__ x = a.x;
    if constexpr (kNorm) {
        __shared__ float scratch[32];
        float* xn = reinterpret_cast<float*>(xn4);
        load_norm_w(xn, a);
        kernel_begin();
        stage_normed(xn, a, scratch);
        x = xn;
    } else {
        kernel_begin();
    }

    float acc[kDots];
#pragma unroll
    for (int i = 0; i < kDots; ++i) acc[i] = 0.0f;

    if constexpr (kVec) {
        constexpr uint32_t kPer = 16 / sizeof(T);
        constexpr uint32_t kSweep = kThreads * kPer;
        for (uint32_t c0 = threadIdx.x * kPer; c0 < cols; c0 += 2 * kSweep) {
            const uint32_t c1 = c0 + kSweep;
            const bool has1 = c1 < cols;
            // All weight loads first: 2 * kDots requests in flight per thread.
            uint4 w0[kDots], w1[kDots];
#pragma unroll
            for (int i = 0; i < kDots; ++i) w0[i] = __ldcs(reinterpret_cast<const uint4*>(w[i] + c0));
#pragma unroll
            for (int i = 0; i < kDots; ++i)
                w1[i] = has1 ? __ldcs(reinterpret_cast<const uint4*>(w[i] + c1)) : make_uint4(0, 0, 0, 0);
            float xs[kPer];
#pragma unroll
            for (uint32_t e = 0; e < kPer; e += 4) *reinterpret_cast<float4*>(xs + e) = *reinterpret_cast<const float4*>(x + c0 + e);
#pragma unroll
            for (int i = 0; i < kDots; ++i) acc[i] += dot_chunk(w0[i], xs, static_cast<const T*>(nullptr));
            if (has1) {
#pragma unroll
                for (uint32_t e = 0; e < kPer; e += 4)
                    *reinterpret_cast<float4*>(xs + e) = *reinterpret_cast<const float4*>(x + c1 + e);
#pragma unroll
                for (int i = 0; i < kDots; ++i) acc[i] += dot_chunk(w1[i], xs, static_cast<const T*>(nullptr));
            }
        }
    } else {
        for (uint32_t c = threadIdx.x; c < cols; c += kThreads) {
            const float xv = x[c];
#pragma unroll
            for (int i = 0; i < kDots; ++i) acc[i] += to_float(w[i][c]) * xv;
        }
    }

    const uint32_t lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
#pragma unroll
    for (int i = 0; i < kDots; ++i) {
        const float v = warp_sum(acc[i]);
        if (lane == 0) part[i][warp] = v;
    }
    __syncthreads();
    if (threadIdx.x < uint32_t(kOut)) {
        const uint32_t o = threadIdx.x, r = r0 + o;
        if (r < g.rows) {
            float s = 0.0f;
            for (int k = 0; k < kWarps; ++k) s += part[o][k];
            if (g.bias) s += g.bias[r];  // as cpu::add_bias after the product
            if constexpr (kEpi == Epilogue::Store) {
                g.y[r] = s;
            } else if constexpr (kEpi == Epilogue::Add) {
                g.y[r] = g.y[r] + s;  // the residual add of elementwise.cu, x + proj
            } else {
                float u = 0.0f;
                for (int k = 0; k < kWarps; ++k) u += part[o + kOut][k];
                if (a.bias_up) u += a.bias_up[r];
                // as swiglu() / swiglu_oai() in elementwise.cu
                g.y[r] = a.act == GateAct::Silu ? silu_mul(s, u) : swiglu_oai_mul(s, u);
            }
        }
    }
}

uint32_t checked_rows(const DeviceMatrix& W) {
    if (W.ne0 > 0xffffffffull || W.ne1 > 0x7fffffffull) fail(ORCD_INTERNAL, "matvec: matrix too large");
    return uint32_t(W.ne1);
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// The F32 and F16 entries of the format table: one kernel instance per
// element type, the 16-byte path when the row length and every pointer allow.
// The norm is staged on the 16-byte path for rows of up to kPlainNormCols
// (formats.h: Q/K/V and gate/up of a model up to 2048 wide); otherwise the entry
// declines it and the caller normalises into a buffer first.
template <typename T>
bool matvec_plain(const MatvecArgs& args, Epilogue e, cudaStream_t stream) {
    MatvecArgs a = args;
    constexpr uint32_t per = 16 / sizeof(T);
    bool vec = a.cols % per == 0 && aligned16(a.x);
    for (uint32_t s = 0; s < a.n_seg; ++s) vec = vec && aligned16(a.seg[s].w);
    if (e == Epilogue::SwiGlu) vec = vec && aligned16(a.w_up);
    const bool norm = a.norm_w != nullptr;
    if (norm && !(vec && e != Epilogue::Add && a.cols <= kPlainNormCols && aligned16(a.norm_w))) return false;
    const uint32_t kOut = e == Epilogue::SwiGlu ? kDots / 2 : kDots;
    const unsigned grid = assign_segment_units(a, kOut);
    if (grid == 0) return true;
    auto launch_for = [&](auto epi) {
        constexpr Epilogue kE = decltype(epi)::value;
        if constexpr (kE != Epilogue::Add) {
            if (norm) {
                launch(matvec_kernel<T, true, kE, true>, grid, kThreads, size_t(a.cols) * sizeof(float), stream, a);
                return;
            }
        }
        if (vec)
            launch(matvec_kernel<T, true, kE>, grid, kThreads, 0, stream, a);
        else
            launch(matvec_kernel<T, false, kE>, grid, kThreads, 0, stream, a);
    };
    switch (e) {
        case Epilogue::Store: launch_for(std::integral_constant<Epilogue, Epilogue::Store>{}); break;
        case Epilogue::Add: launch_for(std::integral_constant<Epilogue, Epilogue::Add>{}); break;
        case Epilogue::SwiGlu: launch_for(std::integral_constant<Epilogue, Epilogue::SwiGlu>{}); break;
    }
    return true;
}

const Format& format_or_fail(gguf::TensorType type) {
    const Format* f = format_of(type);
    if (!f) fail(ORCD_INTERNAL, std::string("matvec: unsupported weight type ") + gguf::tensor_type_name(type));
    return *f;
}

MatvecArgs args_for(const float* x, uint32_t cols, uint32_t n_seg, const RowNorm* norm = nullptr) {
    MatvecArgs a{};
    a.x = x;
    a.cols = cols;
    a.n_seg = n_seg;
    a.act = GateAct::Silu;
    if (norm) {
        a.norm_w = norm->w;
        a.norm_eps = norm->eps;
    }
    return a;
}

// One product through the format table; a norm the kernel cannot stage is
// applied by rmsnorm() into norm_out first.
void run(const MatvecArgs& a, gguf::TensorType type, Epilogue e, cudaStream_t stream, const char* name,
         float* norm_out = nullptr) {
    const Format& f = format_or_fail(type);
    if (!f.matvec(a, e, stream)) {
        if (!a.norm_w || !norm_out) fail(ORCD_INTERNAL, std::string(name) + ": the format refused the product");
        rmsnorm(norm_out, a.x, a.norm_w, 1, a.cols, a.norm_eps, stream);
        MatvecArgs b = a;
        b.x = norm_out;
        b.norm_w = nullptr;
        if (!f.matvec(b, e, stream)) fail(ORCD_INTERNAL, std::string(name) + ": the format refused the product");
    }
    check_launch(name);
}

}  // namespace

bool matvec_f32(const MatvecArgs& a, Epilogue e, cudaStream_t stream) { return matvec_plain<float>(a, e, stream); }
bool matvec_f16(const MatvecArgs& a, Epilogue e, cudaStream_t stream) { return matvec_plain<__half>(a, e, stream); }

void matvec(float* y, const float* x, const DeviceMatrix& W, cudaStream_t stream, const float* bias) {
    MatvecArgs a = args_for(x, uint32_t(W.ne0), 1);
    a.seg[0] = MatvecSegment{W.data, y, bias, checked_rows(W), 0};
    run(a, W.type, Epilogue::Store, stream, "matvec");
}

void matvec_add(float* y, const float* x, const DeviceMatrix& W, cudaStream_t stream, const float* bias) {
    MatvecArgs a = args_for(x, uint32_t(W.ne0), 1);
    a.seg[0] = MatvecSegment{W.data, y, bias, checked_rows(W), 0};
    run(a, W.type, Epilogue::Add, stream, "matvec_add");
}

void matvec_qkv(float* q, float* k, float* v, const float* x, const DeviceMatrix& Wq, const DeviceMatrix& Wk,
                const DeviceMatrix& Wv, cudaStream_t stream, const float* bq, const float* bk, const float* bv,
                const RowNorm* norm) {
    // Matrices of one type and length share a launch (one kernel instance).
    // Quantized files often give V (or Q and K) another type than the rest
    // (Q4_K_M: Q6_K or Q8_0 on some layers' V): where the format table has a
    // kernel for the pair (Format::matvec_then) both types still share one
    // launch, otherwise each type takes its own. Without a norm each row
    // gets the same bits in any grouping; with one, h's scale is summed in
    // the launch's block size (norm.cuh), which the grouping may change.
    const DeviceMatrix* W[3] = {&Wq, &Wk, &Wv};
    float* y[3] = {q, k, v};
    const float* b[3] = {bq, bk, bv};
    // The groups of one type, in order of their first matrix.
    MatvecArgs group[3];
    gguf::TensorType type[3];
    uint32_t n_groups = 0;
    bool done[3] = {false, false, false};
    for (int i = 0; i < 3; ++i) {
        if (done[i]) continue;
        MatvecArgs& a = group[n_groups];
        a = args_for(x, uint32_t(W[i]->ne0), 0, norm);
        type[n_groups++] = W[i]->type;
        for (int j = i; j < 3; ++j) {
            if (done[j] || W[j]->type != W[i]->type || W[j]->ne0 != W[i]->ne0) continue;
            a.seg[a.n_seg++] = MatvecSegment{W[j]->data, y[j], b[j], checked_rows(*W[j]), 0};
            done[j] = true;
        }
    }
    if (n_groups == 2 && group[0].cols == group[1].cols) {
        for (uint32_t first = 0; first < 2; ++first) {  // either type's segments first
            const Format& f = format_or_fail(type[first]);
            if (!f.matvec_then) continue;
            MatvecArgs a = group[first];
            const uint32_t n_first = a.n_seg;
            for (uint32_t s = 0; s < group[1 - first].n_seg; ++s) a.seg[a.n_seg++] = group[1 - first].seg[s];
            if (f.matvec_then(a, n_first, type[1 - first], stream)) {
                check_launch("matvec_qkv");
                return;
            }
        }
    }
    for (uint32_t i = 0; i < n_groups; ++i)
        run(group[i], type[i], Epilogue::Store, stream, "matvec_qkv", norm ? norm->out : nullptr);
}

void matvec_swiglu(float* out, const float* x, const DeviceMatrix& Wg, const DeviceMatrix& Wu, cudaStream_t stream,
                   const float* bg, const float* bu, GateAct act, const RowNorm* norm) {
    if (Wg.type != Wu.type || Wg.ne0 != Wu.ne0 || Wg.ne1 != Wu.ne1)
        fail(ORCD_INTERNAL, "matvec_swiglu: gate and up matrices differ in type or shape");
    MatvecArgs a = args_for(x, uint32_t(Wg.ne0), 1, norm);
    a.seg[0] = MatvecSegment{Wg.data, out, bg, checked_rows(Wg), 0};
    a.w_up = Wu.data;
    a.bias_up = bu;
    a.act = act;
    run(a, Wg.type, Epilogue::SwiGlu, stream, "matvec_swiglu", norm ? norm->out : nullptr);
}

}  // namespace orcd::cuda
