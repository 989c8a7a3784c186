// The batch-1 product of the integer-code block formats against 8-bit
// activations (quant_q8.cuh says how x is rounded and what that costs).
//
// A block first rounds x into shared memory (8 lanes a unit, 4 elements a
// lane); then each warp takes kRows rows at a time (SwiGlu: the gate and up
// rows of one output) and each lane the steps lane, lane + 32, ... of them,
// loading every row's bytes of a step before the arithmetic. Sums run per
// lane in step order, then through the warp's butterfly: a fixed order,
// whichever warp computes a row. The dense product reads its rows from
// shared memory, where the copy engine streams them ahead of the warps
// (q8_matvec_kernel); the expert products read global memory directly.
// One dense launch may hold rows of two formats that stage x alike (the
// Q/K/V pairs of Q4_K_M files, q8_matvec_pair): each warp's row group is of
// one format, so the choice of dot is uniform across the warp. A product of
// few row pairs and many steps a row is split: the warps of a team each take
// a chunk of the same rows and keep each step's dot in shared memory, and
// the team's first warp adds them in the unsplit order (launch_product).
#include "backend/cuda/matvec_q8.h"

#include "backend/cuda/bulk_copy.cuh"
#include "backend/cuda/launch.cuh"
#include "backend/cuda/matvec_segment.cuh"
#include "backend/cuda/moe_epilogue.cuh"
#include "backend/cuda/norm.cuh"
#include "backend/cuda/quant_q8.cuh"
#include "backend/cuda/reduce.cuh"
#include "common/error.h"

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <mutex>
#include <string>
#include <type_traits>

