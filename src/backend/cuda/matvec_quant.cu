// The batch-1 products, F16 decoding (for the tensor-core GEMM of prefill)
// and embedding lookup of the block formats (quant_blocks.cuh), one kernel
// template instantiated per format: the format table's entries.
//
// Matvec layout: a warp owns kRows rows; its 32 lanes form 4 teams of 8, a
// team reads one 32-element unit of the row (lane g of the team: elements
// 4g .. 4g+3), so a warp step reads 128 consecutive elements of x with one
// 16-byte load per lane and the weights of 4 units. Each lane sums its
// groups in step order (per unit: scale * sum(code * x) + bias * sum(x)),
// a butterfly combines the 32 lanes, and lane 0 applies the epilogue. The
// order is fixed: the same row gets the same bits in every launch.
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/formats.h"
#include "backend/cuda/kernels.h"
#include "backend/cuda/pointwise.cuh"
#include "backend/cuda/matvec_q8.h"
#include "backend/cuda/matvec_segment.cuh"
#include "backend/cuda/quant_blocks.cuh"
#include "backend/cuda/quant_q8.cuh"
#include "backend/cuda/quant_units.cuh"
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
    // SwiGlu: one output row per warp from a gate row and an up row.
    constexpr int kOut = kEpi == Epilogue::SwiGlu ? 1 : kRowsPerWarp;
    constexpr int kDots = kEpi == Epilogue::SwiGlu ? 2 : kRowsPerWarp;
    const MatvecSegment seg = segment_of(a, blockIdx.x);
    const uint32_t lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const uint32_t r0 = ((blockIdx.x - seg.block_begin) * kWarps + warp) * kOut;
    if (r0 >= seg.rows) return;  // whole warp: no barrier below
    const uint64_t row_bytes = uint64_t(a.cols / F::kElems) * F::kBytes;
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
    if (lane != 0) return;
    if constexpr (kEpi == Epilogue::SwiGlu) {
        float gs = acc[0], us = acc[1];
        if (seg.bias) gs += seg.bias[r0];
        if (a.bias_up) us += a.bias_up[r0];
        seg.y[r0] = a.act == GateAct::Silu ? silu_mul(gs, us) : swiglu_oai_mul(gs, us);
    } else {
#pragma unroll
        for (int i = 0; i < kDots; ++i) {
            const uint32_t r = r0 + uint32_t(i);
            if (r >= seg.rows) break;
            float s = acc[i];
            if (seg.bias) s += seg.bias[r];
            if constexpr (kEpi == Epilogue::Add)
                seg.y[r] = seg.y[r] + s;
            else
                seg.y[r] = s;
        }
    }
}

template <class F>
void qmatvec(const MatvecArgs& args, Epilogue e, cudaStream_t stream) {
    MatvecArgs a = args;
    if (a.cols % 32 != 0 || a.cols % F::kElems != 0) fail(ORCD_INTERNAL, "qmatvec: row length not a whole number of blocks");
    const uint32_t rows_per_block = kWarps * (e == Epilogue::SwiGlu ? 1 : kRowsPerWarp);
    const uint32_t blocks = assign_segment_units(a, rows_per_block);
    if (blocks == 0) return;
    switch (e) {
        case Epilogue::Store: qmatvec_kernel<F, Epilogue::Store><<<blocks, kThreads, 0, stream>>>(a); break;
        case Epilogue::Add: qmatvec_kernel<F, Epilogue::Add><<<blocks, kThreads, 0, stream>>>(a); break;
        case Epilogue::SwiGlu: qmatvec_kernel<F, Epilogue::SwiGlu><<<blocks, kThreads, 0, stream>>>(a); break;
    }
}

// ---- Matvec, unit per lane ----------------------------------------------------------
//
// A grid of a few blocks per SM, each staging x once in shared memory (unit
// u at 33 u: a lane reads its unit's 32 values from 32 different banks) and
// then walking row tiles (kWarps * kOut rows) grid-stride, so x is read once
// per block, not once per tile. In a tile, each lane takes units lane,
// lane + 32, ... of the warp's rows, holds the unit's x in registers and,
// for each of the warp's kR weight rows, loads the unit's bytes (all rows'
// loads first) and adds scale * (sum(code * x) + offset * sum(x)) +
// bias * sum(x). A fixed order everywhere: per lane in unit order, then the
// warp's butterfly; which block computes a row changes nothing.

