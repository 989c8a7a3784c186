// The batch-1 product of the integer-code block formats against 8-bit
// activations (quant_q8.cuh says how x is rounded and what that costs).
//
// A block first rounds x into shared memory (8 lanes a unit, 4 elements a
// lane), then walks row tiles grid-stride: each warp takes kRows rows (SwiGlu:
// the gate and up rows of one output) and each lane the steps lane,
// lane + 32, ... of them, loading every row's bytes of a step before the
// arithmetic. Sums run per lane in step order, then through the warp's
// butterfly: a fixed order, whichever block computes a row. The dense
// product reads its tiles from shared memory, where the copy engine streams
// them ahead of the warps (q8_matvec_kernel); the expert products read
// global memory directly.
//
// Blocks are as large as the product allows (16 warps, fewer when that
// would leave multiprocessors idle), so that the rounding of x, which every
// block repeats, is shared by as many rows as possible.
#include "backend/cuda/matvec_q8.h"

#include "backend/cuda/bulk_copy.cuh"
#include "backend/cuda/launch.cuh"
#include "backend/cuda/matvec_segment.cuh"
#include "backend/cuda/moe_epilogue.cuh"
#include "backend/cuda/quant_q8.cuh"
#include "backend/cuda/reduce.cuh"
#include "common/error.h"

#include <algorithm>
#include <string>