namespace orcd::cuda {
namespace {

using quant::XUnit;
static_assert(sizeof(XUnit) == kQ8UnitBytes);
using quant::round_team;
using quant::round_x;

constexpr int kMaxWarps = 16;
constexpr int kRows = 2;                          // weight rows per warp
constexpr uint32_t kMaxCols = 48 * 1024 / 48 * 32;  // x staged in at most 48 KiB: 32768 columns

// sink(i, s, dot) for each of the lane's steps s of weight rows rows[i]
// against their x (x[i], staged units): the steps first, first + stride, ...
// below end, kU of them loaded together, passed on in step order.
template <class V, int kR, uint32_t kU, class Sink>
__device__ __forceinline__ void q8_lane_steps(const uint8_t* const (&rows)[kR], const XUnit* const (&x)[kR],
                                              uint32_t first, uint32_t stride, uint32_t end, const Sink& sink) {
    for (uint32_t s0 = first; s0 < end; s0 += stride * kU) {
        typename V::Raw raw[kU][kR];
#pragma unroll
        for (uint32_t u = 0; u < kU; ++u)
            if (s0 + stride * u < end)
#pragma unroll
                for (int i = 0; i < kR; ++i) raw[u][i] = V::load(rows[i], s0 + stride * u);
#pragma unroll
        for (uint32_t u = 0; u < kU; ++u)
            if (s0 + stride * u < end)
#pragma unroll
                for (int i = 0; i < kR; ++i) sink(i, s0 + stride * u, V::dot(raw[u][i], x[i], s0 + stride * u));
    }
}

// A barrier of the `threads` threads (whole warps) that use hardware barrier
// `id` (1 to 15: __syncthreads() is barrier 0).
__device__ __forceinline__ void team_sync(uint32_t id, uint32_t threads) {
    asm volatile("bar.sync %0, %1;" ::"r"(id), "r"(threads) : "memory");
}

// A lane's running sum of a row: each step's dot rounded to F32 before it is
// added (__fadd_rn is never fused with the dot's last multiply), so a sum of
// dots computed elsewhere and added later in the same order has the same
// bits (the split products of q8_matvec_kernel). Measured on an H100 against
// the fused form: level (Phi-3-mini Q4_K_M 673 against 669 tok/s,
// bench/NOTES.md 43).
__device__ __forceinline__ void add_step(float& acc, float dot) { acc = __fadd_rn(acc, dot); }

// acc[i] += lane's share of the dot of weight row rows[i] with its x, in
// step order (q8_lane_steps).
template <class V, int kR, uint32_t kU>
__device__ __forceinline__ void q8_lane_dots(const uint8_t* const (&rows)[kR], const XUnit* const (&x)[kR],
                                             uint32_t first, uint32_t stride, uint32_t end, float (&acc)[kR]) {
    q8_lane_steps<V, kR, kU>(rows, x, first, stride, end, [&](int i, uint32_t, float d) { add_step(acc[i], d); });
}

// acc[i] = the whole dot of rows[i] with x[i], the warp's lanes taking the
// steps lane, lane + 32, ...; summed per lane in step order, then by the
// butterfly (every lane gets the sums).
template <class V, int kR>
__device__ __forceinline__ void q8_row_dots(const uint8_t* const (&rows)[kR], const XUnit* const (&x)[kR],
                                            uint32_t lane, uint32_t n_steps, float (&acc)[kR]) {
#pragma unroll
    for (int i = 0; i < kR; ++i) acc[i] = 0.0f;
    q8_lane_dots<V, kR, 1>(rows, x, lane, 32, n_steps, acc);
#pragma unroll
    for (int i = 0; i < kR; ++i) acc[i] = warp_sum(acc[i]);
}

// x staged for a dense product (round_x), with the staged RMSNorm's scale
// formed from the same loads: x is read once instead of twice (rms_scale,
// then round_x). Measured under Nsight Compute, a quarter of the product
// kernels' warp samples waited on those reads of x, which queue behind the
// weight rows already asked of memory. Each thread sums the squares of the
// elements 4t .. 4t + 3, 4t + 4 blockDim .. in order, the same elements in
// the same order as rms_scale (a pass of round_x gives thread t elements
// 4t + 4 k blockDim ..), so the bits are those of the two calls; blocks
// whose x needs more than kStagePasses passes take the two calls.
//
// The norm's weights do not depend on earlier kernels: load_norm_w() asks
// for them before the wait, so that only x is read after it. (round_x's batch
// of 4 passes raised to 12 for x without a norm, for Qwen2.5-0.5B's down
// product of 4864 columns, measured slower on an H200: Qwen2.5-0.5B -2%,
// Phi-3-mini -5%, with up to 16 more registers a thread; bench/NOTES.md 28.)
constexpr uint32_t kStagePasses = 4;

// Q8_0 products ask for a warp's other slots after the block has staged x,
// the others as soon as the warp's loads of x are issued (q8_matvec_kernel).
// Measured on an H200 against asking early for every format: GPT-OSS-20B
// (Q8_0 attention and output products) +1.5% / +1.3% at depth 0 / 4096,
// Qwen2.5-0.5B Q4_K_M +0.4% / 0, Phi-3-mini Q4_K_M (no Q8_0 rows) the
// same (bench/NOTES.md 29). Why Q8_0 rows differ was not measured.
template <class V>
constexpr bool kSlotsAfterStaging = std::is_same_v<V, quant::Q8_0Q>;

struct NormW {
    float4 w[kStagePasses];
};

__device__ __forceinline__ bool norm_fused(const MatvecArgs& a, uint32_t n_units) {
    return a.norm_w && n_units <= blockDim.x / 8 * kStagePasses;
}

__device__ __forceinline__ void load_norm_w(NormW& nw, const MatvecArgs& a, uint32_t n_units) {
    if (!norm_fused(a, n_units)) return;
    const uint32_t lane = threadIdx.x & 31, g = lane & 7, first = (threadIdx.x >> 5) * 4, per_pass = blockDim.x / 8;
    const float4* w4 = reinterpret_cast<const float4*>(a.norm_w);
#pragma unroll
    for (uint32_t k = 0; k < kStagePasses; ++k) {
        const uint32_t u = first + k * per_pass + lane / 8;
        nw.w[k] = u < n_units ? w4[8 * u + g] : make_float4(0, 0, 0, 0);
    }
}

// The staged norm's scale r, where the kernel applies it: late, x * w is
// rounded without r (a unit's bytes are the same up to the last bit of a
// product: scaling a unit by r scales its amax and its step alike) and each
// row's sum is multiplied by r at its finish, so the block's sum of squares
// is off the staging's path: a warp rounds its units as soon as its own
// loads of x are in, and one barrier ends the staging instead of three.
// Measured against the scale applied before the rounding (main's earlier
// behaviour, ORCD_NORM_EARLY): Qwen2.5-0.5B Q4_K_M +2.9% / +1.1% at depth 0
// / 4096, Phi-3-mini Q4_K_M +2.1% / +1.7% on an H100 (bench/NOTES.md 50).
// pending: r is formed after that barrier from the warps' partial sums in
// `scratch` (norm_scale_of_partials, block_sum's order and bits).
struct StagedScale {
    float r;
    bool pending;
};

template <bool kPaired, class F>
__device__ __forceinline__ StagedScale stage_x(XUnit* xs, const MatvecArgs& a, uint32_t n_units, const NormW& nw,
                                               float* scratch, bool late, const F& loads_issued) {
    if (!a.norm_w) {
        round_x<kPaired>(xs, a.x, n_units, nullptr, 1.0f, loads_issued);
        return {1.0f, false};
    }
    const uint32_t per_pass = blockDim.x / 8;
    if (!norm_fused(a, n_units)) {
        const float scale = rms_scale(a.x, a.cols, a.norm_eps, true, scratch);
        round_x<kPaired>(xs, a.x, n_units, a.norm_w, late ? 1.0f : scale, loads_issued);
        return {late ? scale : 1.0f, false};
    }
    const uint32_t lane = threadIdx.x & 31, g = lane & 7, first = (threadIdx.x >> 5) * 4;
    const float4* x4 = reinterpret_cast<const float4*>(a.x);
    const float4(&w)[kStagePasses] = nw.w;
    float4 v[kStagePasses];
#pragma unroll
    for (uint32_t k = 0; k < kStagePasses; ++k) {
        const uint32_t u = first + k * per_pass + lane / 8;
        v[k] = u < n_units ? x4[8 * u + g] : make_float4(0, 0, 0, 0);
    }
    loads_issued();
    float scale = 1.0f;
    if (late) {
        const float ss = warp_sum(sum_squares(v));
        if (lane == 0) scratch[threadIdx.x >> 5] = ss;
    } else {
        scale = rms_scale_of(v, a.cols, a.norm_eps, scratch);
    }
#pragma unroll
    for (uint32_t k = 0; k < kStagePasses; ++k) {
        const uint32_t base = first + k * per_pass;
        if (base < n_units) round_team<kPaired>(xs, base + lane / 8, base + lane / 8 < n_units, g, scaled(v[k], w[k], scale));
    }
    return {1.0f, late};
}

// The dense product streams its weights through shared memory, each warp
// on its own: the warp's rows (kRows of them; SwiGlu: the gate and up rows
// of one output) go through in chunks of chunk_steps steps, and lane 0 asks
// the copy engine (bulk_copy.cuh) for each chunk's bytes of each row up to
// n_slots chunks ahead of the lanes computing on them. A multiprocessor so
// keeps ~100 KB or more of weights in flight whatever the warps' registers
// allow (loads into registers kept a few KB in flight per warp). A warp's
// first chunk is asked for before kernel_begin(), while the previous kernel
// finishes (launch.cuh), its other slots' chunks once the warp's loads of x
// are issued: x is read from L2 after the wait, and those reads queue behind
// every weight byte already asked for (all of a warp's slots asked for
// first: Phi-3-mini and Llama-2-7B decode 4-5% slower; none: 1-6% slower,
// bench/NOTES.md 18; the other slots after the whole staging: Phi-3-mini 2%
// slower at depth 4096, GPT-OSS-20B 1% faster, bench/NOTES.md 28; Q8_0
// keeps that order, kSlotsAfterStaging).
// Warps never wait for each other. Measured
// against the loads into registers: Llama-2-7B and Phi-3-mini Q4_K_M decode
// 4-6% faster, Qwen2.5-0.5B 2% slower (its products are too small for the
// copy's round trip to pay; bench/NOTES.md, 14).
//
// A chunk is copied from the 16-byte boundary at or before its first byte
// to the one at or after its last, so the bytes keep in shared memory the
// alignment they have in global memory and the formats' loaders read them
// unchanged (through a row pointer shifted by the chunk's offset). The
// bytes around a chunk are its own tensor's (tensors sit at 256-byte
// aligned offsets of allocations rounded to 256 bytes).
//
// chunk_steps is a multiple of 32, so a lane's steps are lane, lane + 32,
// ... in order across chunks: the sums are those of the unchunked loop.
constexpr uint32_t kMaxSlots = 4;
constexpr uint32_t kSlotBudget = 160 * 1024;  // shared memory of a block's chunks, at most
constexpr uint32_t kSmemLimit = 220 * 1024;   // of a block, x included
constexpr uint32_t kMaxParts = 4;             // warps a group of a split product, at most
constexpr uint32_t kMaxSplitSteps = 256;      // a split product's steps a row, at most (its dots: 2 KB a team round)

// The rows of one format in a launch.
struct RowLayout {
    uint64_t row_bytes;    // bytes of a row
    uint32_t chunk_bytes;  // bytes of a row's chunk (a whole number of blocks)
};

struct StreamPlan {
    uint32_t n_groups;     // warp row groups of the product (kRows rows each; SwiGlu: one output)
    uint32_t chunk_steps;  // steps of a chunk (a multiple of 32; split: of 4)
    uint32_t n_chunks;     // chunks of a row
    uint32_t n_slots;      // chunks of a warp in flight
    uint32_t row_span;     // bytes of one row's chunk in a slot, with the 16-byte boundaries
    // Groups [0, second_begin) are rows of the first format, the rest of the
    // second (a launch of two formats; one format: UINT_MAX).
    uint32_t second_begin;
    RowLayout fmt[2];
    uint32_t late_norm;  // the staged norm's scale applied at each row's finish (StagedScale)
    uint32_t n_early;    // a warp's slots asked for before the wait (1, or all where they hold its walk)
};

// A warp's walk over its items (chunk c of group g, in order) and the
// shared-memory slot each item goes through: the copying lane and the
// computing lanes each keep one.
template <int kR>
struct Walk {
    uint32_t g, c, slot, parity;
    uint32_t f;                  // the group's format: 0 or 1 (StreamPlan::fmt)
    const uint8_t* rows[kR];     // the group's rows in global memory
};

// V is the rows' format; where VB differs, the groups from
// p.second_begin on are rows of VB (Q/K/V of two formats in one launch,
// q8_matvec_pair). Both take x staged the same way (kPairedX) in steps of
// the same units, so a row's sums are those of its format's own launch.
// kSplit: a split product (each of a team's p.n_chunks warps takes one chunk
// of every group of the team; launch_product); its own
// instance, so that the unsplit kernel carries none of its code.
template <class V, class VB, Epilogue kEpi, bool kSplit, int kR>
__global__ void __launch_bounds__(kMaxWarps * 32, 1) q8_matvec_kernel(const MatvecArgs a, StreamPlan p) {
    constexpr bool kTwo = !std::is_same_v<V, VB>;
    static_assert(V::kUnits == VB::kUnits && V::kPairedX == VB::kPairedX, "formats staged and stepped alike");
    extern __shared__ uint4 smem[];  // x's units, then [warp][slot][row] chunks
    __shared__ uint64_t full[kMaxWarps][kMaxSlots];
    __shared__ float scratch[32];
    constexpr int kOut = kEpi == Epilogue::SwiGlu ? kR / 2 : kR;
    const uint32_t lane = threadIdx.x & 31, warp = threadIdx.x >> 5, n_warps = blockDim.x >> 5;
    const uint32_t n_units = a.cols / 32, n_steps = n_units / V::kUnits;
    XUnit* const xs = reinterpret_cast<XUnit*>(smem);
    uint8_t* const slots = reinterpret_cast<uint8_t*>(xs + n_units) + warp * p.n_slots * kR * p.row_span;
    const uint32_t n_parts = kSplit ? p.n_chunks : 1;  // warps a group (a team)
    const uint32_t part = warp % n_parts, team = warp / n_parts, n_teams = n_warps / n_parts;
    // A split product's dots of each step, for two rounds of its team's groups.
    [[maybe_unused]] float* const dots =
        reinterpret_cast<float*>(reinterpret_cast<uint8_t*>(xs + n_units) +
                                 size_t(n_warps) * p.n_slots * kR * p.row_span) +
        size_t(team) * 2 * n_steps * kR;
    const uint32_t group_stride = gridDim.x * n_teams;

    // The segment of group g and its first row.
    auto first_row = [&](uint32_t g, MatvecSegment& seg) {
        seg = segment_of(a, g);
        return (g - seg.block_begin) * kOut;
    };
    // Rows past the segment repeat its last row (their results are dropped).
    auto enter_group = [&](Walk<kR>& w) {
        MatvecSegment seg;
        const uint32_t r0 = first_row(w.g, seg);
        w.f = kTwo && w.g >= p.second_begin ? 1 : 0;
        const uint64_t row_bytes = p.fmt[w.f].row_bytes;
#pragma unroll
        for (int m = 0; m < kR; ++m) {
            const uint32_t r = min(r0 + uint32_t(m % kOut), seg.rows - 1);
            const bool up = kEpi == Epilogue::SwiGlu && m >= kOut;
            w.rows[m] = static_cast<const uint8_t*>(up ? a.w_up : seg.w) + r * row_bytes;
        }
    };
    auto advance = [&](Walk<kR>& w) {
        if (++w.slot == p.n_slots) {
            w.slot = 0;
            w.parity ^= 1;
        }
        if (kSplit || ++w.c == p.n_chunks) {  // split: the warp's one chunk of the next group
            w.c = part;
            w.g += group_stride;
            if (w.g < p.n_groups) enter_group(w);
        }
    };
    // Chunk c of a row: bytes [c * chunk_bytes, min(+ chunk_bytes, row_bytes)).
    auto chunk_start = [&](const Walk<kR>& w, uint32_t m) {
        return w.rows[m] + uint64_t(w.c) * p.fmt[kTwo ? w.f : 0].chunk_bytes;
    };
    auto request = [&](const Walk<kR>& w) {  // one lane
        uintptr_t from[kR];
        uint32_t bytes[kR], total = 0;
        const RowLayout& L = p.fmt[kTwo ? w.f : 0];
        const uint64_t len = min(uint64_t(L.chunk_bytes), L.row_bytes - uint64_t(w.c) * L.chunk_bytes);
#pragma unroll
        for (int m = 0; m < kR; ++m) {
            const uintptr_t b = reinterpret_cast<uintptr_t>(chunk_start(w, m));
            from[m] = b & ~uintptr_t(15);
            bytes[m] = uint32_t(((b + len + 15) & ~uintptr_t(15)) - from[m]);
            total += bytes[m];
        }
        uint64_t* bar = &full[warp][w.slot];
        bulk::expect(bar, total);
        uint8_t* dst = slots + w.slot * kR * p.row_span;
#pragma unroll
        for (int m = 0; m < kR; ++m)
            bulk::copy(dst + m * p.row_span, reinterpret_cast<const void*>(from[m]), bytes[m], bar);
    };

    Walk<kR> use{blockIdx.x * n_teams + team, part, 0, 0, 0, {}};
    if (use.g < p.n_groups) enter_group(use);
    Walk<kR> ask = use;  // lane 0: the next item to ask for
    if (lane == 0) {
        for (uint32_t k = 0; k < p.n_slots; ++k) bulk::init(&full[warp][k]);
        bulk::init_done();
        // The weights do not depend on earlier kernels: the first chunk asked for before the wait.
        for (uint32_t k = 0; k < p.n_early && ask.g < p.n_groups; ++k) {
            request(ask);
            advance(ask);
        }
    }
    NormW nw;
    load_norm_w(nw, a, n_units);
    kernel_begin();
    // The warp's other slots are asked for once its loads of x are issued:
    // x still goes first to memory (behind the slots it measured slower,
    // bench/NOTES.md 18), and the slots do not wait for the staging to end
    // (bench/NOTES.md 28).
    auto ask_rest = [&] {
        if (lane == 0)
            for (uint32_t k = p.n_early; k < p.n_slots && ask.g < p.n_groups; ++k) {
                request(ask);
                advance(ask);
            }
    };
    const bool late = p.late_norm != 0;
    StagedScale staged;
    if constexpr (kSlotsAfterStaging<V>) {
        staged = stage_x<V::kPairedX>(xs, a, n_units, nw, scratch, late, quant::NothingMore{});
        __syncthreads();  // x staged; every warp's barriers initialised
        ask_rest();
    } else {
        staged = stage_x<V::kPairedX>(xs, a, n_units, nw, scratch, late, ask_rest);
        __syncthreads();  // x staged; every warp's barriers initialised
    }
    const float r = staged.pending ? norm_scale_of_partials(scratch, a.cols, a.norm_eps) : staged.r;

    constexpr uint32_t kU = kEpi == Epilogue::SwiGlu ? 1 : V::kUnroll;
    constexpr uint32_t kUB = kEpi == Epilogue::SwiGlu ? 1 : VB::kUnroll;
    const uint32_t chunk_steps = p.chunk_steps;
    float acc[kR];
#pragma unroll
    for (int m = 0; m < kR; ++m) acc[m] = 0.0f;
    RowFinish<kEpi, kOut> fin;
    // The group's sums (acc, per lane) through the butterfly to its outputs.
    auto finish_group = [&] {
#pragma unroll
        for (int m = 0; m < kR; ++m) acc[m] = warp_sum(acc[m]);
        if (lane == 0) {
            MatvecSegment seg;
            const uint32_t r0 = first_row(use.g, seg);
            if (late)
#pragma unroll
                for (int m = 0; m < kR; ++m) acc[m] *= r;
            fin.store(a, seg, r0, acc);
        }
#pragma unroll
        for (int m = 0; m < kR; ++m) acc[m] = 0.0f;
    };
    [[maybe_unused]] uint32_t n_rounds = 0;  // groups the warp has taken part in (split)
    while (use.g < p.n_groups) {
        if (use.c == 0 && lane == 0) {  // the finish's operands, in flight under the products
            MatvecSegment seg;
            const uint32_t r0 = first_row(use.g, seg);
            fin.load(a, seg, r0);
        }
        const uint32_t s0 = use.c * chunk_steps, s1 = min(s0 + chunk_steps, n_steps);
        const uint8_t* slot = slots + use.slot * kR * p.row_span;
        const uint8_t* rows[kR];
        const XUnit* x[kR];
#pragma unroll
        for (int m = 0; m < kR; ++m) {
            // Step s of the row is at rows[m] + (its offset in the row): the
            // chunk's bytes sit at the slot's row m from their 16-byte boundary.
            const uint8_t* b = chunk_start(use, m);
            rows[m] = slot + m * p.row_span + (reinterpret_cast<uintptr_t>(b) & 15) - (b - use.rows[m]);
            x[m] = xs;
        }
        bulk::wait(&full[warp][use.slot], use.parity);
        [[maybe_unused]] float* const kept = dots + (n_rounds & 1) * n_steps * kR;  // this round's dots of the team
        if constexpr (kSplit) {
            const auto keep = [&](int i, uint32_t s, float d) { kept[s * kR + i] = d; };
            if (kTwo && use.f)  // warp-uniform
                q8_lane_steps<VB, kR, kUB>(rows, x, s0 + lane, 32, s1, keep);
            else
                q8_lane_steps<V, kR, kU>(rows, x, s0 + lane, 32, s1, keep);
        } else if (kTwo && use.f) {
            q8_lane_dots<VB, kR, kUB>(rows, x, s0 + lane, 32, s1, acc);
        } else {
            q8_lane_dots<V, kR, kU>(rows, x, s0 + lane, 32, s1, acc);
        }
        __syncwarp();  // the slot read by every lane
        if (lane == 0 && ask.g < p.n_groups) {
            bulk::release_to_copies();
            request(ask);
            advance(ask);
        }
        if constexpr (kSplit) {
            // The team's chunks done: its first warp adds each lane's steps
            // lane, lane + 32, ... in order, as the unsplit loop does.
            team_sync(1 + team, n_parts * 32);
            if (part == 0) {
                for (uint32_t s = lane; s < n_steps; s += 32)
#pragma unroll
                    for (int m = 0; m < kR; ++m) add_step(acc[m], kept[s * kR + m]);
                finish_group();
            }
            ++n_rounds;
        } else if (use.c + 1 == p.n_chunks) {
            finish_group();
        }
        advance(use);
    }
}

// Rows of V, and from segment n_first on rows of VB (VB = V: one format);
// row_bytes[f] is a row's bytes in format f; kR rows a warp group.
template <class V, class VB, Epilogue kEpi, int kR>
void launch_rows(const MatvecArgs& args, uint32_t n_first, const uint64_t (&row_bytes)[2], cudaStream_t stream) {
    static const uint32_t sms = sm_count();
    constexpr bool kTwo = !std::is_same_v<V, VB>;
    constexpr uint32_t kOut = kEpi == Epilogue::SwiGlu ? kR / 2 : kR;
    const size_t x_bytes = size_t(args.cols / 32) * sizeof(XUnit);
    const uint32_t n_steps = args.cols / 32 / V::kUnits;
    MatvecArgs a = args;
    StreamPlan p{};
    // Set, ORCD_NORM_EARLY gives the scale before the rounding (StagedScale): an A/B switch.
    static const bool late_norm = std::getenv("ORCD_NORM_EARLY") == nullptr;
    p.late_norm = late_norm;
    p.n_groups = assign_segment_units(a, kOut);  // block_begin: a segment's first group
    if (p.n_groups == 0) return;
    p.second_begin = kTwo ? a.seg[n_first].block_begin : UINT_MAX;
    // Warps take the groups round-robin, one block a multiprocessor (for the
    // shared memory): the fewest rounds (those of 16-warp blocks), then the
    // fewest warps that still finish in them, at least 4, so that the last
    // round leaves few warps idle. With 16 warps Phi-3's Q/K/V (4608 groups)
    // ran 3 rounds with a quarter of the warps idle in them; 12 warps fill
    // the three. (Halving from 16 to fit small products left 1536 groups two
    // rounds of 8 warps.)
    const uint64_t rounds = (p.n_groups + uint64_t(kMaxWarps) * sms - 1) / (uint64_t(kMaxWarps) * sms);
    uint32_t warps = uint32_t(std::clamp<uint64_t>((p.n_groups + rounds * sms - 1) / (rounds * sms), 4, kMaxWarps));
    // A split product: where every group fits one round of teams of up to
    // kMaxParts warps, and an unsplit lane would take more than one step of
    // a row, each warp of a team takes one chunk (whole blocks of the format:
    // multiples of 4 steps) of each of its team's groups. A lane's chain of
    // loads and dots is then one step, and the block's more warps stage x in
    // fewer passes. The sums keep their bits (add_step). Qwen2.5-0.5B's down
    // product (448 row pairs of 76 steps) ran 4-warp blocks, 2-3 steps a lane
    // after x staged in ten passes; split, Qwen2.5-0.5B Q4_K_M decodes 8.4% /
    // 7.3% faster at depth 0 / 4096 on an H100. The split kernel is its own
    // instance: chosen at run time inside one, it cost Phi-3-mini (no product
    // of it split) 3% (bench/NOTES.md 43). Launches of two formats are
    // not split (their Q/K/V rows are a step or two a lane).
    uint32_t n_parts = 1;  // warps a group: a split product's chunks of a row
    if (const uint32_t parts = kTwo || kR != kRows ? 1 : q8_split_parts(p.n_groups, n_steps); parts > 1) {
        p.chunk_steps = ((n_steps + parts - 1) / parts + 3) / 4 * 4;
        p.n_chunks = n_parts = (n_steps + p.chunk_steps - 1) / p.chunk_steps;
        const uint32_t teams = std::clamp<uint32_t>((p.n_groups + sms - 1) / sms, (4 + n_parts - 1) / n_parts,
                                                    kMaxWarps / n_parts);
        warps = teams * n_parts;
    }
    const size_t dots_bytes = n_parts > 1 ? size_t(warps / n_parts) * 2 * n_steps * kR * sizeof(float) : 0;
    // Chunks of 32 steps or more (whole blocks of the format: a block has at
    // most 4 steps), as long as two slots a warp fit the budget; then as
    // many slots (two to four) as fit. Two formats: the chunks of both have
    // the same steps, sized for the larger.
    const uint64_t budget = std::min<uint64_t>(kSlotBudget, kSmemLimit - x_bytes - dots_bytes);
    const uint64_t per_warp = budget / warps;
    const uint64_t widest = kTwo ? std::max(row_bytes[0], row_bytes[1]) : row_bytes[0];
    const uint64_t step_bytes = (widest + n_steps - 1) / n_steps;  // Q6_K steps are 105 / 2 bytes
    if (n_parts == 1) {
        const uint64_t fit = per_warp / 2 / kR > 32 ? (per_warp / 2 / kR - 32) / step_bytes / 32 * 32 : 0;
        p.chunk_steps = uint32_t(std::clamp<uint64_t>(fit, 32, (n_steps + 31) / 32 * 32));
        p.n_chunks = (n_steps + p.chunk_steps - 1) / p.chunk_steps;
    }
    uint32_t widest_chunk = 0;
    for (int f = 0; f < (kTwo ? 2 : 1); ++f) {
        p.fmt[f] = RowLayout{row_bytes[f], uint32_t(uint64_t(p.chunk_steps) * row_bytes[f] / n_steps)};  // whole blocks
        widest_chunk = std::max(widest_chunk, p.fmt[f].chunk_bytes);
    }
    // A chunk's bytes, and up to 15 on either side to its 16-byte boundaries.
    p.row_span = uint32_t((uint64_t(widest_chunk) + 30 + 15) / 16 * 16);
    p.n_slots = uint32_t(std::clamp<uint64_t>(per_warp / (kR * p.row_span), 2, kMaxSlots));
    const uint32_t blocks = (p.n_groups + warps / n_parts - 1) / (warps / n_parts);
    auto go = [&](auto split) {  // std::bool_constant: one instance (and its statics) a kernel
        const auto kernel = q8_matvec_kernel<V, VB, kEpi, decltype(split)::value, kR>;
        static const size_t static_smem = [&] {
            cudaFuncAttributes fa{};
            return cudaFuncGetAttributes(&fa, kernel) == cudaSuccess ? fa.sharedSizeBytes : size_t(0);
        }();
        auto smem_of = [&] { return x_bytes + size_t(warps) * p.n_slots * kR * p.row_span + dots_bytes; };
        // The opt-in only grows: a launch captured in a graph keeps the bytes
        // it asked for, and a later, smaller opt-in of the same kernel must
        // not fall below them.
        static std::mutex opt_mu;
        static size_t opted = 0;
        auto resident = [&](size_t smem) {
            // Past 48 KiB a block's shared memory, static included, needs the opt-in.
            if (smem + static_smem > 48 * 1024) {
                const std::lock_guard<std::mutex> lock(opt_mu);
                if (smem > opted) {
                    if (cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)) !=
                        cudaSuccess)
                        fail(ORCD_CUDA_ERROR,
                             "q8 matvec: " + std::to_string(smem) + " bytes of shared memory refused");
                    opted = smem;
                }
            }
            int per_sm = 0;
            if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, int(warps * 32), smem) !=
                    cudaSuccess ||
                per_sm < 1)
                per_sm = 1;
            return std::min(blocks, sms * uint32_t(per_sm));
        };
        size_t smem = smem_of();
        uint32_t grid = resident(smem);
        // A warp walks at most this many items; slots past them are shared
        // memory no chunk uses, and a multiprocessor whose running kernel
        // needs a smaller carveout waits to drain before a block asking
        // that much can start (bench/NOTES.md 44). Qwen2.5-0.5B's products
        // walk one or two items a warp: sized to the walk, Qwen2.5-0.5B
        // Q4_K_M decodes 3.4% / 0.7% faster at depth 0 / 4096 on an H100
        // (bench/NOTES.md 48). Fewer bytes can only fit more blocks, so the
        // walks only get shorter.
        const uint64_t walk = (uint64_t(p.n_groups) + uint64_t(grid) * (warps / n_parts) - 1) /
                              (uint64_t(grid) * (warps / n_parts)) * (n_parts > 1 ? 1 : p.n_chunks);
        if (walk < p.n_slots) {
            p.n_slots = uint32_t(std::max<uint64_t>(walk, 1));
            smem = smem_of();
            grid = resident(smem);
        }
        // A walk that fits its slots asks for all of them before the wait;
        // ORCD_WALK_LATE (set) asks for one, the rest after x's loads. Measured
        // level on Qwen2.5-0.5B and Phi-3-mini (bench/NOTES.md 51); kept as
        // the configuration every GPU test ran with, until a build without
        // it runs on a card.
        static const bool walk_early = std::getenv("ORCD_WALK_LATE") == nullptr;
        p.n_early = walk_early && walk <= p.n_slots ? p.n_slots : 1;
        launch(kernel, grid, warps * 32, smem, stream, a, p);
    };
    if constexpr (kTwo || kR != kRows)
        go(std::false_type{});
    else if (n_parts > 1)
        go(std::true_type{});
    else
        go(std::false_type{});
}

