// The block formats' entries of the format table (quant_blocks.cuh): F16
// decoding for the tensor-core GEMM of prefill, embedding lookup, and the
// batch-1 and expert products. Formats with integer codes or a small-integer
// code book take the 8-bit-activation kernels (matvec_q8.cu) at decode; the
// others (Q2_K, Q3_K, IQ4_XS, BF16), and rows too long to stage, take the
// team kernels here, which multiply in F32 with x read from global memory.
//
// Team matvec layout: a warp owns kRows rows; its 32 lanes form 4 teams of 8, a
// team reads one 32-element unit of the row (lane g of the team: elements
// 4g .. 4g+3), so a warp step reads 128 consecutive elements of x with one
// 16-byte load per lane and the weights of 4 units. Each lane sums its
// groups in step order (per unit: scale * sum(code * x) + bias * sum(x)),
// a butterfly combines the 32 lanes, and lane 0 applies the epilogue. The
// order is fixed: the same row gets the same bits in every launch.
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/formats.h"
#include "backend/cuda/kernels.h"
#include "backend/cuda/launch.cuh"
#include "backend/cuda/pointwise.cuh"
#include "backend/cuda/matvec_q8.h"
#include "backend/cuda/matvec_segment.cuh"
#include "backend/cuda/moe_epilogue.cuh"
#include "backend/cuda/quant_blocks.cuh"
#include "backend/cuda/quant_q8.cuh"
#include "backend/cuda/reduce.cuh"
#include "common/error.h"

#include <cuda_fp16.h>

#include <algorithm>
#include <type_traits>