namespace orcd::cuda {
namespace {

using quant::XUnit;

constexpr int kMaxWarps = 16;
constexpr int kRows = 2;                          // weight rows per warp
constexpr uint32_t kMaxCols = 48 * 1024 / 48 * 32;  // x staged in at most 48 KiB: 32768 columns

// acc[i] = the dot of weight row rows[i] with its x (x[i], staged units),
// over the steps first, first + stride, ... below n_steps, kU of them loaded
// together, summed per lane in step order and then by the warp's butterfly
// (every lane gets the sums).
template <class V, int kR, uint32_t kU>
__device__ __forceinline__ void q8_row_dots(const uint8_t* const (&rows)[kR], const XUnit* const (&x)[kR],
                                            uint32_t first, uint32_t stride, uint32_t n_steps, float (&acc)[kR]) {
#pragma unroll
    for (int i = 0; i < kR; ++i) acc[i] = 0.0f;
    for (uint32_t s0 = first; s0 < n_steps; s0 += stride * kU) {
        typename V::Raw raw[kU][kR];
#pragma unroll
        for (uint32_t u = 0; u < kU; ++u)
            if (s0 + stride * u < n_steps)
#pragma unroll
                for (int i = 0; i < kR; ++i) raw[u][i] = V::load(rows[i], s0 + stride * u);
#pragma unroll
        for (uint32_t u = 0; u < kU; ++u)
            if (s0 + stride * u < n_steps)
#pragma unroll
                for (int i = 0; i < kR; ++i) acc[i] += V::dot(raw[u][i], x[i], s0 + stride * u);
    }
#pragma unroll
    for (int i = 0; i < kR; ++i) acc[i] = warp_sum(acc[i]);
}

// The dense product streams its weights through shared memory: a block's
// row tiles are contiguous bytes (rows lo .. hi - 1 of one matrix, and for
// SwiGlu the same rows of up), and one thread asks the copy engine for each
// whole tile (bulk_copy.cuh) n_stages tiles ahead of the warps computing on
// them. A multiprocessor so keeps ~100-200 KB of weights in flight, which
// is what HBM needs at batch 1, whatever the warps' registers allow (loads
// into registers kept only a few KB in flight per warp, and the products ran
// at about half the memory's rate). The first n_stages tiles are asked for
// before kernel_begin(), while the previous kernel finishes (launch.cuh).
//
// A tile is copied from the 16-byte boundary at or before its first byte to
// the one at or after its last, so the rows keep in shared memory the
// alignment they have in global memory and the formats' loaders read them
// unchanged. The bytes around a tile are its own tensor's (tensors sit at
// 256-byte aligned offsets of allocations rounded to 256 bytes).
//
// V::kMinBlocks blocks of up to 16 warps a multiprocessor; `split` warps
// share a warp's rows (1 .. 16): warp part p takes the steps p * 32 + lane,
// + 32 * split, ...; the parts' sums meet in shared memory and are added in
// part order.
constexpr uint32_t kMaxStages = 4;
constexpr uint32_t kStageBudget = 32 * 1024;  // bytes of a tile, where the rows allow
constexpr uint32_t kStagesBudget = 96 * 1024;  // bytes of all a block's tiles in flight

struct StreamPlan {
    uint32_t n_tiles, rows_per_tile, split, n_stages, stage_bytes, up_offset;
};

// Bytes of `rows` consecutive rows copied from 16-byte boundaries.
__host__ __device__ constexpr uint32_t tile_span(uint32_t rows, uint64_t row_bytes) {
    return uint32_t((rows * row_bytes + 15) / 16 * 16 + 16);
}

template <class V, Epilogue kEpi>
__global__ void __launch_bounds__(kMaxWarps * 32, V::kMinBlocks)
    q8_matvec_kernel(const MatvecArgs a, uint64_t row_bytes, StreamPlan p) {
    extern __shared__ uint4 smem[];  // [n_stages][stage_bytes] tiles, then x's units
    __shared__ uint64_t full[kMaxStages];
    __shared__ float partial[kMaxWarps][kRows];
    uint8_t* const tiles = reinterpret_cast<uint8_t*>(smem);
    XUnit* const xs = reinterpret_cast<XUnit*>(tiles + p.n_stages * p.stage_bytes);
    constexpr int kOut = kEpi == Epilogue::SwiGlu ? 1 : kRows;
    const uint32_t lane = threadIdx.x & 31, warp = threadIdx.x >> 5, split = p.split;
    const uint32_t group = warp / split, part = warp % split;

    // Tile k of this block is tile blockIdx.x + k * gridDim.x of the product.
    auto tile_rows = [&](uint32_t tile, MatvecSegment& seg, uint32_t& lo, uint32_t& hi) {
        seg = segment_of(a, tile);
        lo = (tile - seg.block_begin) * p.rows_per_tile;
        hi = min(lo + p.rows_per_tile, seg.rows);
    };
    auto request = [&](uint32_t k) {  // one thread
        const uint32_t tile = blockIdx.x + k * gridDim.x;
        if (tile >= p.n_tiles) return;
        MatvecSegment seg;
        uint32_t lo, hi;
        tile_rows(tile, seg, lo, hi);
        uint8_t* dst = tiles + (k % p.n_stages) * p.stage_bytes;
        uint64_t* bar = &full[k % p.n_stages];
        const int n_src = kEpi == Epilogue::SwiGlu ? 2 : 1;
        const uintptr_t first[2] = {reinterpret_cast<uintptr_t>(seg.w) + lo * row_bytes,
                                    reinterpret_cast<uintptr_t>(a.w_up) + lo * row_bytes};
        const uint64_t span = (hi - lo) * row_bytes;
        uint32_t bytes[2] = {0, 0};
        for (int m = 0; m < n_src; ++m)
            bytes[m] = uint32_t(((first[m] + span + 15) & ~uintptr_t(15)) - (first[m] & ~uintptr_t(15)));
        bulk::expect(bar, bytes[0] + bytes[1]);
        for (int m = 0; m < n_src; ++m)
            bulk::copy(dst + m * p.up_offset, reinterpret_cast<const void*>(first[m] & ~uintptr_t(15)), bytes[m], bar);
    };

    if (threadIdx.x == 0) {
        for (uint32_t s = 0; s < p.n_stages; ++s) bulk::init(&full[s]);
        bulk::init_done();
        // The weights do not depend on earlier kernels: asked for before the wait.
        for (uint32_t k = 0; k < p.n_stages; ++k) request(k);
    }
    kernel_begin();
    round_x(xs, a.x, a.cols / 32);
    __syncthreads();  // x staged; the barriers initialised

    // SwiGlu's epilogue holds more registers; its products have rows enough
    // to keep the lanes busy without unrolling.
    constexpr uint32_t kU = kEpi == Epilogue::SwiGlu ? 1 : V::kUnroll;
    const uint32_t n_steps = a.cols / 32 / V::kUnits, stride = 32 * split;
    for (uint32_t k = 0;; ++k) {
        const uint32_t tile = blockIdx.x + k * gridDim.x;
        if (tile >= p.n_tiles) break;
        MatvecSegment seg;
        uint32_t lo, hi;
        tile_rows(tile, seg, lo, hi);
        const uint32_t r0 = lo + group * kOut;
        const bool live = r0 < hi;  // whole warp (and, with split > 1, still at the barriers)
        bulk::wait(&full[k % p.n_stages], (k / p.n_stages) & 1);
        const uint8_t* stage = tiles + (k % p.n_stages) * p.stage_bytes;
        float acc[kRows];
#pragma unroll
        for (int i = 0; i < kRows; ++i) acc[i] = 0.0f;
        if (live) {
            const uint8_t* rows[kRows];
            const XUnit* x[kRows];
#pragma unroll
            for (int i = 0; i < kRows; ++i) {
                // Rows past the tile repeat its last row (their results are dropped).
                const uint32_t r = min(r0 + uint32_t(i % kOut), hi - 1);
                const bool up = kEpi == Epilogue::SwiGlu && i >= kOut;
                const uintptr_t first = reinterpret_cast<uintptr_t>(up ? a.w_up : seg.w) + lo * row_bytes;
                rows[i] = stage + (up ? p.up_offset : 0u) + (first & 15) + (r - lo) * row_bytes;
                x[i] = xs;
            }
            q8_row_dots<V, kRows, kU>(rows, x, part * 32 + lane, stride, n_steps, acc);
        }
        if (split > 1 && lane == 0)
#pragma unroll
            for (int i = 0; i < kRows; ++i) partial[warp][i] = acc[i];
        __syncthreads();  // the stage read (and the parts written)
        if (threadIdx.x == 0) {
            bulk::release_to_copies();
            request(k + p.n_stages);
        }
        if (live && part == 0 && lane == 0) {
#pragma unroll
            for (int i = 0; i < kRows; ++i)
                for (uint32_t q = 1; q < split; ++q) acc[i] += partial[warp + q][i];
            store_rows<kEpi, kOut>(a, seg, r0, acc);
        }
        if (split > 1) __syncthreads();  // the parts read before the next tile writes them
    }
}

template <class V, Epilogue kEpi>
void launch_product(const MatvecArgs& args, uint64_t row_bytes, cudaStream_t stream) {
    static const uint32_t sms = sm_count();
    const auto kernel = q8_matvec_kernel<V, kEpi>;
    constexpr uint32_t kOut = kEpi == Epilogue::SwiGlu ? 1 : kRows;
    constexpr uint32_t kMatrices = kEpi == Epilogue::SwiGlu ? 2 : 1;
    const size_t x_bytes = size_t(args.cols / 32) * sizeof(XUnit);
    const uint32_t n_steps = args.cols / 32 / V::kUnits;
    // Split rows while the warps stay below what the card holds (16 warps
    // times kMinBlocks a multiprocessor) and every part still has steps for
    // at least half its lanes.
    uint32_t groups = 0;
    for (uint32_t s = 0; s < args.n_seg; ++s) groups += (args.seg[s].rows + kOut - 1) / kOut;
    const uint32_t resident = sms * kMaxWarps * V::kMinBlocks;
    uint32_t split = 1;
    while (split < 4 && groups * split * 2 <= resident && n_steps * 2 >= 32 * split * 2) split *= 2;
    // The largest block whose tiles still cover every multiprocessor; then
    // more parts a row (fewer rows a tile) while a tile exceeds its budget.
    MatvecArgs a = args;
    uint32_t warps = kMaxWarps, tiles = 0;
    for (;; warps /= 2) {
        a = args;
        tiles = assign_segment_units(a, warps / split * kOut);
        if (tiles >= sms || warps == 4 || warps / 2 < split) break;
    }
    while (split < warps && kMatrices * tile_span(warps / split * kOut, row_bytes) > kStageBudget) {
        split *= 2;
        a = args;
        tiles = assign_segment_units(a, warps / split * kOut);
    }
    if (tiles == 0) return;
    StreamPlan p{};
    p.n_tiles = tiles;
    p.rows_per_tile = warps / split * kOut;
    p.split = split;
    p.up_offset = tile_span(p.rows_per_tile, row_bytes);
    p.stage_bytes = kMatrices * p.up_offset;
    p.n_stages = std::clamp<uint32_t>(kStagesBudget / p.stage_bytes, 2, kMaxStages);
    const size_t smem = size_t(p.n_stages) * p.stage_bytes + x_bytes;
    if (smem > 48 * 1024 && cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)) != cudaSuccess)
        fail(ORCD_CUDA_ERROR, "q8 matvec: " + std::to_string(smem) + " bytes of shared memory refused");
    int per_sm = 0;
    if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, int(warps * 32), smem) != cudaSuccess || per_sm < 1)
        per_sm = 1;
    const uint32_t grid = std::min(tiles, sms * uint32_t(per_sm));
    launch(kernel, grid, warps * 32, smem, stream, a, row_bytes, p);
}

