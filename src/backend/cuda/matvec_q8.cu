// The batch-1 product of the integer-code block formats against 8-bit
// activations (quant_q8.cuh says how x is rounded and what that costs).
//
// A block first rounds x into shared memory (8 lanes a unit, 4 elements a
// lane), then walks row tiles grid-stride: each warp takes kRows rows (SwiGlu:
// the gate and up rows of one output) and each lane the steps lane,
// lane + 32, ... of them, loading every row's bytes of a step before the
// arithmetic. Sums run per lane in step order, then through the warp's
// butterfly: a fixed order, whichever block computes a row.
//
// Blocks are as large as the product allows (16 warps, fewer when that
// would leave multiprocessors idle), so that the rounding of x, which every
// block repeats, is shared by as many rows as possible.
#include "backend/cuda/matvec_q8.h"

#include "backend/cuda/matvec_segment.cuh"
#include "backend/cuda/quant_q8.cuh"
#include "backend/cuda/reduce.cuh"
#include "common/error.h"

#include <algorithm>

namespace orcd::cuda {
namespace {

using quant::XUnit;

constexpr int kMaxWarps = 16;
constexpr int kRows = 2;                          // weight rows per warp
constexpr uint32_t kMaxCols = 48 * 1024 / 48 * 32;  // x staged in at most 48 KiB: 32768 columns

// xs[u] = unit u of x rounded to 8 bits (quant_q8.cuh), for the whole block.
// A team of 8 lanes per unit; the loop runs whole warps (shuffles).
__device__ __forceinline__ void round_x(XUnit* xs, const float* x, uint32_t n_units) {
    const uint32_t lane = threadIdx.x & 31, g = lane & 7;
    const uint32_t per_pass = blockDim.x / 8;
    // Unrolled so that a warp's loads of x for several passes are in flight
    // together (x is in L2: each pass would otherwise wait for its own).
#pragma unroll 4
    for (uint32_t base = (threadIdx.x >> 5) * 4; base < n_units; base += per_pass) {
        const uint32_t u = base + lane / 8;
        const bool in = u < n_units;
        const float4 v = in ? reinterpret_cast<const float4*>(x)[8 * u + g] : make_float4(0, 0, 0, 0);
        // max |x| as unsigned bits: NaN above infinity above every finite value.
        uint32_t amax = max(max(__float_as_uint(fabsf(v.x)), __float_as_uint(fabsf(v.y))),
                            max(__float_as_uint(fabsf(v.z)), __float_as_uint(fabsf(v.w))));
#pragma unroll
        for (int o = 1; o < 8; o <<= 1) amax = max(amax, __shfl_xor_sync(0xffffffffu, amax, o));
        const float a = __uint_as_float(amax);
        const float inv = a > 0.0f ? 127.0f / a : 0.0f;
        const int q0 = __float2int_rn(v.x * inv), q1 = __float2int_rn(v.y * inv);
        const int q2 = __float2int_rn(v.z * inv), q3 = __float2int_rn(v.w * inv);
        int half = q0 + q1 + q2 + q3;
        half += __shfl_xor_sync(0xffffffffu, half, 1);
        half += __shfl_xor_sync(0xffffffffu, half, 2);  // lanes 0-3 of the team: elements 0-15
        const int sum = half + __shfl_xor_sync(0xffffffffu, half, 4);
        if (!in) continue;
        xs[u].q[g] = uint32_t(q0 & 0xFF) | uint32_t(q1 & 0xFF) << 8 | uint32_t(q2 & 0xFF) << 16 | uint32_t(q3) << 24;
        if (g == 0) {
            xs[u].d = a / 127.0f;
            xs[u].sum = sum;
            xs[u].sum_lo = half;
        }
    }
}

// V::kMinBlocks blocks of 16 warps a multiprocessor: two where the format's
// step fits 64 registers (with one, a multiprocessor holds half the warps it
// could, each waiting on its loads).
//
// `split` warps share a warp's rows (1, 2 or 4): warp part p takes the steps
// p * 32 + lane, + 32 * split, ...; the parts' sums meet in shared memory
// and are added in part order. A product with few long rows (a 4096-row
// output projection, a down projection) otherwise has too few warps to keep
// the memory busy.
template <class V, Epilogue kEpi>
__global__ void __launch_bounds__(kMaxWarps * 32, V::kMinBlocks)
    q8_matvec_kernel(const MatvecArgs a, uint64_t row_bytes, uint32_t n_tiles, uint32_t split) {
    extern __shared__ XUnit xs[];
    __shared__ float partial[kMaxWarps][kRows];
    round_x(xs, a.x, a.cols / 32);
    __syncthreads();

    constexpr int kOut = kEpi == Epilogue::SwiGlu ? 1 : kRows;
    // SwiGlu's epilogue holds more registers; its products have rows enough
    // to keep the memory busy without unrolling.
    constexpr uint32_t kU = kEpi == Epilogue::SwiGlu ? 1 : V::kUnroll;
    const uint32_t lane = threadIdx.x & 31, warp = threadIdx.x >> 5, groups = (blockDim.x >> 5) / split;
    const uint32_t group = warp / split, part = warp % split;
    const uint32_t n_steps = a.cols / 32 / V::kUnits, stride = 32 * split;
    for (uint32_t tile = blockIdx.x; tile < n_tiles; tile += gridDim.x) {
        const MatvecSegment seg = segment_of(a, tile);
        const uint32_t r0 = ((tile - seg.block_begin) * groups + group) * kOut;
        const bool live = r0 < seg.rows;  // whole warp (and, with split > 1, still at the barriers)
        float acc[kRows];
#pragma unroll
        for (int i = 0; i < kRows; ++i) acc[i] = 0.0f;
        if (live) {
            const uint8_t* rows[kRows];
#pragma unroll
            for (int i = 0; i < kRows; ++i) {
                // Rows past the end repeat the last row (their results are dropped).
                const uint32_t r = min(r0 + uint32_t(i % kOut), seg.rows - 1);
                const void* base = (kEpi == Epilogue::SwiGlu && i >= kOut) ? a.w_up : seg.w;
                rows[i] = static_cast<const uint8_t*>(base) + r * row_bytes;
            }
            // kUnroll steps of a lane at once, all their loads before the
            // arithmetic; the sums still run in step order.
            for (uint32_t s0 = part * 32 + lane; s0 < n_steps; s0 += stride * kU) {
                typename V::Raw raw[kU][kRows];
#pragma unroll
                for (uint32_t u = 0; u < kU; ++u)
                    if (s0 + stride * u < n_steps)
#pragma unroll
                        for (int i = 0; i < kRows; ++i) raw[u][i] = V::load(rows[i], s0 + stride * u);
#pragma unroll
                for (uint32_t u = 0; u < kU; ++u)
                    if (s0 + stride * u < n_steps)
#pragma unroll
                        for (int i = 0; i < kRows; ++i) acc[i] += V::dot(raw[u][i], xs, s0 + stride * u);
            }
#pragma unroll
            for (int i = 0; i < kRows; ++i) acc[i] = warp_sum(acc[i]);
        }
        if (split > 1) {
            if (lane == 0)
#pragma unroll
                for (int i = 0; i < kRows; ++i) partial[warp][i] = acc[i];
            __syncthreads();
            if (live && part == 0 && lane == 0)
#pragma unroll
                for (int i = 0; i < kRows; ++i)
                    for (uint32_t p = 1; p < split; ++p) acc[i] += partial[warp + p][i];
            __syncthreads();  // the partials are read before the next tile writes them
        }
        if (live && part == 0 && lane == 0) store_rows<kEpi, kOut>(a, seg, r0, acc);
    }
}

template <class V, Epilogue kEpi>
void launch(const MatvecArgs& args, uint64_t row_bytes, cudaStream_t stream) {
    static const uint32_t sms = sm_count();
    const auto kernel = q8_matvec_kernel<V, kEpi>;
    constexpr uint32_t kOut = kEpi == Epilogue::SwiGlu ? 1 : kRows;
    const size_t smem = size_t(args.cols / 32) * sizeof(XUnit);
    const uint32_t n_steps = args.cols / 32 / V::kUnits;
    // Split rows while the warps stay below what the card holds (16 warps
    // times kMinBlocks a multiprocessor) and every part still has steps for
    // at least half its lanes.
    uint32_t groups = 0;
    for (uint32_t s = 0; s < args.n_seg; ++s) groups += (args.seg[s].rows + kOut - 1) / kOut;
    const uint32_t resident = sms * kMaxWarps * V::kMinBlocks;
    uint32_t split = 1;
    while (split < 4 && groups * split * 2 <= resident && n_steps * 2 >= 32 * split * 2) split *= 2;
    // The largest block whose tiles still cover every multiprocessor.
    MatvecArgs a = args;
    uint32_t warps = kMaxWarps, tiles = 0;
    for (;; warps /= 2) {
        a = args;
        tiles = assign_segment_units(a, warps / split * kOut);
        if (tiles >= sms || warps == 4 || warps / 2 < split) break;
    }
    if (tiles == 0) return;
    int per_sm = 0;
    if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, int(warps * 32), smem) != cudaSuccess || per_sm < 1)
        per_sm = 1;
    const uint32_t grid = std::min(tiles, sms * uint32_t(per_sm));
    kernel<<<grid, warps * 32, smem, stream>>>(a, row_bytes, tiles, split);
}

}  // namespace

template <class V>
bool q8_matvec(const MatvecArgs& a, Epilogue e, uint64_t row_bytes, cudaStream_t stream) {
    if (a.cols > kMaxCols || a.cols % (32 * V::kUnits) != 0) return false;
    switch (e) {
        case Epilogue::Store: launch<V, Epilogue::Store>(a, row_bytes, stream); break;
        case Epilogue::Add: launch<V, Epilogue::Add>(a, row_bytes, stream); break;
        case Epilogue::SwiGlu: launch<V, Epilogue::SwiGlu>(a, row_bytes, stream); break;
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

}  // namespace orcd::cuda