namespace orcd::cuda {
namespace {

constexpr int kWarps = 8;
constexpr int kThreads = kWarps * 32;
constexpr int kRowsPerWarp = 2;  // rows sharing each load of x

// The dot of one row's group with x (4 elements), as scale * sum + bias * sum(x).
template <class F>
__device__ __forceinline__ float group_dot(const uint8_t* row, uint32_t u, uint32_t g, const float4& x) {
    const quant::Group q = F::group(row, u, g);
    float s = q.q[0] * x.x;
    s += q.q[1] * x.y;
    s += q.q[2] * x.z;
    s += q.q[3] * x.w;
    float sx = x.x;
    sx += x.y;
    sx += x.z;
    sx += x.w;
    return q.scale * (s + q.offset * sx) + q.bias * sx;
}

template <class F, Epilogue kEpi>
__global__ void __launch_bounds__(kThreads) qmatvec_kernel(const MatvecArgs a) {
    kernel_begin();
    // SwiGlu: one output row per warp from a gate row and an up row.
    constexpr int kOut = kEpi == Epilogue::SwiGlu ? 1 : kRowsPerWarp;
    constexpr int kDots = kEpi == Epilogue::SwiGlu ? 2 : kRowsPerWarp;
    const MatvecSegment seg = segment_of(a, blockIdx.x);
    const uint32_t lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const uint32_t r0 = ((blockIdx.x - seg.block_begin) * kWarps + warp) * kOut;
    if (r0 >= seg.rows) return;  // whole warp: no barrier below
    const uint64_t row_bytes = quant::row_bytes_of<F>(a.cols);
    const uint8_t* rows[kDots];
#pragma unroll
    for (int i = 0; i < kDots; ++i) {
        // Rows past the end repeat the last row (their results are dropped).
        const uint32_t r = kEpi == Epilogue::SwiGlu ? r0 : min(r0 + uint32_t(i), seg.rows - 1);
        const void* base = (kEpi == Epilogue::SwiGlu && i == 1) ? a.w_up : seg.w;
        rows[i] = static_cast<const uint8_t*>(base) + r * row_bytes;
    }
    const uint32_t n_units = a.cols / 32, team = lane / 8, g = lane % 8;
    float acc[kDots];
#pragma unroll
    for (int i = 0; i < kDots; ++i) acc[i] = 0.0f;
#pragma unroll 2
    for (uint32_t u = team; u < n_units; u += 4) {
        const float4 xv = *reinterpret_cast<const float4*>(a.x + 32 * u + 4 * g);
#pragma unroll
        for (int i = 0; i < kDots; ++i) acc[i] += group_dot<F>(rows[i], u, g, xv);
    }
#pragma unroll
    for (int i = 0; i < kDots; ++i) acc[i] = warp_sum(acc[i]);
    if (lane == 0) store_rows<kEpi, kOut>(a, seg, r0, acc);
}

template <class F>
void qmatvec(const MatvecArgs& args, Epilogue e, cudaStream_t stream) {
    MatvecArgs a = args;
    if (a.cols % 32 != 0 || a.cols % F::kElems != 0) fail(ORCD_INTERNAL, "qmatvec: row length not a whole number of blocks");
    const uint32_t rows_per_block = kWarps * (e == Epilogue::SwiGlu ? 1 : kRowsPerWarp);
    const uint32_t blocks = assign_segment_units(a, rows_per_block);
    if (blocks == 0) return;
    switch (e) {
        case Epilogue::Store: launch(qmatvec_kernel<F, Epilogue::Store>, blocks, kThreads, 0, stream, a); break;
        case Epilogue::Add: launch(qmatvec_kernel<F, Epilogue::Add>, blocks, kThreads, 0, stream, a); break;
        case Epilogue::SwiGlu: launch(qmatvec_kernel<F, Epilogue::SwiGlu>, blocks, kThreads, 0, stream, a); break;
    }
}

// out[r][c] = F16 of the element; one 8-lane team per unit, a block's 32
// teams on consecutive units of a row (blockIdx.x), rows by blockIdx.y. The
// prefill decodes every weight through here, so the indexing is kept to a
// few 32-bit operations (a 64-bit division per 4 elements made the kernel
// issue-bound below the memory's rate) and each lane stores its 4 halves
// at once.
constexpr uint32_t kF16Teams = 32;  // teams (units) of a 256-thread block

template <class F>
__global__ void to_f16_kernel(__half* out, const uint8_t* w, uint32_t ne0, uint32_t rows) {
    kernel_begin();
    const uint32_t units_per_row = ne0 / 32, g = threadIdx.x % 8;
    const uint32_t u = blockIdx.x * kF16Teams + threadIdx.x / 8;
    if (u >= units_per_row) return;
    const uint64_t row_bytes = quant::row_bytes_of<F>(ne0);
    for (uint32_t r = blockIdx.y; r < rows; r += gridDim.y) {
        const quant::Group q = F::group(w + r * row_bytes, u, g);
        const __half2 a = __floats2half2_rn(q.value(0), q.value(1)), b = __floats2half2_rn(q.value(2), q.value(3));
        uint2 v;
        v.x = *reinterpret_cast<const uint32_t*>(&a);
        v.y = *reinterpret_cast<const uint32_t*>(&b);
        *reinterpret_cast<uint2*>(out + uint64_t(r) * ne0 + 32 * u + 4 * g) = v;
    }
}

template <class F>
void to_f16(uint16_t* out, const void* w, uint64_t ne0, uint64_t rows, cudaStream_t stream) {
    if (ne0 > 0xffffffffull || rows > 0xffffffffull) fail(ORCD_INTERNAL, "to_f16: matrix too large");
    if (rows == 0 || ne0 == 0) return;
    const dim3 grid(unsigned((ne0 / 32 + kF16Teams - 1) / kF16Teams), unsigned(std::min<uint64_t>(rows, 65535)));
    launch(to_f16_kernel<F>, grid, 8 * kF16Teams, 0, stream, reinterpret_cast<__half*>(out),
           static_cast<const uint8_t*>(w), uint32_t(ne0), uint32_t(rows));
}

// out[t][:] = the row ids[t], in F32: one block per token, teams over units.
template <class F>
__global__ void embed_kernel(float* out, const uint8_t* table, uint64_t row_len, const int32_t* ids) {
    kernel_begin();
    const uint64_t row_bytes = quant::row_bytes_of<F>(row_len);
    const uint8_t* row = table + uint64_t(ids[blockIdx.x]) * row_bytes;
    float* o = out + uint64_t(blockIdx.x) * row_len;
    for (uint32_t t = threadIdx.x / 8; t < row_len / 32; t += blockDim.x / 8) {
        const uint32_t g = threadIdx.x % 8;
        const quant::Group q = F::group(row, t, g);
        // The element's value, to the bit the CPU reference's.
#pragma unroll
        for (int i = 0; i < 4; ++i) o[32 * t + 4 * g + i] = q.value(i);
    }
}

template <class F>
void embed(float* out, const void* table, uint64_t row_len, const int32_t* ids, uint32_t n, cudaStream_t stream) {
    launch(embed_kernel<F>, n, 256, 0, stream, out, static_cast<const uint8_t*>(table), row_len, ids);
}

// ---- Mixture of experts ----------------------------------------------------------

constexpr uint32_t kMaxUsed = 8;  // experts per token a launch handles

// One warp per (row, selected expert, token): the gate and up rows of that
// expert against the token's x, then the gate activation.
template <class F>
__global__ void __launch_bounds__(kThreads) moe_gate_up_kernel(const MoeGateUpArgs a) {
    kernel_begin();
    const uint32_t lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const uint32_t r = blockIdx.x * kWarps + warp, slot = blockIdx.y, t = blockIdx.z;
    if (r >= a.rows) return;
    const uint32_t e = uint32_t(a.ids[t * a.n_used + slot]);
    const uint64_t row_bytes = quant::row_bytes_of<F>(a.cols);
    const uint8_t* g_row = static_cast<const uint8_t*>(a.gate) + e * a.expert_bytes + r * row_bytes;
    const uint8_t* u_row = static_cast<const uint8_t*>(a.up) + e * a.expert_bytes + r * row_bytes;
    const float* x = a.x + uint64_t(t) * a.cols;
    const uint32_t n_units = a.cols / 32, team = lane / 8, g = lane % 8;
    float gs = 0.0f, us = 0.0f;
#pragma unroll 2
    for (uint32_t u = team; u < n_units; u += 4) {
        const float4 xv = *reinterpret_cast<const float4*>(x + 32 * u + 4 * g);
        gs += group_dot<F>(g_row, u, g, xv);
        us += group_dot<F>(u_row, u, g, xv);
    }
    gs = warp_sum(gs);
    us = warp_sum(us);
    if (lane != 0) return;
    if (a.b_gate) gs += a.b_gate[uint64_t(e) * a.rows + r];
    if (a.b_up) us += a.b_up[uint64_t(e) * a.rows + r];
    a.out[(uint64_t(t) * a.n_used + slot) * a.rows + r] = a.act == GateAct::Silu ? silu_mul(gs, us) : swiglu_oai_mul(gs, us);
}

// One warp per (row, token): the down rows of the token's selected experts,
// each against its activation, summed with the routing weights in
// selection order into x (the residual add).
template <class F>
__global__ void __launch_bounds__(kThreads) moe_down_kernel(const MoeDownArgs a) {
    kernel_begin();
    const uint32_t lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const uint32_t r = blockIdx.x * kWarps + warp, t = blockIdx.y;
    if (r >= a.rows) return;
    const uint64_t row_bytes = quant::row_bytes_of<F>(a.cols);
    const uint32_t n_units = a.cols / 32, team = lane / 8, g = lane % 8;
    float acc = 0.0f;
    for (uint32_t j = 0; j < a.n_used; ++j) {
        const uint32_t e = uint32_t(a.ids[t * a.n_used + j]);
        const uint8_t* row = static_cast<const uint8_t*>(a.down) + e * a.expert_bytes + r * row_bytes;
        const float* act = a.act + (uint64_t(t) * a.n_used + j) * a.cols;
        float s = 0.0f;
#pragma unroll 2
        for (uint32_t u = team; u < n_units; u += 4)
            s += group_dot<F>(row, u, g, *reinterpret_cast<const float4*>(act + 32 * u + 4 * g));
        acc = moe_down_add(a, t, j, e, r, warp_sum(s), acc);
    }
    if (lane == 0) a.x[uint64_t(t) * a.rows + r] = a.x[uint64_t(t) * a.rows + r] + acc;
}

// Writes no rounded units: the team kernels' down product reads F32.
template <class F>
bool moe_gate_up(const MoeGateUpArgs& a, cudaStream_t stream) {
    if (a.n_used > kMaxUsed || a.cols % 32 != 0) fail(ORCD_INTERNAL, "moe_gate_up: shape outside the kernel");
    const dim3 grid((a.rows + kWarps - 1) / kWarps, a.n_used, a.n_tokens);
    launch(moe_gate_up_kernel<F>, grid, kThreads, 0, stream, a);
    return false;
}

template <class F>
void moe_down(const MoeDownArgs& a, cudaStream_t stream) {
    if (a.n_used > kMaxUsed || a.cols % 32 != 0) fail(ORCD_INTERNAL, "moe_down: shape outside the kernel");
    const dim3 grid((a.rows + kWarps - 1) / kWarps, a.n_tokens);
    launch(moe_down_kernel<F>, grid, kThreads, 0, stream, a);
}

}  // namespace

// The team kernels read x from global memory: they do not stage a norm.
template <class F>
bool qmatvec_entry(const MatvecArgs& a, Epilogue e, cudaStream_t stream) {
    if (a.norm_w) return false;
    qmatvec<F>(a, e, stream);
    return true;
}

template <class F>
const Format quant_format(gguf::TensorType type) {
    return Format{type, qmatvec_entry<F>, to_f16<F>, embed<F>, moe_gate_up<F>, moe_down<F>, false};
}

// Formats with integer codes (or a code book of small integers) multiply
// against 8-bit activations at decode, the expert products included
// (quant_q8.cuh); rows too long for their x to be staged in shared memory
// take the team kernels above, which read x from global memory.
template <class V, class F>
bool qmatvec_q8(const MatvecArgs& a, Epilogue e, cudaStream_t stream) {
    if (a.cols % F::kElems != 0) fail(ORCD_INTERNAL, "qmatvec: row length not a whole number of blocks");
    return q8_matvec<V>(a, e, quant::row_bytes_of<F>(a.cols), stream) || qmatvec_entry<F>(a, e, stream);
}
template <class V, class F>
bool moe_gate_up_q8(const MoeGateUpArgs& a, cudaStream_t stream) {
    if (q8_moe_gate_up<V>(a, quant::row_bytes_of<F>(a.cols), stream)) return q8_moe_rounds_units(a);
    return moe_gate_up<F>(a, stream);
}
template <class V, class F>
void moe_down_q8(const MoeDownArgs& a, cudaStream_t stream) {
    if (!q8_moe_down<V>(a, quant::row_bytes_of<F>(a.cols), stream)) moe_down<F>(a, stream);
}

template <class V, class F>
const Format q8_format(gguf::TensorType type) {
    return Format{type, qmatvec_q8<V, F>, to_f16<F>, embed<F>, moe_gate_up_q8<V, F>, moe_down_q8<V, F>, true};
}

// Format::matvec_then of V's format (F) followed by VB's (FB, type kNext).
template <class V, class F, class VB, class FB, gguf::TensorType kNext>
bool qmatvec_q8_then(const MatvecArgs& a, uint32_t n_first, gguf::TensorType next, cudaStream_t stream) {
    if (next != kNext || a.cols % F::kElems != 0 || a.cols % FB::kElems != 0) return false;
    return q8_matvec_pair<V, VB>(a, n_first, quant::row_bytes_of<F>(a.cols), quant::row_bytes_of<FB>(a.cols), stream);
}

template <class V, class F, class VB, class FB, gguf::TensorType kNext>
const Format q8_format_then(gguf::TensorType type) {
    Format f = q8_format<V, F>(type);
    f.matvec_then = qmatvec_q8_then<V, F, VB, FB, kNext>;
    return f;
}

// MXFP4 experts regrouped (MXFP4G): unit i of the rows (17 bytes at src + 17
// i) to its places in the regrouped row; the scale bytes a last group does
// not use stay as the memset left them, zero.
__global__ void regroup_mxfp4_kernel(uint8_t* dst, const uint8_t* src, uint32_t n_units, uint64_t n, uint64_t dst_row) {
    const uint64_t i = blockIdx.x * uint64_t(blockDim.x) + threadIdx.x;
    if (i >= n) return;
    const uint64_t r = i / n_units;
    const uint32_t u = uint32_t(i % n_units);
    const uint8_t* b = src + i * quant::MXFP4::kBytes;
    uint8_t* row = dst + r * dst_row;
    uint32_t w[4];
#pragma unroll
    for (int k = 0; k < 4; ++k)
        w[k] = uint32_t(b[1 + 4 * k]) | uint32_t(b[2 + 4 * k]) << 8 | uint32_t(b[3 + 4 * k]) << 16 |
               uint32_t(b[4 + 4 * k]) << 24;
    *reinterpret_cast<uint4*>(row + quant::MXFP4G::codes_at(u)) = make_uint4(w[0], w[1], w[2], w[3]);
    row[quant::MXFP4G::scale_at(u)] = b[0];
}

uint64_t mxfp4g_row_bytes(uint64_t ne0) { return quant::MXFP4G::row_bytes(ne0); }

// dst and src must not overlap; dst 16-byte aligned.
void regroup_mxfp4(uint8_t* dst, const uint8_t* src, uint64_t ne0, uint64_t rows, cudaStream_t stream) {
    const uint64_t dst_row = quant::MXFP4G::row_bytes(ne0), n = rows * (ne0 / 32);
    if (ne0 % 32 != 0 || reinterpret_cast<uintptr_t>(dst) % 16 != 0)
        fail(ORCD_INTERNAL, "regroup_mxfp4: rows of whole units at a 16-byte boundary");
    if (n == 0) return;
    ORCD_CUDA_CHECK(cudaMemsetAsync(dst, 0, rows * dst_row, stream));
    constexpr uint32_t kThreads = 256;
    regroup_mxfp4_kernel<<<uint32_t((n + kThreads - 1) / kThreads), kThreads, 0, stream>>>(dst, src, uint32_t(ne0 / 32),
                                                                                         n, dst_row);
    check_launch("regroup_mxfp4");
}

// MXFP4 experts in VRAM: regrouped at load (quant_blocks.cuh, MXFP4G), so
// the expert products load a unit's codes as one aligned 16-byte word;
// prompt chunks multiply them as they are (moe_gemm.cu). Dense products
// on this layout (never made by the adapters) take the team kernels.
const Format kMxfp4Experts = [] {
    Format f{gguf::TensorType::MXFP4,
             qmatvec_entry<quant::MXFP4G>,
             to_f16<quant::MXFP4G>,
             embed<quant::MXFP4G>,
             moe_gate_up_q8<quant::MXFP4GQ, quant::MXFP4G>,
             moe_down_q8<quant::MXFP4GQ, quant::MXFP4G>,
             true};
    f.moe_grouped = moe_grouped_mxfp4;
    f.row_bytes = mxfp4g_row_bytes;
    f.regroup = regroup_mxfp4;
    return f;
}();

const Format mxfp4_format() {
    Format f = q8_format<quant::MXFP4Q, quant::MXFP4>(gguf::TensorType::MXFP4);
    f.experts = &kMxfp4Experts;
    return f;
}

// The entries of the format table (formats.cpp) for the block formats.
const Format kQuantFormats[] = {
    q8_format<quant::Q4_0Q, quant::Q4_0>(gguf::TensorType::Q4_0),
    q8_format<quant::Q4_1Q, quant::Q4_1>(gguf::TensorType::Q4_1),
    q8_format_then<quant::Q5_0Q, quant::Q5_0, quant::Q8_0Q, quant::Q8_0, gguf::TensorType::Q8_0>(gguf::TensorType::Q5_0),
    q8_format<quant::Q5_1Q, quant::Q5_1>(gguf::TensorType::Q5_1),
    q8_format<quant::Q8_0Q, quant::Q8_0>(gguf::TensorType::Q8_0),
    quant_format<quant::Q2_K>(gguf::TensorType::Q2_K),
    quant_format<quant::Q3_K>(gguf::TensorType::Q3_K),
    q8_format_then<quant::Q4_KQ, quant::Q4_K, quant::Q6_KQ, quant::Q6_K, gguf::TensorType::Q6_K>(gguf::TensorType::Q4_K),
    q8_format<quant::Q5_KQ, quant::Q5_K>(gguf::TensorType::Q5_K),
    q8_format<quant::Q6_KQ, quant::Q6_K>(gguf::TensorType::Q6_K),
    q8_format<quant::IQ4_NLQ, quant::IQ4_NL>(gguf::TensorType::IQ4_NL),
    quant_format<quant::IQ4_XS>(gguf::TensorType::IQ4_XS),
    mxfp4_format(),
    quant_format<quant::BF16>(gguf::TensorType::BF16),
};
const size_t kQuantFormatCount = sizeof(kQuantFormats) / sizeof(kQuantFormats[0]);

}  // namespace orcd::cuda