// ---- Mixture of experts ----------------------------------------------------------
//
// The selected experts' products against the token's x (gate/up) or the
// token's n_used activations (down), each rounded to 8 bits once per block,
// in the order of the unit kernels (matvec_quant.cu): gate and up summed per
// lane in step order, then by the butterfly; down per selected expert,
// weighted and added in selection order.

constexpr uint32_t kMoeWarps = 8;
constexpr uint32_t kMoeRows = 32;      // gate/up rows of a block (per selected expert)
constexpr uint32_t kMoeDownRows = 16;  // down rows of a block
constexpr uint32_t kMoeDownGroup = 4;  // experts whose down rows load together
constexpr uint32_t kMaxUsed = 8;
constexpr size_t kMoeSmem = 48 * 1024;  // staged x or activations

template <class V>
__global__ void __launch_bounds__(kMoeWarps * 32) q8_moe_gate_up_kernel(const MoeGateUpArgs a, uint64_t row_bytes) {
    kernel_begin();
    extern __shared__ XUnit xs[];
    const uint32_t slot = blockIdx.y, t = blockIdx.z, n_units = a.cols / 32;
    round_x(xs, a.x + uint64_t(t) * a.cols, n_units);
    __syncthreads();
    const uint32_t lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const uint32_t e = uint32_t(a.ids[t * a.n_used + slot]);
    const uint8_t* gate = static_cast<const uint8_t*>(a.gate) + e * a.expert_bytes;
    const uint8_t* up = static_cast<const uint8_t*>(a.up) + e * a.expert_bytes;
    const uint32_t r_end = min(a.rows, (blockIdx.x + 1) * kMoeRows);
    // Two rows per warp step: their gate and up rows load together.
    for (uint32_t r0 = blockIdx.x * kMoeRows + 2 * warp; r0 < r_end; r0 += 2 * kMoeWarps) {
        const uint32_t r1 = min(r0 + 1, r_end - 1);  // past the end: repeated, dropped
        const uint8_t* const rows[4] = {gate + r0 * row_bytes, gate + r1 * row_bytes, up + r0 * row_bytes,
                                        up + r1 * row_bytes};
        const XUnit* const x[4] = {xs, xs, xs, xs};
        float acc[4];
        q8_row_dots<V, 4, 1>(rows, x, lane, 32, n_units / V::kUnits, acc);
        if (lane == 0) moe_store_gate_up(a, e, t, slot, r0, r_end, acc);
    }
}