constexpr uint32_t kMaxUnitCols = 32 * 1024;  // x staged up to 32768 columns (132 KiB)
constexpr int kUnitRows = 2;                   // weight rows per warp (SwiGlu: gate and up of one row)

template <class U>
constexpr bool has_table = requires { U::kTable; };

// acc[i] = the dot of weight row rows[i] with its x, staged in shared memory
// as [n_units][33] at xs + min(i, x_count - 1) * x_stride (x_stride 0: one x
// for all rows; rows past x_count are repeats whose results are dropped),
// summed per lane in unit order (units lane, lane + 32, ...) and then by the
// warp's butterfly; every lane gets the sums. All rows' loads of a unit are
// issued before its arithmetic.
template <class U, int kR>
__device__ __forceinline__ void unit_dots(const uint8_t* const (&rows)[kR], const float* xs, uint32_t x_stride,
                                          uint32_t x_count, uint32_t n_units, uint32_t lane, const float* table,
                                          float (&acc)[kR]) {
#pragma unroll
    for (int i = 0; i < kR; ++i) acc[i] = 0.0f;
    for (uint32_t u = lane; u < n_units; u += 32) {
        typename U::Raw raw[kR];
#pragma unroll
        for (int i = 0; i < kR; ++i) raw[i] = U::load(rows[i], u);
        float xv[32];
        float sx = 0.0f;
#pragma unroll
        for (int i = 0; i < kR; ++i) {
            if (i == 0 || x_stride != 0) {
                sx = 0.0f;
#pragma unroll
                for (int k = 0; k < 32; ++k) {
                    xv[k] = xs[min(uint32_t(i), x_count - 1) * x_stride + u * 33 + k];
                    sx += xv[k];
                }
            }
            if constexpr (has_table<U>)
                acc[i] += U::dot(raw[i], xv, sx, table);
            else
                acc[i] += U::dot(raw[i], xv, sx);
        }
    }
#pragma unroll
    for (int i = 0; i < kR; ++i) acc[i] = warp_sum(acc[i]);
}

// Shared memory of a unit kernel: 16 code-book values, then `n_x` vectors
// of n_units * 33 floats.
__host__ __device__ constexpr size_t unit_smem_bytes(uint32_t cols, uint32_t n_x) {
    return (16 + size_t(n_x) * (cols / 32) * 33) * sizeof(float);
}

// Stages x ([cols] floats, n_x vectors cols apart) into xs as [n_units][33]
// per vector, and the code book into table, for the whole block.
template <class U>
__device__ __forceinline__ void stage_units(float* table, float* xs, const float* x, uint32_t cols, uint32_t n_x) {
    const uint32_t n_units = cols / 32;
    for (uint32_t v = 0; v < n_x; ++v)
        for (uint32_t j = threadIdx.x; j < cols; j += blockDim.x)
            xs[v * n_units * 33 + (j / 32) * 33 + j % 32] = x[uint64_t(v) * cols + j];
    if constexpr (has_table<U>) {
        if (threadIdx.x < 16)
            table[threadIdx.x] = U::kTable == 0 ? quant::iq4_value(threadIdx.x) : quant::mxfp4_value(threadIdx.x);
    }
}

// At least 3 blocks per SM: the K-quant instances otherwise take 93
// registers, 2 blocks, and the kernel waits on its loads (latency-bound).
template <class U, Epilogue kEpi>
__global__ void __launch_bounds__(kThreads, 3) qmatvec_unit_kernel(const MatvecArgs a, uint64_t row_bytes,
                                                                uint32_t n_tiles) {
    extern __shared__ float smem[];
    float* table = smem;        // 16 code-book values (table formats)
    float* xs = smem + 16;      // [n_units][33]
    const uint32_t n_units = a.cols / 32;
    stage_units<U>(table, xs, a.x, a.cols, 1);
    __syncthreads();

    constexpr int kR = kUnitRows;
    constexpr int kOut = kEpi == Epilogue::SwiGlu ? 1 : kR;
    const uint32_t lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    for (uint32_t tile = blockIdx.x; tile < n_tiles; tile += gridDim.x) {
        const MatvecSegment seg = segment_of(a, tile);
        const uint32_t r0 = ((tile - seg.block_begin) * kWarps + warp) * kOut;
        if (r0 >= seg.rows) continue;  // whole warp; no barrier after the staging
        const uint8_t* rows[kR];
#pragma unroll
        for (int i = 0; i < kR; ++i) {
            // Rows past the end repeat the last row (their results are dropped).
            const uint32_t r = min(r0 + uint32_t(i % kOut), seg.rows - 1);
            const void* base = (kEpi == Epilogue::SwiGlu && i >= kOut) ? a.w_up : seg.w;
            rows[i] = static_cast<const uint8_t*>(base) + r * row_bytes;
        }
        float acc[kR];
        unit_dots<U, kR>(rows, xs, 0, 1, n_units, lane, table, acc);
        if (lane == 0) store_rows<kEpi, kOut>(a, seg, r0, acc);
    }
}