// A SwiGlu product of short rows and many outputs takes two outputs a warp
// group (q8_swiglu_rows): Qwen2.5-0.5B's gate/up then runs one group a warp
// where a third of its warps took two one after the other, each group's
// wait, butterfly and finish on the chain. Qwen2.5-0.5B Q4_K_M decode +1%
// at depth 0 on an H100 alone, +4% with slots sized to the walk
// (bench/NOTES.md 47, 48).
template <class V, class VB, Epilogue kEpi>
void launch_product(const MatvecArgs& args, uint32_t n_first, const uint64_t (&row_bytes)[2], cudaStream_t stream) {
    if constexpr (kEpi == Epilogue::SwiGlu && std::is_same_v<V, VB>) {
        uint64_t outputs = 0;
        for (uint32_t s = 0; s < args.n_seg && s < 3; ++s) outputs += args.seg[s].rows;
        if (q8_swiglu_rows(outputs, args.cols / 32 / V::kUnits) == 2 * kRows)
            return launch_rows<V, VB, kEpi, 2 * kRows>(args, n_first, row_bytes, stream);
    }
    launch_rows<V, VB, kEpi, kRows>(args, n_first, row_bytes, stream);
}

// ---- Mixture of experts ----------------------------------------------------------
//
// The selected experts' products against the token's x (gate/up) or the
// token's n_used activations (down), each rounded to 8 bits once per block,
// in the order of the team kernels (matvec_quant.cu): gate and up summed per
// lane in step order, then by the butterfly; down per selected expert,
// weighted and added in selection order.