template <class V>
__global__ void __launch_bounds__(kMoeWarps * 32) q8_moe_down_kernel(const MoeDownArgs a, uint64_t row_bytes) {
    kernel_begin();
    extern __shared__ XUnit xs[];
    const uint32_t t = blockIdx.y, n_units = a.cols / 32;
    for (uint32_t j = 0; j < a.n_used; ++j)
        round_x(xs + j * n_units, a.act + (uint64_t(t) * a.n_used + j) * a.cols, n_units);
    __syncthreads();
    const uint32_t lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const uint32_t r_end = min(a.rows, (blockIdx.x + 1) * kMoeDownRows);
    for (uint32_t r = blockIdx.x * kMoeDownRows + warp; r < r_end; r += kMoeWarps) {
        float acc = 0.0f;
        for (uint32_t j0 = 0; j0 < a.n_used; j0 += kMoeDownGroup) {
            const uint8_t* rows[kMoeDownGroup];
            const XUnit* x[kMoeDownGroup];
            uint32_t e[kMoeDownGroup];
#pragma unroll
            for (uint32_t i = 0; i < kMoeDownGroup; ++i) {
                // Past the last expert: the last repeated, its result dropped.
                const uint32_t j = min(j0 + i, a.n_used - 1);
                e[i] = uint32_t(a.ids[t * a.n_used + j]);
                rows[i] = static_cast<const uint8_t*>(a.down) + e[i] * a.expert_bytes + r * row_bytes;
                x[i] = xs + j * n_units;
            }
            float s[kMoeDownGroup];
            q8_row_dots<V, kMoeDownGroup, 1>(rows, x, lane, 32, n_units / V::kUnits, s);
#pragma unroll
            for (uint32_t i = 0; i < kMoeDownGroup; ++i) {
                const uint32_t j = j0 + i;
                if (j >= a.n_used) break;
                acc = moe_down_add(a, t, j, e[i], r, s[i], acc);
            }
        }
        if (lane == 0) a.x[uint64_t(t) * a.rows + r] = a.x[uint64_t(t) * a.rows + r] + acc;
    }
}

}  // namespace

