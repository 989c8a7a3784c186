// Expert selection of a mixture-of-experts layer (cpu::top_k_softmax): per
// token, the n_used largest router logits (ties: the lower index; NaN never
// before a number), in descending order, and their softmax weights over the
// selected logits only, summed in selection order. And the two moves of a
// prompt's experts grouped by expert: gathering the rows each expert takes
// and combining the experts' outputs back per token.
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernels.h"
#include "backend/cuda/launch.cuh"
#include "common/error.h"

namespace orcd::cuda {
namespace {

constexpr uint32_t kMaxUsed = 8;

constexpr uint32_t kLaneSlots = 8;  // logits a lane holds: up to 256 experts

// The selection order as a strict total order on (logit, index): numbers
// before NaN, larger first, ties (and NaNs) by the lower index; kNone last.
constexpr uint32_t kNone = 0xFFFFFFFFu;
__device__ __forceinline__ bool ahead(float v, uint32_t i, float bv, uint32_t bi) {
    if (bi == kNone) return i != kNone;
    if (i == kNone) return false;
    const bool vn = v != v, bn = bv != bv;
    if (vn != bn) return bn;
    if (vn) return i < bi;
    return v > bv || (v == bv && i < bi);
}

// One warp per token: lane l holds logits l, l + 32, ...; each of the n_used
// rounds takes the warp's first remaining logit in that order (a butterfly of
// comparisons: the result does not depend on the order they meet). Lane 0
// then forms the weights in selection order. One thread walking the logits
// n_used times took ~30 us a layer.
__global__ void moe_route_kernel(const float* logits, uint32_t n_expert, uint32_t n_used, int32_t* ids, float* weights,
                                 uint32_t n_tokens) {
    kernel_begin();
    const uint32_t lane = threadIdx.x & 31;
    const uint32_t t = (blockIdx.x * blockDim.x + threadIdx.x) / 32;
    if (t >= n_tokens) return;  // whole warp
    const float* l = logits + uint64_t(t) * n_expert;
    float v[kLaneSlots];
    bool taken[kLaneSlots];
#pragma unroll
    for (uint32_t m = 0; m < kLaneSlots; ++m) {
        const uint32_t i = lane + 32 * m;
        v[m] = i < n_expert ? l[i] : 0.0f;
        taken[m] = i >= n_expert;
    }
    uint32_t sel[kMaxUsed];
    float sel_v[kMaxUsed];
#pragma unroll
    for (uint32_t j = 0; j < kMaxUsed; ++j) {
        if (j >= n_used) break;
        float bv = 0.0f;
        uint32_t bi = kNone;
#pragma unroll
        for (uint32_t m = 0; m < kLaneSlots; ++m)
            if (!taken[m] && ahead(v[m], lane + 32 * m, bv, bi)) bv = v[m], bi = lane + 32 * m;
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) {
            const float ov = __shfl_xor_sync(0xffffffffu, bv, o);
            const uint32_t oi = __shfl_xor_sync(0xffffffffu, bi, o);
            if (ahead(ov, oi, bv, bi)) bv = ov, bi = oi;
        }
        sel[j] = bi;
        sel_v[j] = bv;
#pragma unroll
        for (uint32_t m = 0; m < kLaneSlots; ++m) taken[m] = taken[m] || bi == lane + 32 * m;
    }
    if (lane != 0) return;
    const float mx = sel_v[0];
    float w[kMaxUsed], sum = 0.0f;
    for (uint32_t j = 0; j < n_used; ++j) {
        w[j] = expf(sel_v[j] - mx);
        sum += w[j];
    }
    for (uint32_t j = 0; j < n_used; ++j) {
        ids[t * n_used + j] = int32_t(sel[j]);
        weights[t * n_used + j] = w[j] / sum;
    }
}

// One block. Warp w takes experts w, w + 32, ...: it counts the pairs of
// each (a ballot over 32 ids a round), thread 0 lays out the experts' rows
// and tiles in expert order, then the warp walks the ids again and gives
// each of its expert's pairs the next row (ballot ranks keep pair order).
// Integer counts only: the same selection gives the same table.
constexpr uint32_t kSortThreads = 1024;
constexpr uint32_t kMaxExperts = 32 * kLaneSlots;

__global__ void __launch_bounds__(kSortThreads) moe_sort_kernel(const int32_t* ids, uint32_t n_pairs, uint32_t n_used,
                                                                uint32_t n_expert, uint32_t tile_rows, int32_t* order,
                                                                int32_t* tiles) {
    kernel_begin();
    __shared__ uint32_t count[kMaxExperts], start[kMaxExperts];
    const uint32_t lane = threadIdx.x & 31, warp = threadIdx.x >> 5, n_warps = kSortThreads / 32;
    for (uint32_t e = warp; e < n_expert; e += n_warps) {
        uint32_t c = 0;
        for (uint32_t p0 = 0; p0 < n_pairs; p0 += 32) {
            const uint32_t p = p0 + lane;
            c += __popc(__ballot_sync(0xffffffffu, p < n_pairs && uint32_t(ids[p]) == e));
        }
        if (lane == 0) count[e] = c;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        uint32_t row = 0, n = 0;
        for (uint32_t e = 0; e < n_expert; ++e) {
            start[e] = row;
            for (uint32_t r = 0; r < count[e]; r += tile_rows, ++n) {
                tiles[1 + 3 * n] = int32_t(e);
                tiles[2 + 3 * n] = int32_t(row + r);
                tiles[3 + 3 * n] = int32_t(min(tile_rows, count[e] - r));
            }
            row += count[e];
        }
        tiles[0] = int32_t(n);
    }
    __syncthreads();
    for (uint32_t e = warp; e < n_expert; e += n_warps) {
        uint32_t next = start[e];
        for (uint32_t p0 = 0; p0 < n_pairs; p0 += 32) {
            const uint32_t p = p0 + lane;
            const bool mine = p < n_pairs && uint32_t(ids[p]) == e;
            const uint32_t m = __ballot_sync(0xffffffffu, mine);
            if (mine) {
                const uint32_t q = next + __popc(m & ((1u << lane) - 1));
                order[q] = int32_t(p / n_used);
                order[n_pairs + p] = int32_t(q);
                order[2 * n_pairs + q] = int32_t(e);
            }
            next += __popc(m);
        }
    }
}

__global__ void moe_gather_kernel(float* out, const float* x, const int32_t* rows, uint32_t cols) {
    kernel_begin();
    const float* src = x + uint64_t(rows[blockIdx.x]) * cols;
    float* dst = out + uint64_t(blockIdx.x) * cols;
    for (uint32_t c = threadIdx.x; c < cols; c += blockDim.x) dst[c] = src[c];
}

__global__ void moe_add_bias_kernel(float* y, const float* bias, const int32_t* expert, uint32_t cols) {
    kernel_begin();
    const float* b = bias + uint64_t(expert[blockIdx.x]) * cols;
    float* dst = y + uint64_t(blockIdx.x) * cols;
    for (uint32_t c = threadIdx.x; c < cols; c += blockDim.x) dst[c] += b[c];
}

__global__ void moe_combine_kernel(float* x, const float* y, const int32_t* slot, const float* weights,
                                   uint32_t n_used, uint32_t cols) {
    kernel_begin();
    const uint32_t t = blockIdx.x;
    for (uint32_t c = threadIdx.x; c < cols; c += blockDim.x) {
        float acc = 0.0f;
        for (uint32_t j = 0; j < n_used; ++j) {
            const float v = weights[t * n_used + j] * y[uint64_t(slot[t * n_used + j]) * cols + c];
            acc = j == 0 ? v : acc + v;
        }
        x[uint64_t(t) * cols + c] = x[uint64_t(t) * cols + c] + acc;
    }
}

}  // namespace