constexpr uint32_t kMoeWarps = 8;
// Blocks of few rows: a block is one round of loads per warp, and GPT-OSS-20B's
// 2880-row experts then make 360 gate/up and 360 down blocks (with 16 rows
// a down block, 180 blocks of 8 warps left most warp slots empty: decode
// 399 -> 431 tok/s on the H200; 8 gate/up rows a block, half of each
// block's warps idle: 528 -> 493). A lane's 2-3 steps loaded together
// (80-128 registers) measured slower, 404-438 against 453 tok/s.
//
// Gate/up outputs of a warp step: 4 where a row's step takes at most 20
// bytes of registers (Q4_0, IQ4_NL, MXFP4), 2
// otherwise (Q5_K with 4: 165 registers). Measured on MXFP4 alone: 4
// outputs were level with 2 (452 tok/s) while its code book took TableQ's
// instructions; with SignMagnitudeQ's fewer the warps wait more on loads
// than on issue, and 4 outputs give 528 -> 538 tok/s (gate/up 22.6 -> 21.2
// us a layer; bench/NOTES.md 19).
template <class V>
constexpr uint32_t kMoeOuts = sizeof(typename V::Raw) <= 20 ? 4 : 2;
// Gate/up rows of a block (per selected expert): one 32-element unit of the
// down product's input, which the block then rounds to 8 bits once
// (MoeGateUpArgs::units) for every down block to copy. Each down block
// used to round all n_used activations itself (GPT-OSS-20B: 360 blocks,
// each 46 KB of F32 read from L2 and 11 520 elements rounded, in one L2
// round trip per selected expert) before its first weight load.
constexpr uint32_t kMoeRows = 32;
constexpr uint32_t kMoeDownRows = 8;   // down rows of a block
constexpr uint32_t kMoeDownGroup = 4;  // experts whose down rows load together
constexpr uint32_t kMaxUsed = 8;
constexpr size_t kMoeSmem = 48 * 1024;  // staged x or activations