template <class V>
bool q8_moe_gate_up(const MoeGateUpArgs& a, uint64_t row_bytes, cudaStream_t stream) {
    const size_t smem = size_t(a.cols / 32) * sizeof(XUnit);
    if (smem > kMoeSmem || a.cols % (32 * V::kUnits) != 0 || a.n_used > kMaxUsed) return false;
    const dim3 grid((a.rows + kMoeRows - 1) / kMoeRows, a.n_used, a.n_tokens);
    launch(q8_moe_gate_up_kernel<V>, grid, kMoeWarps * 32, smem, stream, a, row_bytes);
    return true;
}

template <class V>
bool q8_moe_down(const MoeDownArgs& a, uint64_t row_bytes, cudaStream_t stream) {
    const size_t smem = size_t(a.n_used) * (a.cols / 32) * sizeof(XUnit);
    if (smem > kMoeSmem || a.cols % (32 * V::kUnits) != 0 || a.n_used == 0 || a.n_used > kMaxUsed) return false;
    const dim3 grid((a.rows + kMoeDownRows - 1) / kMoeDownRows, a.n_tokens);
    launch(q8_moe_down_kernel<V>, grid, kMoeWarps * 32, smem, stream, a, row_bytes);
    return true;
}

template <class V>
bool q8_matvec(const MatvecArgs& a, Epilogue e, uint64_t row_bytes, cudaStream_t stream) {
    if (a.cols > kMaxCols || a.cols % (32 * V::kUnits) != 0) return false;
    switch (e) {
        case Epilogue::Store: launch_product<V, Epilogue::Store>(a, row_bytes, stream); break;
        case Epilogue::Add: launch_product<V, Epilogue::Add>(a, row_bytes, stream); break;
        case Epilogue::SwiGlu: launch_product<V, Epilogue::SwiGlu>(a, row_bytes, stream); break;
    }
    return true;
}

template bool q8_matvec<quant::Q4_0Q>(const MatvecArgs&, Epilogue, uint64_t, cudaStream_t);
template bool q8_matvec<quant::Q4_1Q>(const MatvecArgs&, Epilogue, uint64_t, cudaStream_t);
template bool q8_matvec<quant::Q5_0Q>(const MatvecArgs&, Epilogue, uint64_t, cudaStream_t);
template bool q8_matvec<quant::Q5_1Q>(const MatvecArgs&, Epilogue, uint64_t, cudaStream_t);
template bool q8_matvec<quant::Q8_0Q>(const MatvecArgs&, Epilogue, uint64_t, cudaStream_t);
template bool q8_matvec<quant::Q4_KQ>(const MatvecArgs&, Epilogue, uint64_t, cudaStream_t);
template bool q8_matvec<quant::Q5_KQ>(const MatvecArgs&, Epilogue, uint64_t, cudaStream_t);
template bool q8_matvec<quant::Q6_KQ>(const MatvecArgs&, Epilogue, uint64_t, cudaStream_t);
template bool q8_matvec<quant::IQ4_NLQ>(const MatvecArgs&, Epilogue, uint64_t, cudaStream_t);
template bool q8_matvec<quant::MXFP4Q>(const MatvecArgs&, Epilogue, uint64_t, cudaStream_t);
#define ORCD_Q8_MOE(V)                                                                        \
    template bool q8_moe_gate_up<quant::V>(const MoeGateUpArgs&, uint64_t, cudaStream_t); \
    template bool q8_moe_down<quant::V>(const MoeDownArgs&, uint64_t, cudaStream_t);
ORCD_Q8_MOE(Q4_0Q)
ORCD_Q8_MOE(Q4_1Q)
ORCD_Q8_MOE(Q5_0Q)
ORCD_Q8_MOE(Q5_1Q)
ORCD_Q8_MOE(Q8_0Q)
ORCD_Q8_MOE(Q4_KQ)
ORCD_Q8_MOE(Q5_KQ)
ORCD_Q8_MOE(Q6_KQ)
ORCD_Q8_MOE(IQ4_NLQ)
ORCD_Q8_MOE(MXFP4Q)
#undef ORCD_Q8_MOE

}  // namespace orcd::cuda