void moe_sort(const int32_t* ids, uint32_t n_pairs, uint32_t n_used, uint32_t n_expert, uint32_t tile_rows,
              int32_t* order, int32_t* tiles, cudaStream_t stream) {
    if (n_expert == 0 || n_expert > kMaxExperts || n_used == 0) fail(ORCD_INTERNAL, "moe_sort: bad expert count");
    if (tile_rows == 0) fail(ORCD_INTERNAL, "moe_sort: tiles of no rows");
    launch(moe_sort_kernel, 1, kSortThreads, 0, stream, ids, n_pairs, n_used, n_expert, tile_rows, order, tiles);
    check_launch("moe_sort");
}

void moe_gather(float* out, const float* x, const int32_t* rows, uint32_t n_rows, uint32_t cols, cudaStream_t stream) {
    if (n_rows == 0) return;
    launch(moe_gather_kernel, n_rows, 256, 0, stream, out, x, rows, cols);
    check_launch("moe_gather");
}

void moe_add_bias(float* y, const float* bias, const int32_t* expert, uint32_t n_rows, uint32_t cols,
                  cudaStream_t stream) {
    if (n_rows == 0) return;
    launch(moe_add_bias_kernel, n_rows, 256, 0, stream, y, bias, expert, cols);
    check_launch("moe_add_bias");
}

void moe_combine(float* x, const float* y, const int32_t* slot, const float* weights, uint32_t n_tokens,
                 uint32_t n_used, uint32_t cols, cudaStream_t stream) {
    if (n_tokens == 0) return;
    launch(moe_combine_kernel, n_tokens, 256, 0, stream, x, y, slot, weights, n_used, cols);
    check_launch("moe_combine");
}

void moe_route(const float* logits, uint32_t n_expert, uint32_t n_used, int32_t* ids, float* weights,
               uint32_t n_tokens, cudaStream_t stream) {
    if (n_tokens == 0) return;
    if (n_used == 0 || n_used > kMaxUsed || n_used > n_expert || n_expert > 32 * kLaneSlots)
        fail(ORCD_INTERNAL, "moe_route: bad expert count");
    // Four tokens (warps) a block.
    launch(moe_route_kernel, (n_tokens + 3) / 4, 128, 0, stream, logits, n_expert, n_used, ids, weights, n_tokens);
    check_launch("moe_route");
}

}  // namespace orcd::cuda