// Both expert kernels release their successor early, as the other kernels
// do (launch.cuh): with every block of a product resident at once, the
// successor's early blocks take only slots the product does not use.
// Gate/up is held to 80 registers so that its blocks fit 3 a
// multiprocessor: GPT-OSS-20B's 360 run in one wave. Unbounded, it took
// 123-124 registers (2 blocks a multiprocessor, two waves); on an H100,
// decode 568 -> 594 tok/s with the bound alone (bench/NOTES.md 34).
//
// x is rounded into shared memory before the wait where the caller allows it
// (MoeGateUpArgs::x_early): the blocks sit resident behind the router's
// product and the routing kernel, so only the selected experts' loads are
// left after the wait. Measured on an H100 against rounding after it:
// GPT-OSS-20B decode +2.2% / +2.0% at depth 0 / 4096 (bench/NOTES.md 38).
template <class V>
__global__ void __launch_bounds__(kMoeWarps * 32, 3) q8_moe_gate_up_kernel(const MoeGateUpArgs a, uint64_t row_bytes) {
    constexpr uint32_t kOuts = kMoeOuts<V>, kRows = kMoeRows;
    static_assert(kRows == 32 && kRows % (kOuts * kMoeWarps) == 0, "a block is one unit, in whole warp steps");
    extern __shared__ XUnit xs[];
    __shared__ alignas(16) float kept[kRows];  // the block's activations, for a.units
    const uint32_t slot = blockIdx.y, t = blockIdx.z, n_units = a.cols / 32;
    if (a.x_early) round_x<V::kPairedX>(xs, a.x + uint64_t(t) * a.cols, n_units);
    kernel_begin();
    if (!a.x_early) round_x<V::kPairedX>(xs, a.x + uint64_t(t) * a.cols, n_units);
    __syncthreads();
    const uint32_t lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const uint32_t e = uint32_t(a.ids[t * a.n_used + slot]);
    const uint8_t* gate = static_cast<const uint8_t*>(a.gate) + e * a.expert_bytes;
    const uint8_t* up = static_cast<const uint8_t*>(a.up) + e * a.expert_bytes;
    const uint32_t r_end = min(a.rows, (blockIdx.x + 1) * kRows);
    // kOuts rows per warp step: their gate and up rows load together.
    for (uint32_t r0 = blockIdx.x * kRows + kOuts * warp; r0 < r_end; r0 += kOuts * kMoeWarps) {
        const uint8_t* rows[2 * kOuts];
        const XUnit* x[2 * kOuts];
#pragma unroll
        for (uint32_t o = 0; o < kOuts; ++o) {
            const uint32_t r = min(r0 + o, r_end - 1);  // past the end: repeated, dropped
            rows[o] = gate + r * row_bytes;
            rows[kOuts + o] = up + r * row_bytes;
            x[o] = x[kOuts + o] = xs;
        }
        float acc[2 * kOuts];
        q8_row_dots<V, 2 * kOuts>(rows, x, lane, n_units / V::kUnits, acc);
        if (lane == 0) moe_store_gate_up<kOuts>(a, e, t, slot, r0, r_end, acc, kept + (r0 - blockIdx.x * kRows));
    }
    if (a.units == nullptr) return;  // set only where q8_moe_rounds_units
    // The block's rows are unit blockIdx.x of the activation: rounded by
    // its first warp's first team, as round_x's team would round it.
    __syncthreads();
    if (warp != 0) return;
    const uint32_t g = lane & 7;
    XUnit* units = static_cast<XUnit*>(a.units) + (uint64_t(t) * a.n_used + slot) * (a.rows / 32);
    round_team<false>(units, blockIdx.x, lane < 8, g, reinterpret_cast<const float4*>(kept)[g]);
}