template <class U, class F>
void qmatvec_unit(const MatvecArgs& args, Epilogue e, cudaStream_t stream) {
    if (args.cols > kMaxUnitCols) {
        qmatvec<F>(args, e, stream);  // the team kernel reads x from global memory
        return;
    }
    MatvecArgs a = args;
    if (a.cols % 32 != 0 || a.cols % F::kElems != 0) fail(ORCD_INTERNAL, "qmatvec: row length not a whole number of blocks");
    const uint32_t rows_per_tile = kWarps * uint32_t(e == Epilogue::SwiGlu ? 1 : kUnitRows);
    const uint32_t tiles = assign_segment_units(a, rows_per_tile);  // block_begin: a segment's first tile
    if (tiles == 0) return;
    static const uint32_t sms = sm_count();
    const uint64_t row_bytes = uint64_t(a.cols / F::kElems) * F::kBytes;
    const size_t smem = unit_smem_bytes(a.cols, 1);
    auto launch = [&](auto kernel) {
        if (smem > 48 * 1024) (void)cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem));
        // As many blocks as fit on the card at once: every block stages x
        // once and then takes its share of the tiles.
        int per_sm = 0;
        if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kThreads, smem) != cudaSuccess || per_sm < 1)
            per_sm = 1;
        const uint32_t grid = std::min(tiles, sms * uint32_t(per_sm));
        kernel<<<grid, kThreads, smem, stream>>>(a, row_bytes, tiles);
    };
    switch (e) {
        case Epilogue::Store: launch(qmatvec_unit_kernel<U, Epilogue::Store>); break;
        case Epilogue::Add: launch(qmatvec_unit_kernel<U, Epilogue::Add>); break;
        case Epilogue::SwiGlu: launch(qmatvec_unit_kernel<U, Epilogue::SwiGlu>); break;
    }
}

// out[r][c] = F16 of the element; one 8-lane team per unit.
template <class F>
__global__ void to_f16_kernel(__half* out, const uint8_t* w, uint64_t ne0, uint64_t rows) {
    const uint64_t units_per_row = ne0 / 32, row_bytes = ne0 / F::kElems * F::kBytes;
    const uint64_t team = (uint64_t(blockIdx.x) * blockDim.x + threadIdx.x) / 8, g = threadIdx.x % 8;
    const uint64_t n_teams = uint64_t(gridDim.x) * blockDim.x / 8;
    for (uint64_t t = team; t < rows * units_per_row; t += n_teams) {
        const uint64_t r = t / units_per_row, u = t % units_per_row;
        const quant::Group q = F::group(w + r * row_bytes, uint32_t(u), uint32_t(g));
        __half2* o = reinterpret_cast<__half2*>(out + r * ne0 + 32 * u + 4 * g);
        o[0] = __floats2half2_rn(q.value(0), q.value(1));
        o[1] = __floats2half2_rn(q.value(2), q.value(3));
    }
}

template <class F>
void to_f16(uint16_t* out, const void* w, uint64_t ne0, uint64_t rows, cudaStream_t stream) {
    const uint64_t teams = rows * (ne0 / 32);
    const uint64_t blocks = std::min<uint64_t>((teams * 8 + 255) / 256, 65535u * 4u);
    to_f16_kernel<F><<<unsigned(blocks), 256, 0, stream>>>(reinterpret_cast<__half*>(out),
                                                           static_cast<const uint8_t*>(w), ne0, rows);
}