// The n units of act rounded by the gate/up product into xs, in the paired
// order where the format's dot takes it; kBatch units a thread loaded
// before any is stored.
template <bool kPaired>
__device__ __forceinline__ void copy_units(XUnit* xs, const XUnit* src, uint32_t n) {
    constexpr uint32_t kBatch = 2;
    for (uint32_t i0 = threadIdx.x; i0 < n; i0 += blockDim.x * kBatch) {
        XUnit u[kBatch];
#pragma unroll
        for (uint32_t k = 0; k < kBatch; ++k)
            if (i0 + k * blockDim.x < n) u[k] = src[i0 + k * blockDim.x];
#pragma unroll
        for (uint32_t k = 0; k < kBatch; ++k) {
            if (i0 + k * blockDim.x >= n) break;
            if (kPaired) quant::pair_words(u[k].q);
            xs[i0 + k * blockDim.x] = u[k];
        }
    }
}

template <class V>
__global__ void __launch_bounds__(kMoeWarps * 32) q8_moe_down_kernel(const MoeDownArgs a, uint64_t row_bytes) {
    kernel_begin();
    extern __shared__ XUnit xs[];
    const uint32_t t = blockIdx.y, n_units = a.cols / 32;
    if (a.units)
        copy_units<V::kPairedX>(xs, static_cast<const XUnit*>(a.units) + uint64_t(t) * a.n_used * n_units,
                                a.n_used * n_units);
    else
        for (uint32_t j = 0; j < a.n_used; ++j)
            round_x<V::kPairedX>(xs + j * n_units, a.act + (uint64_t(t) * a.n_used + j) * a.cols, n_units);
    __syncthreads();
    const uint32_t lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const uint32_t r_end = min(a.rows, (blockIdx.x + 1) * kMoeDownRows);
    for (uint32_t r = blockIdx.x * kMoeDownRows + warp; r < r_end; r += kMoeWarps) {
        MoeDownOperands ops;
        ops.load(a, t, r, lane);
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
            q8_row_dots<V, kMoeDownGroup>(rows, x, lane, n_units / V::kUnits, s);
#pragma unroll
            for (uint32_t i = 0; i < kMoeDownGroup; ++i) {
                const uint32_t j = j0 + i;
                if (j >= a.n_used) break;
                acc = ops.add(a, j, s[i], acc);
            }
        }
        if (lane == 0) a.x[uint64_t(t) * a.rows + r] = ops.x + acc;
    }
}

}  // namespace