// out[t][:] = the row ids[t], in F32: one block per token, teams over units.
template <class F>
__global__ void embed_kernel(float* out, const uint8_t* table, uint64_t row_len, const int32_t* ids) {
    const uint64_t row_bytes = row_len / F::kElems * F::kBytes;
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
    embed_kernel<F><<<n, 256, 0, stream>>>(out, static_cast<const uint8_t*>(table), row_len, ids);
}

// ---- Mixture of experts ----------------------------------------------------------

constexpr uint32_t kMaxUsed = 8;  // experts per token a launch handles

// One warp per (row, selected expert, token): the gate and up rows of that
// expert against the token's x, then the gate activation.
template <class F>
__global__ void __launch_bounds__(kThreads) moe_gate_up_kernel(const MoeGateUpArgs a) {
    const uint32_t lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const uint32_t r = blockIdx.x * kWarps + warp, slot = blockIdx.y, t = blockIdx.z;
    if (r >= a.rows) return;
    const uint32_t e = uint32_t(a.ids[t * a.n_used + slot]);
    const uint64_t row_bytes = uint64_t(a.cols / F::kElems) * F::kBytes;
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
    const uint32_t lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const uint32_t r = blockIdx.x * kWarps + warp, t = blockIdx.y;
    if (r >= a.rows) return;
    const uint64_t row_bytes = uint64_t(a.cols / F::kElems) * F::kBytes;
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
        s = warp_sum(s);
        if (a.b_down) s += a.b_down[uint64_t(e) * a.rows + r];
        const float y = a.weights[t * a.n_used + j] * s;
        acc = j == 0 ? y : acc + y;
    }
    if (lane == 0) a.x[uint64_t(t) * a.rows + r] = a.x[uint64_t(t) * a.rows + r] + acc;
}

template <class F>
void moe_gate_up(const MoeGateUpArgs& a, cudaStream_t stream) {
    if (a.n_used > kMaxUsed || a.cols % 32 != 0) fail(ORCD_INTERNAL, "moe_gate_up: shape outside the kernel");
    const dim3 grid((a.rows + kWarps - 1) / kWarps, a.n_used, a.n_tokens);
    moe_gate_up_kernel<F><<<grid, kThreads, 0, stream>>>(a);
}

template <class F>
void moe_down(const MoeDownArgs& a, cudaStream_t stream) {
    if (a.n_used > kMaxUsed || a.cols % 32 != 0) fail(ORCD_INTERNAL, "moe_down: shape outside the kernel");
    const dim3 grid((a.rows + kWarps - 1) / kWarps, a.n_tokens);
    moe_down_kernel<F><<<grid, kThreads, 0, stream>>>(a);
}

// The expert products with a whole unit per lane (formats with a unit
// kernel), as the dense unit kernel: a block stages its token's x (gate/up)
// or the token's n_used activations (down) in shared memory once and walks
// a few rows. The order is fixed: gate and up each summed per lane in unit
// order, then by the butterfly; down per selected expert, weighted and
// added in selection order (as the team kernels and the CPU).
constexpr uint32_t kMoeRows = 32;      // gate/up rows of a block (per selected expert)
constexpr uint32_t kMoeDownRows = 16;  // down rows of a block: its staging is n_used times larger
constexpr int kMoeDownGroup = 4;      // experts whose down rows load together

template <class U>
__global__ void __launch_bounds__(kThreads) moe_gate_up_unit_kernel(const MoeGateUpArgs a, uint64_t row_bytes) {
    extern __shared__ float smem[];
    float *table = smem, *xs = smem + 16;
    const uint32_t slot = blockIdx.y, t = blockIdx.z, n_units = a.cols / 32;
    stage_units<U>(table, xs, a.x + uint64_t(t) * a.cols, a.cols, 1);
    __syncthreads();
    const uint32_t lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const uint32_t e = uint32_t(a.ids[t * a.n_used + slot]);
    const uint8_t* gate = static_cast<const uint8_t*>(a.gate) + e * a.expert_bytes;
    const uint8_t* up = static_cast<const uint8_t*>(a.up) + e * a.expert_bytes;
    const uint32_t r_end = min(a.rows, (blockIdx.x + 1) * kMoeRows);
    // Two rows per warp step: their gate and up rows load together.
    for (uint32_t r0 = blockIdx.x * kMoeRows + 2 * warp; r0 < r_end; r0 += 2 * kWarps) {
        const uint32_t r1 = min(r0 + 1, r_end - 1);  // past the end: repeated, dropped
        const uint8_t* const rows[4] = {gate + r0 * row_bytes, gate + r1 * row_bytes, up + r0 * row_bytes,
                                        up + r1 * row_bytes};
        float acc[4];
        unit_dots<U, 4>(rows, xs, 0, 1, n_units, lane, table, acc);
        if (lane != 0) continue;
#pragma unroll
        for (int o = 0; o < 2; ++o) {
            const uint32_t r = r0 + uint32_t(o);
            if (r >= r_end) break;
            float gs = acc[o], us = acc[2 + o];
            if (a.b_gate) gs += a.b_gate[uint64_t(e) * a.rows + r];
            if (a.b_up) us += a.b_up[uint64_t(e) * a.rows + r];
            a.out[(uint64_t(t) * a.n_used + slot) * a.rows + r] =
                a.act == GateAct::Silu ? silu_mul(gs, us) : swiglu_oai_mul(gs, us);
        }
    }
}

template <class U>
__global__ void __launch_bounds__(kThreads) moe_down_unit_kernel(const MoeDownArgs a, uint64_t row_bytes) {
    extern __shared__ float smem[];
    float *table = smem, *xs = smem + 16;
    const uint32_t t = blockIdx.y, n_units = a.cols / 32, x_stride = n_units * 33;
    stage_units<U>(table, xs, a.act + uint64_t(t) * a.n_used * a.cols, a.cols, a.n_used);
    __syncthreads();
    const uint32_t lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const uint32_t r_end = min(a.rows, (blockIdx.x + 1) * kMoeDownRows);
    for (uint32_t r = blockIdx.x * kMoeDownRows + warp; r < r_end; r += kWarps) {
        float acc = 0.0f;
        for (uint32_t j0 = 0; j0 < a.n_used; j0 += kMoeDownGroup) {
            const uint8_t* rows[kMoeDownGroup];
            uint32_t e[kMoeDownGroup];
#pragma unroll
            for (int i = 0; i < kMoeDownGroup; ++i) {
                // Past the last expert: the last repeated, its result dropped.
                e[i] = uint32_t(a.ids[t * a.n_used + min(j0 + uint32_t(i), a.n_used - 1)]);
                rows[i] = static_cast<const uint8_t*>(a.down) + e[i] * a.expert_bytes + r * row_bytes;
            }
            float s[kMoeDownGroup];
            unit_dots<U, kMoeDownGroup>(rows, xs + j0 * x_stride, x_stride, a.n_used - j0, n_units, lane, table, s);
#pragma unroll
            for (int i = 0; i < kMoeDownGroup; ++i) {
                const uint32_t j = j0 + uint32_t(i);
                if (j >= a.n_used) break;
                float v = s[i];
                if (a.b_down) v += a.b_down[uint64_t(e[i]) * a.rows + r];
                const float y = a.weights[t * a.n_used + j] * v;
                acc = j == 0 ? y : acc + y;
            }
        }
        if (lane == 0) a.x[uint64_t(t) * a.rows + r] = a.x[uint64_t(t) * a.rows + r] + acc;
    }
}

// The largest shared memory a block may ask for on sm_90 (227 KiB).
constexpr size_t kMaxBlockSmem = 227 * 1024;

template <class U, class F>
void moe_gate_up_unit(const MoeGateUpArgs& a, cudaStream_t stream) {
    const size_t smem = unit_smem_bytes(a.cols, 1);
    if (smem > kMaxBlockSmem) return moe_gate_up<F>(a, stream);
    if (a.n_used > kMaxUsed || a.cols % 32 != 0) fail(ORCD_INTERNAL, "moe_gate_up: shape outside the kernel");
    auto kernel = moe_gate_up_unit_kernel<U>;
    if (smem > 48 * 1024) (void)cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem));
    const dim3 grid((a.rows + kMoeRows - 1) / kMoeRows, a.n_used, a.n_tokens);
    kernel<<<grid, kThreads, smem, stream>>>(a, uint64_t(a.cols / F::kElems) * F::kBytes);
}