bool q8_moe_rounds_units(const MoeGateUpArgs& a) { return a.units && a.rows % kMoeRows == 0; }

template <class V>
bool q8_moe_gate_up(const MoeGateUpArgs& a, uint64_t row_bytes, cudaStream_t stream) {
    const size_t smem = size_t(a.cols / 32) * sizeof(XUnit);
    if (smem > kMoeSmem || a.cols % (32 * V::kUnits) != 0 || a.n_used > kMaxUsed) return false;
    const dim3 grid((a.rows + kMoeRows - 1) / kMoeRows, a.n_used, a.n_tokens);
    MoeGateUpArgs k = a;
    if (!q8_moe_rounds_units(a)) k.units = nullptr;
    launch(q8_moe_gate_up_kernel<V>, grid, kMoeWarps * 32, smem, stream, k, row_bytes);
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

uint32_t q8_split_parts(uint32_t n_groups, uint32_t n_steps) {
    static const uint32_t sms = sm_count();
    if (n_steps > kMaxSplitSteps) return 1;
    uint32_t parts = std::min<uint32_t>(kMaxParts, (n_steps + 31) / 32);
    while (parts > 1 && n_groups > uint64_t(kMaxWarps / parts) * sms) --parts;
    return parts;
}

uint32_t q8_swiglu_rows(uint64_t outputs, uint32_t n_steps) {
    static const uint32_t sms = sm_count();
    return n_steps <= 32 && outputs > uint64_t(sms) * kMaxWarps ? 2 * kRows : kRows;
}

template <class V>
bool q8_fits(const MatvecArgs& a) {
    if (a.cols > kMaxCols || a.cols % (32 * V::kUnits) != 0) return false;
    return !a.norm_w || reinterpret_cast<uintptr_t>(a.norm_w) % 16 == 0;
}

template <class V>
bool q8_matvec(const MatvecArgs& a, Epilogue e, uint64_t row_bytes, cudaStream_t stream) {
    if (!q8_fits<V>(a)) return false;
    const uint64_t rb[2] = {row_bytes, row_bytes};
    switch (e) {
        case Epilogue::Store: launch_product<V, V, Epilogue::Store>(a, 0, rb, stream); break;
        case Epilogue::Add: launch_product<V, V, Epilogue::Add>(a, 0, rb, stream); break;
        case Epilogue::SwiGlu: launch_product<V, V, Epilogue::SwiGlu>(a, 0, rb, stream); break;
    }
    return true;
}

template <class V, class VB>
bool q8_matvec_pair(const MatvecArgs& a, uint32_t n_first, uint64_t row_bytes, uint64_t row_bytes_b,
                    cudaStream_t stream) {
    if (!q8_fits<V>(a) || !q8_fits<VB>(a) || n_first == 0 || n_first >= a.n_seg) return false;
    const uint64_t rb[2] = {row_bytes, row_bytes_b};
    launch_product<V, VB, Epilogue::Store>(a, n_first, rb, stream);
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
template bool q8_matvec_pair<quant::Q5_0Q, quant::Q8_0Q>(const MatvecArgs&, uint32_t, uint64_t, uint64_t, cudaStream_t);
template bool q8_matvec_pair<quant::Q4_KQ, quant::Q6_KQ>(const MatvecArgs&, uint32_t, uint64_t, uint64_t, cudaStream_t);
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
ORCD_Q8_MOE(MXFP4GQ)
#undef ORCD_Q8_MOE

}  // namespace orcd::cuda