template <class U, class F>
void moe_down_unit(const MoeDownArgs& a, cudaStream_t stream) {
    const size_t smem = unit_smem_bytes(a.cols, a.n_used);
    if (smem > kMaxBlockSmem) return moe_down<F>(a, stream);
    if (a.n_used == 0 || a.n_used > kMaxUsed || a.cols % 32 != 0) fail(ORCD_INTERNAL, "moe_down: shape outside the kernel");
    auto kernel = moe_down_unit_kernel<U>;
    if (smem > 48 * 1024) (void)cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem));
    const dim3 grid((a.rows + kMoeDownRows - 1) / kMoeDownRows, a.n_tokens);
    kernel<<<grid, kThreads, smem, stream>>>(a, uint64_t(a.cols / F::kElems) * F::kBytes);
}

}  // namespace

template <class F>
const Format quant_format(gguf::TensorType type) {
    return Format{type, qmatvec<F>, to_f16<F>, embed<F>, moe_gate_up<F>, moe_down<F>, false};
}

// Formats with integer codes (or a code book of small integers) multiply
// against 8-bit activations at decode, the expert products included
// (quant_q8.cuh), falling back to the unit kernels where x does not fit the
// staging.
template <class V, class U, class F>
void qmatvec_q8(const MatvecArgs& a, Epilogue e, cudaStream_t stream) {
    if (a.cols % F::kElems != 0) fail(ORCD_INTERNAL, "qmatvec: row length not a whole number of blocks");
    if (!q8_matvec<V>(a, e, uint64_t(a.cols / F::kElems) * F::kBytes, stream)) qmatvec_unit<U, F>(a, e, stream);
}
template <class V, class U, class F>
void moe_gate_up_q8(const MoeGateUpArgs& a, cudaStream_t stream) {
    if (!q8_moe_gate_up<V>(a, uint64_t(a.cols / F::kElems) * F::kBytes, stream)) moe_gate_up_unit<U, F>(a, stream);
}
template <class V, class U, class F>
void moe_down_q8(const MoeDownArgs& a, cudaStream_t stream) {
    if (!q8_moe_down<V>(a, uint64_t(a.cols / F::kElems) * F::kBytes, stream)) moe_down_unit<U, F>(a, stream);
}

template <class V, class U, class F>
const Format q8_format(gguf::TensorType type) {
    return Format{type, qmatvec_q8<V, U, F>, to_f16<F>, embed<F>, moe_gate_up_q8<V, U, F>, moe_down_q8<V, U, F>, true};
}

// The entries of the format table (formats.cpp) for the block formats.
const Format kQuantFormats[] = {
    q8_format<quant::Q4_0Q, quant::Q4_0U, quant::Q4_0>(gguf::TensorType::Q4_0),
    q8_format<quant::Q4_1Q, quant::Q4_1U, quant::Q4_1>(gguf::TensorType::Q4_1),
    q8_format<quant::Q5_0Q, quant::Q5_0U, quant::Q5_0>(gguf::TensorType::Q5_0),
    q8_format<quant::Q5_1Q, quant::Q5_1U, quant::Q5_1>(gguf::TensorType::Q5_1),
    q8_format<quant::Q8_0Q, quant::Q8_0U, quant::Q8_0>(gguf::TensorType::Q8_0),
    quant_format<quant::Q2_K>(gguf::TensorType::Q2_K),
    quant_format<quant::Q3_K>(gguf::TensorType::Q3_K),
    q8_format<quant::Q4_KQ, quant::Q4_KU, quant::Q4_K>(gguf::TensorType::Q4_K),
    q8_format<quant::Q5_KQ, quant::Q5_KU, quant::Q5_K>(gguf::TensorType::Q5_K),
    q8_format<quant::Q6_KQ, quant::Q6_KU, quant::Q6_K>(gguf::TensorType::Q6_K),
    q8_format<quant::IQ4_NLQ, quant::IQ4_NLU, quant::IQ4_NL>(gguf::TensorType::IQ4_NL),
    quant_format<quant::IQ4_XS>(gguf::TensorType::IQ4_XS),
    q8_format<quant::MXFP4Q, quant::MXFP4U, quant::MXFP4>(gguf::TensorType::MXFP4),
    quant_format<quant::BF16>(gguf::TensorType::BF16),
};
const size_t kQuantFormatCount = sizeof(kQuantFormats) / sizeof(kQuantFormats[0]);

}  // namespace orcd::cuda
