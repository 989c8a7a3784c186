// Causal GQA attention over the F16 KV cache.
//
// Prefill (and head_dims the decode kernel does not cover): one block per
// (query head, token[, key split]). Keys are processed in tiles of kTile with
// an online softmax (running max m, running sum l, rescaled accumulator), so
// no score buffer grows with the context. The tile sums go through
// block_sum's fixed tree, the weighted V sum runs over the tile's keys in
// index order in the thread owning that dimension.
//
// Decode (one query): decode_attention_kernel, one block per (query head,
// key split), which can also rotate q, store the new K/V row and merge its
// splits; see there.
//
// Split results are merged in split order; the split is a function of the
// number of keys (and the model shape) only.
#include "backend/cuda/kernels.h"

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/launch.cuh"
#include "backend/cuda/pointwise.cuh"
#include "backend/cuda/prefill_attention.h"
#include "backend/cuda/reduce.cuh"

#include <cuda_fp16.h>

#include <cmath>

namespace orcd::cuda {
namespace {

constexpr int kTile = 128;  // keys per tile = threads per block (prefill kernel)
constexpr uint32_t kMaxSplits = 64;

constexpr int kDecWarps = 4;
constexpr int kDecThreads = kDecWarps * 32;

__device__ __forceinline__ float neg_inf() { return -__int_as_float(0x7f800000); }

// The most splits of a single query's keys and the fewest keys a split
// holds: fixed by the model shape (split_limit).
struct SplitLimits {
    uint32_t max_splits, min_keys;
};

// How a single query's keys are split: a function of the number of keys and
// of the limits, so the same context always merges the same partial results.
// Every split holds at least one key.
struct Split {
    uint32_t n, keys;  // splits, keys per split
};
__host__ __device__ __forceinline__ Split split_for(uint32_t n_keys, SplitLimits lim) {
    uint32_t kps = (n_keys + lim.max_splits - 1) / lim.max_splits;
    if (kps < lim.min_keys) kps = lim.min_keys;
    return {(n_keys + kps - 1) / kps, kps};
}

// The counters of finished split blocks (one per query head) after the
// partial results in the split workspace.
__host__ __device__ __forceinline__ uint32_t* split_counters(float* split_ws, uint32_t n_head, uint32_t head_dim) {
    return reinterpret_cast<uint32_t*>(split_ws + uint64_t(n_head) * kMaxSplits * (head_dim + 2));
}

// Splits are chosen so that (blocks per split) x splits reaches this many
// blocks: ~4 per SM on a 132-SM part, enough warps to keep K/V loads in
// flight at moderate depths.
constexpr uint32_t kTargetBlocks = 512;

// The fewest keys a split holds. The decode kernel rotates q and merges the
// splits itself: splits of 16 keys left it mostly fixed cost, and up to 128
// keys now take one block a head, no merge. On an H200 (bench/NOTES.md 20),
// decode at depth 0 / 4096: Qwen2.5-0.5B +7% / +2.5%, Phi-3-mini +4% / the
// same (its splits hold 256 keys there either way). The prefill kernel's
// single-query splits (head_dims the decode kernel does not cover) keep 16.
constexpr uint32_t kMinKeysPerSplit = 16;
constexpr uint32_t kMinKeysDecode = 128;

// The split limits of a model with `blocks` blocks per split: enough splits
// for (blocks per split) x splits to reach kTargetBlocks.
SplitLimits split_limit(uint32_t blocks, uint32_t min_keys = kMinKeysPerSplit) {
    const uint32_t s = (kTargetBlocks + blocks - 1) / blocks;
    return {s < 1 ? 1 : (s > kMaxSplits ? kMaxSplits : s), min_keys};
}

// No split: one block takes every key.
constexpr SplitLimits kNoSplit{1, kMinKeysPerSplit};

// Splits the grid must hold for any context up to max_keys keys: split_for
// gives at most ceil(n / min_keys) and at most max_splits (not monotone in
// n, hence the bound).
uint32_t grid_splits(uint32_t max_keys, SplitLimits lim) {
    const uint32_t n = (max_keys + lim.min_keys - 1) / lim.min_keys;
    return n < 1 ? 1 : (n > lim.max_splits ? lim.max_splits : n);
}

__device__ __forceinline__ uint32_t position(uint32_t pos0, const uint32_t* dev_pos) {
    return dev_pos ? pos0 + *dev_pos : pos0;
}

// The first key a query with n_keys keys [0, n_keys) attends to.
__host__ __device__ __forceinline__ uint32_t first_key(uint32_t n_keys, uint32_t window) {
    return window && n_keys > window ? n_keys - window : 0;
}

// log2(e): the decode kernel keeps its scores in base-2 units (logit x
// log2 e), where 2^x is one instruction of the multifunction unit; expf
// costs about ten more, and a chunk of 8 steps takes nine of them.
constexpr float kLog2e = 1.4426950408889634f;

// 2^x: ex2.approx, relative error about 2^-22; results below 2^-126 are
// flushed to zero (far below what a softmax sum in F32 can hold beside its
// largest term, which is 1), 2^-inf = 0.
__device__ __forceinline__ float exp2_ftz(float x) {
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}

// e^x for natural-unit scores, 2^x for base-2 ones (kBase2).
template <bool kBase2>
__device__ __forceinline__ float softmax_pow(float x) {
    if constexpr (kBase2)
        return exp2_ftz(x);
    else
        return expf(x);
}

// Adds a sink logit (in the state's units) to a finished softmax state (max
// m, sum l): the sink takes probability mass and carries no value. The
// accumulator must then be multiplied by corr (the rescale to the new
// maximum); with the sink below the maximum, corr is 1 and l grows by
// e^(sink - m).
template <bool kBase2 = false>
__device__ __forceinline__ void with_sink(float sink, float& m, float& l, float& corr) {
    const float mx = fmaxf(m, sink);
    corr = softmax_pow<kBase2>(m - mx);
    l = l * corr + softmax_pow<kBase2>(sink - mx);
    m = mx;
}

// With lim.max_splits > 1 (a single query), blockIdx.z is the key split;
// blocks past the split count of the actual context leave before any
// barrier.
template <bool kVec>
__global__ void __launch_bounds__(kTile) attention_kernel(float* out, const float* q, const __half* k,
                                                          const __half* v, uint32_t pos_base, const uint32_t* dev_pos,
                                                          uint32_t n_head, uint32_t n_head_kv, uint32_t head_dim,
                                                          float scale, uint32_t window, const float* sinks,
                                                          SplitLimits lim, float* split_ws) {
    kernel_begin();
    extern __shared__ float smem[];
    float* qs = smem;
    float* acc = qs + head_dim;
    float* p = acc + head_dim;
    float* scratch = p + kTile;

    const uint32_t h = blockIdx.x, t = blockIdx.y, z = blockIdx.z;
    const uint32_t kvh = h / (n_head / n_head_kv);
    const uint32_t n_keys = position(pos_base, dev_pos) + t + 1;
    const uint32_t lo = first_key(n_keys, window);
    const Split sp = lim.max_splits > 1 ? split_for(n_keys - lo, lim) : Split{1, 0xffffffffu};
    if (z >= sp.n) return;  // uniform across the block
    const uint32_t keys_per_split = sp.keys;
    const uint32_t j_begin = lo + z * keys_per_split;
    // (keys_per_split is ~0u without splits: no j_begin + keys_per_split.)
    const uint32_t j_end = keys_per_split >= n_keys - j_begin ? n_keys : j_begin + keys_per_split;
    const uint64_t row = uint64_t(n_head_kv) * head_dim;
    const float* qh = q + (uint64_t(t) * n_head + h) * head_dim;

    for (uint32_t d = threadIdx.x; d < head_dim; d += blockDim.x) {
        qs[d] = qh[d];
        acc[d] = 0.0f;
    }
    __syncthreads();

    float m = neg_inf(), l = 0.0f;
    for (uint32_t j0 = j_begin; j0 < j_end; j0 += kTile) {
        const uint32_t j = j0 + threadIdx.x;
        float s = neg_inf();
        if (j < j_end) {
            const __half* kr = k + uint64_t(j) * row + uint64_t(kvh) * head_dim;
            float dot = 0.0f;
            if constexpr (kVec) {
                // Unrolled so that several 16-byte loads of the key row are
                // in flight; the products are still added in index order.
#pragma unroll 4
                for (uint32_t c = 0; c < head_dim; c += 8) {
                    const uint4 raw = *reinterpret_cast<const uint4*>(kr + c);
                    const __half2* h2 = reinterpret_cast<const __half2*>(&raw);
#pragma unroll
                    for (int e = 0; e < 4; ++e) {
                        const float2 f = __half22float2(h2[e]);
                        dot += qs[c + 2 * e] * f.x;
                        dot += qs[c + 2 * e + 1] * f.y;
                    }
                }
            } else {
                for (uint32_t d = 0; d < head_dim; ++d) dot += qs[d] * __half2float(kr[d]);
            }
            s = dot * scale;
        }
        const float m_new = fmaxf(m, block_max(s, scratch));
        const float corr = expf(m - m_new);
        const float e = j < j_end ? expf(s - m_new) : 0.0f;
        p[threadIdx.x] = e;
        l = l * corr + block_sum(e, scratch);  // its barriers publish p[]
        const uint32_t n_in = min(uint32_t(kTile), j_end - j0);
        for (uint32_t d = threadIdx.x; d < head_dim; d += blockDim.x) {
            float a = acc[d] * corr;
            const __half* vc = v + uint64_t(j0) * row + uint64_t(kvh) * head_dim + d;
            // Unrolled for loads in flight; the sum stays in key order.
#pragma unroll 8
            for (uint32_t jj = 0; jj < n_in; ++jj) a += p[jj] * __half2float(vc[uint64_t(jj) * row]);
            acc[d] = a;
        }
        m = m_new;
        __syncthreads();  // p[] is rewritten by the next tile
    }

    if (sp.n > 1) {
        float* ws = split_ws + (uint64_t(h) * kMaxSplits + z) * (head_dim + 2);
        if (threadIdx.x == 0) {
            ws[0] = m;
            ws[1] = l;
        }
        for (uint32_t d = threadIdx.x; d < head_dim; d += blockDim.x) ws[2 + d] = acc[d];
    } else {
        float* o = out + (uint64_t(t) * n_head + h) * head_dim;
        float corr = 1.0f;
        if (sinks) with_sink(sinks[h], m, l, corr);
        for (uint32_t d = threadIdx.x; d < head_dim; d += blockDim.x) o[d] = acc[d] * corr / l;
    }
}

// 8 F16 values of a 16-byte chunk as floats, in element order.
__device__ __forceinline__ void unpack8(const uint4& raw, float (&f)[8]) {
    const __half2* h2 = reinterpret_cast<const __half2*>(&raw);
#pragma unroll
    for (int e = 0; e < 4; ++e) {
        const float2 t = __half22float2(h2[e]);
        f[2 * e] = t.x;
        f[2 * e + 1] = t.y;
    }
}

// Head h's n_split partial results (split_ws) merged into out: each split's
// weight exp(m_z - m) computed once, then every sum over the splits in split
// order. The whole block takes part (blockDim a multiple of 32, at least
// kMaxSplits). The partials are read from L2 (__ldcg): in the decode kernel
// other multiprocessors wrote them during the same kernel. kBase2: the
// maxima are base-2 (the decode kernel's), the sink natural, as given.
template <bool kBase2>
__device__ void merge_splits(float* out, const float* split_ws, uint32_t h, uint32_t n_split, uint32_t head_dim,
                             const float* sinks, float* weight, float* lw, float* scratch) {
    const uint64_t stride = head_dim + 2;
    const float* ws = split_ws + uint64_t(h) * kMaxSplits * stride;
    const float mz = threadIdx.x < n_split ? __ldcg(ws + threadIdx.x * stride) : neg_inf();
    float m = block_max(mz, scratch);
    const float sink = sinks ? (kBase2 ? sinks[h] * kLog2e : sinks[h]) : 0.0f;
    if (sinks) m = fmaxf(m, sink);  // the sink joins below, as one more split without value
    if (threadIdx.x < n_split) {
        const float w = softmax_pow<kBase2>(mz - m);
        weight[threadIdx.x] = w;
        lw[threadIdx.x] = __ldcg(ws + threadIdx.x * stride + 1) * w;
    }
    __syncthreads();
    float l = 0.0f;
    for (uint32_t z = 0; z < n_split; ++z) l += lw[z];
    if (sinks) l += softmax_pow<kBase2>(sink - m);
    for (uint32_t d = threadIdx.x; d < head_dim; d += blockDim.x) {
        float a = 0.0f;
        for (uint32_t z = 0; z < n_split; ++z) a += __ldcg(ws + z * stride + 2 + d) * weight[z];
        out[uint64_t(h) * head_dim + d] = a / l;
    }
    __syncthreads();  // weight and lw read by every thread before the block goes on
}

// The merge as a kernel of its own, one block per query head, for the
// prefill kernel's single-query splits (the decode kernel merges its own).
__global__ void attention_merge_kernel(float* out, const float* split_ws, uint32_t pos_base, const uint32_t* dev_pos,
                                       uint32_t head_dim, uint32_t window, const float* sinks, SplitLimits lim) {
    kernel_begin();
    __shared__ float weight[kMaxSplits], lw[kMaxSplits], scratch[32];
    const uint32_t n_keys = position(pos_base, dev_pos) + 1;
    const uint32_t n_split = split_for(n_keys - first_key(n_keys, window), lim).n;
    if (n_split == 1) return;  // the attention kernel wrote `out` itself
    merge_splits<false>(out, split_ws, blockIdx.x, n_split, head_dim, sinks, weight, lw, scratch);
}

// The decode kernel's new-row work for a single query (see
// attention_rope_store): k_new, v_new are the query token's K and V rows.
struct NewRow {
    const float* k;  // null: q and the cache are used as they are
    const float* v;
    RopeConfig rope;
};

// The rotation angles of the elements a thread of a decode block rotates
// (threadIdx.x + k * kDecThreads, k < 2: head_dim <= 256). They depend on
// the position only, so the block computes them before its wait.
struct RowAngles {
    float c[2], s[2];
};

__device__ __forceinline__ void row_angles(RowAngles& ra, const RopeConfig& r, float pos, uint32_t head_dim) {
#pragma unroll
    for (int k = 0; k < 2; ++k) {
        const uint32_t d = threadIdx.x + k * kDecThreads;
        ra.c[k] = 1.0f;
        ra.s[k] = 0.0f;
        if (r.mode == RopeMode::None || d >= head_dim || d >= r.dims) continue;
        uint32_t e0, e1;
        bool second;
        rope_cs(pos, rope_partner(r.mode, r.dims, d, 0, e0, e1, second), r, ra.c[k], ra.s[k]);
    }
}

// Element d of a head (h: its first element) rotated with its pair's
// (cos, sin), as rope_store_kernel computes it: from the element's pair, so
// every element gets the bits of the pair's rotation.
__device__ __forceinline__ float rotated(const float* h, uint32_t d, const RopeConfig& r, float c, float s) {
    if (r.mode == RopeMode::None || d >= r.dims) return h[d];
    uint32_t e0, e1;
    bool second;
    rope_partner(r.mode, r.dims, d, 0, e0, e1, second);
    float o0, o1;
    rope_apply(h[e0], h[e1], c, s, o0, o1);
    return second ? o1 : o0;
}

// The block's query head (q) rotated into qs; with kc (the block's split
// holds the query's own position p), the new key row (rotated) and value
// row of KV head kvh rounded to F16 into the cache at p and into knew/vnew,
// where the block's key loop takes them (its loads of the cache may have
// been issued before they were written). Blocks of other query heads of
// the same KV head write the same bits there.
__device__ __forceinline__ void stage_new_row(float* qs, const float* q, __half* kc, __half* vc, __half* knew,
                                              __half* vnew, const NewRow& nr, const RowAngles& ra, uint32_t p,
                                              uint32_t n_head_kv, uint32_t kvh, uint32_t head_dim) {
    const uint64_t at = (uint64_t(p) * n_head_kv + kvh) * head_dim;
    const float* kt = nr.k + uint64_t(kvh) * head_dim;
    const float* vt = nr.v + uint64_t(kvh) * head_dim;
#pragma unroll
    for (int k = 0; k < 2; ++k) {
        const uint32_t d = threadIdx.x + k * kDecThreads;
        if (d >= head_dim) break;
        qs[d] = rotated(q, d, nr.rope, ra.c[k], ra.s[k]);
        if (!kc) continue;
        const __half kh = __float2half_rn(rotated(kt, d, nr.rope, ra.c[k], ra.s[k]));
        const __half vh = __float2half_rn(vt[d]);
        kc[at + d] = kh;
        vc[at + d] = vh;
        knew[d] = kh;
        vnew[d] = vh;
    }
}

// Softmax state of the keys a lane group has seen: running max, sum and
// the unnormalised V sum (8 dimensions per lane).
struct DecodeState {
    float m, l, acc[8];
};

// Warp steps whose K and V loads the decode kernel starts together.
constexpr int kSteps = 8;

// Where a lane of a decode block finds its keys: lpk lanes cover one key
// row, one 16-byte chunk each, a warp step covers per_step keys.
struct KeyLanes {
    const char* k;  // the lane's chunk of key 0 of its KV head
    const char* v;
    uint32_t row;   // bytes from one key's row to the next
    uint32_t per_step, lpk, kg;  // kg: the lane's key within a step
    uint32_t chunk;  // the lane's 16-byte chunk of a row; lanes past the row read the last one
    uint32_t w_end;  // one past the warp's last key
    uint32_t j_new;  // the query's own key (staged in knew/vnew), or ~0u
    bool in_row;     // false: the lane is past the row (its q is zero)
};

// The K and V chunks of up to kSteps warp steps.
struct StepRows {
    uint4 k[kSteps], v[kSteps];
    bool valid[kSteps];
};

// The key a lane reads at step u: past the warp's range, the warp's last
// key instead, so that every load is of a row in the cache and needs no
// branch (the step scores -inf and its row is weighted by an exact 0).
__device__ __forceinline__ uint32_t step_key(uint32_t j0, int u, const KeyLanes& kl) {
    return min(j0 + u * kl.per_step + kl.kg, kl.w_end - 1);
}

// Loads the first N steps' chunks from key j0 on. The query's own key may
// be loaded before it is written (a fused block loads before its wait):
// fold_steps puts the staged row in its place.
template <int N>
__device__ __forceinline__ void load_steps(StepRows& r, uint32_t j0, const KeyLanes& kl) {
#pragma unroll
    for (int u = 0; u < N; ++u) {
        r.valid[u] = j0 + u * kl.per_step + kl.kg < kl.w_end;
        const uint64_t at = uint64_t(step_key(j0, u, kl)) * kl.row;
        r.k[u] = *reinterpret_cast<const uint4*>(kl.k + at);
        r.v[u] = *reinterpret_cast<const uint4*>(kl.v + at);
    }
}

// Scores the first N loaded steps (from key j0 on) against q (qs), in base
// 2 (scale2: the score scale times log2 e), and folds them into the lane
// group's softmax state, in step order. Steps past the
// warp's keys score -inf and add exact zeros, so a body of any N that holds
// a chunk's keys gives the same bits.
template <int N>
__device__ __forceinline__ void fold_steps(DecodeState& st, StepRows& r, uint32_t j0, const KeyLanes& kl,
                                           const float* qs, const __half* knew, const __half* vnew, float scale2) {
    constexpr unsigned kAll = 0xffffffffu;
    if (kl.j_new >= j0 && kl.j_new < kl.w_end)  // the warp's last chunk in the last split
#pragma unroll
        for (int u = 0; u < N; ++u)
            if (step_key(j0, u, kl) == kl.j_new) {
                r.k[u] = reinterpret_cast<const uint4*>(knew)[kl.chunk];
                r.v[u] = reinterpret_cast<const uint4*>(vnew)[kl.chunk];
            }

    float qf[8] = {};
    if (kl.in_row) {
        *reinterpret_cast<float4*>(qf) = *reinterpret_cast<const float4*>(qs + kl.chunk * 8);
        *reinterpret_cast<float4*>(qf + 4) = *reinterpret_cast<const float4*>(qs + kl.chunk * 8 + 4);
    }
    float s[N];
#pragma unroll
    for (int u = 0; u < N; ++u) {
        float kf[8];
        unpack8(r.k[u], kf);
        float d = qf[0] * kf[0];
#pragma unroll
        for (int e = 1; e < 8; ++e) d += qf[e] * kf[e];
        s[u] = d;
    }
    for (uint32_t o = kl.lpk / 2; o > 0; o >>= 1) {
#pragma unroll
        for (int u = 0; u < N; ++u) s[u] += __shfl_xor_sync(kAll, s[u], o);
    }

    float vf[N][8];
#pragma unroll
    for (int u = 0; u < N; ++u) unpack8(r.v[u], vf[u]);
    float mx = st.m;
#pragma unroll
    for (int u = 0; u < N; ++u) {
        s[u] = r.valid[u] ? s[u] * scale2 : neg_inf();
        mx = fmaxf(mx, s[u]);
    }
    if (mx == neg_inf()) return;  // no key of this lane group yet
    const float corr = exp2_ftz(st.m - mx);
    float p[N];
#pragma unroll
    for (int u = 0; u < N; ++u) p[u] = exp2_ftz(s[u] - mx);  // 0 for invalid keys
    float l = st.l * corr;
#pragma unroll
    for (int u = 0; u < N; ++u) l += p[u];
    st.l = l;
#pragma unroll
    for (int e = 0; e < 8; ++e) {
        float a = st.acc[e] * corr;
#pragma unroll
        for (int u = 0; u < N; ++u) a += p[u] * vf[u][e];
        st.acc[e] = a;
    }
    st.m = mx;
}

// A single query. Block (blockIdx.x, blockIdx.y) = (query head, key split):
// one head a block, also where several query heads share a KV head (GQA).
// Blocks of 8 heads, which read each K/V row once for the group, decoded
// TinyLlama and GPT-OSS-20B 10-20% slower on an H200 (bench/NOTES.md 30):
// they held 255 registers a thread, and each layer needed a merge kernel and
// a RoPE + KV store kernel. Here the group's blocks read the same rows, the
// repeats mostly from L2. Blocks of a group's heads sharing each row through
// a shared-memory tile (a warp a head) were 12% slower than this kernel
// (bench/NOTES.md 31): fewer warps, longer chains each, and one block merging every head's
// splits cost more than the repeated reads.
//
// lpk lanes cover one key row, one 16-byte load each: head_dim / 8 rounded
// up to a power of two, the lanes past the row (Phi-3's head_dim 96: 12
// chunks, 16 lanes) reading the row's last chunk against a zero q, which
// adds nothing to the sums, and writing nothing; a warp
// works on 32 / lpk keys per step; each warp owns a contiguous range of the
// split's keys, and starts the K and V loads of kSteps steps before any
// arithmetic. Fixed order everywhere: a lane's 8 products in element order,
// a butterfly over the lpk lanes of a key (every lane of the key gets the
// same bits), per lane group the online softmax over its keys in step
// order (in base 2: the maxima in split_ws are base-2), lane groups merged by a butterfly whose combination is symmetric
// (explicitly rounded products and sums, so both partners get the same
// bits), warps merged in warp order through shared memory, splits merged in
// split order by the last split block to finish. Needs head_dim a multiple
// of 8 up to 256 (decode_kernel_fits).
__global__ void __launch_bounds__(kDecThreads)
    decode_attention_kernel(float* out, const float* q, __half* k, __half* v, uint32_t pos_base,
                            const uint32_t* dev_pos, uint32_t n_head_kv, uint32_t group, uint32_t head_dim,
                            float scale2, uint32_t window, const float* sinks, SplitLimits lim, float* split_ws,
                            NewRow nr) {
    // A block that writes the new row itself (nr.k: a decode step) reads,
    // before its wait, what the step's first kernel and earlier steps wrote
    // (the position, the cached keys before the query's: launch.cuh,
    // kernels.h) and computes the rotation angles, so that after the wait
    // only q and the new row remain. Without a new row the kernel keeps the
    // order of a plain kernel: a second, early path for that case cost 0.5%
    // at depth 4096 on an H200.
    const bool fused = nr.k != nullptr;
    if (!fused) kernel_begin();
    extern __shared__ float4 smem4[];  // float4: 16-byte aligned rows of q
    float* qs = reinterpret_cast<float*>(smem4);  // [head_dim]
    float* warp_st = qs + head_dim;               // [kDecWarps][2 + head_dim]
    __half* knew = reinterpret_cast<__half*>(warp_st + kDecWarps * (head_dim + 2));  // [head_dim], fused only
    __half* vnew = knew + head_dim;
    constexpr unsigned kAll = 0xffffffffu;

    const uint32_t n_keys = position(pos_base, dev_pos) + 1;
    const uint32_t lo = first_key(n_keys, window);
    const Split sp = split_for(n_keys - lo, lim);
    const uint32_t z = blockIdx.y;
    if (z >= sp.n) return;  // uniform across the block

    const uint32_t h = blockIdx.x;
    const uint32_t kvh = h / group;
    const uint32_t n_chunks = head_dim / 8;                // 16-byte chunks of a key row
    const uint32_t lpk = 1u << (32 - __clz(n_chunks - 1));  // lanes per key row: n_chunks rounded up to 2^k
    const uint32_t per_step = 32 / lpk;                     // keys per warp step
    const uint32_t lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const uint32_t chunk = lane % lpk;

    const uint32_t j_begin = lo + z * sp.keys;
    const uint32_t j_end = min(n_keys, j_begin + sp.keys);
    const uint32_t per_warp = (j_end - j_begin + kDecWarps - 1) / kDecWarps;
    const uint32_t w_begin = min(j_end, j_begin + warp * per_warp);

    KeyLanes kl;
    kl.row = n_head_kv * head_dim * uint32_t(sizeof(__half));
    kl.chunk = min(chunk, n_chunks - 1);
    kl.k = reinterpret_cast<const char*>(k + uint64_t(kvh) * head_dim + kl.chunk * 8);
    kl.v = reinterpret_cast<const char*>(v + uint64_t(kvh) * head_dim + kl.chunk * 8);
    kl.per_step = per_step;
    kl.lpk = lpk;
    kl.kg = lane / lpk;
    kl.w_end = min(j_end, w_begin + per_warp);
    kl.j_new = fused ? n_keys - 1 : ~0u;  // the query's own key
    kl.in_row = chunk < n_chunks;  // else the lane's K, V and q are zeros

    StepRows rows;
    RowAngles ra;
    if (fused) {
        row_angles(ra, nr.rope, float(n_keys - 1), head_dim);
        load_steps<kSteps>(rows, w_begin, kl);
        kernel_begin();
        stage_new_row(qs, q + uint64_t(h) * head_dim, z + 1 == sp.n ? k : nullptr, v, knew, vnew, nr, ra, n_keys - 1,
                      n_head_kv, kvh, head_dim);
    } else {
        for (uint32_t i = threadIdx.x; i < head_dim; i += kDecThreads) qs[i] = q[uint64_t(h) * head_dim + i];
    }
    __syncthreads();  // q staged; the new key and value rows in the cache and in knew/vnew

    DecodeState st;
    st.m = neg_inf();
    st.l = 0.0f;
#pragma unroll
    for (int e = 0; e < 8; ++e) st.acc[e] = 0.0f;

    // The warp's keys in chunks of kSteps steps. The last chunk, partial,
    // runs the smallest body of 1, 2, 4 or 8 steps that holds it: a full
    // body for one key of a chunk cost a warp a third of its work at depth
    // 4096 (per_warp 65 keys, chunks of 32). The loop bounds are uniform
    // across the warp (shuffles inside).
    for (uint32_t j0 = w_begin; j0 < kl.w_end; j0 += kSteps * per_step) {
        const bool loaded = fused && j0 == w_begin;  // the first chunk's loads came before the wait
        const uint32_t left = (kl.w_end - j0 + per_step - 1) / per_step;  // steps the warp has left
        if (left > kSteps / 2) {
            if (!loaded) load_steps<kSteps>(rows, j0, kl);
            fold_steps<kSteps>(st, rows, j0, kl, qs, knew, vnew, scale2);
        } else if (left > 2) {
            if (!loaded) load_steps<4>(rows, j0, kl);
            fold_steps<4>(st, rows, j0, kl, qs, knew, vnew, scale2);
        } else if (left == 2) {
            if (!loaded) load_steps<2>(rows, j0, kl);
            fold_steps<2>(st, rows, j0, kl, qs, knew, vnew, scale2);
        } else {
            if (!loaded) load_steps<1>(rows, j0, kl);
            fold_steps<1>(st, rows, j0, kl, qs, knew, vnew, scale2);
        }
    }

    // Lane groups of the warp (same chunk, other keys), butterfly.
    for (uint32_t o = lpk; o < 32; o <<= 1) {
        const float mo = __shfl_xor_sync(kAll, st.m, o);
        const float lother = __shfl_xor_sync(kAll, st.l, o);
        const float mx = fmaxf(st.m, mo);
        const bool empty = mx == neg_inf();  // both sides saw no key
        const float cs = empty ? 0.0f : exp2_ftz(st.m - mx);
        const float co = empty ? 0.0f : exp2_ftz(mo - mx);
        st.l = __fadd_rn(__fmul_rn(st.l, cs), __fmul_rn(lother, co));
#pragma unroll
        for (int e = 0; e < 8; ++e) {
            const float ao = __shfl_xor_sync(kAll, st.acc[e], o);
            st.acc[e] = __fadd_rn(__fmul_rn(st.acc[e], cs), __fmul_rn(ao, co));
        }
        st.m = mx;
    }
    if (kl.kg == 0 && kl.in_row) {
        float* w = warp_st + uint32_t(warp) * (head_dim + 2);
        if (chunk == 0) {
            w[0] = st.m;
            w[1] = st.l;
        }
#pragma unroll
        for (int e = 0; e < 8; ++e) w[2 + chunk * 8 + e] = st.acc[e];
    }
    __syncthreads();

    // Warps in warp order. The block has at least one key, so the maximum is
    // finite and a warp without keys (m = -inf) gets weight 0.
    for (uint32_t d = threadIdx.x; d < head_dim; d += kDecThreads) {
        float mx = neg_inf();
        for (int w = 0; w < kDecWarps; ++w) mx = fmaxf(mx, warp_st[w * (head_dim + 2)]);
        float l = 0.0f, a = 0.0f;
        for (int w = 0; w < kDecWarps; ++w) {
            const float* ws = warp_st + w * (head_dim + 2);
            const float c = exp2_ftz(ws[0] - mx);
            l += ws[1] * c;
            a += ws[2 + d] * c;
        }
        if (sp.n > 1) {
            float* ws = split_ws + (uint64_t(h) * kMaxSplits + z) * (head_dim + 2);
            if (d == 0) {
                ws[0] = mx;
                ws[1] = l;
            }
            ws[2 + d] = a;
        } else {
            float corr = 1.0f;
            if (sinks) with_sink<true>(sinks[h] * kLog2e, mx, l, corr);
            out[uint64_t(h) * head_dim + d] = a * corr / l;
        }
    }
    if (sp.n == 1) return;
    // The last of the head's split blocks to finish merges them, instead of
    // a merge kernel after this one (a launch and a kernel boundary a layer).
    // Each thread's partials are made visible before the block counts
    // itself; the counter goes back to zero for the next call.
    __shared__ uint32_t ticket;
    __shared__ float weight[kMaxSplits], lw[kMaxSplits], scratch[32];
    uint32_t* done = split_counters(split_ws, gridDim.x, head_dim) + h;
    __threadfence();
    __syncthreads();
    if (threadIdx.x == 0) ticket = atomicAdd(done, 1u);
    __syncthreads();
    if (ticket + 1 != sp.n) return;
    __threadfence();
    if (threadIdx.x == 0) *done = 0;
    merge_splits<true>(out, split_ws, h, sp.n, head_dim, sinks, weight, lw, scratch);
}

// One block per row (token t = blockIdx.x, head blockIdx.y) of S. The row's
// One block per row (token t = blockIdx.x, head blockIdx.y) of S. The row's
// max and sum go through block_max/block_sum (per-thread strided partials in
// index order, then the fixed tree); exp is recomputed for the output (the
// same bits as in the sum).
constexpr int kSoftmaxThreads = 256;
__global__ void __launch_bounds__(kSoftmaxThreads)
    causal_softmax_kernel(__half* p, const float* s, uint32_t n_tokens, uint32_t pos0, uint32_t n_keys, uint64_t ld,
                          uint32_t window, const float* sinks, uint32_t head_base) {
    kernel_begin();
    __shared__ float scratch[32];
    const uint64_t r = uint64_t(blockIdx.y) * n_tokens + blockIdx.x;
    const float* sr = s + r * ld;
    __half* pr = p + r * ld;
    const uint32_t n_valid = pos0 + blockIdx.x + 1;  // keys [lo, pos0 + t]
    const uint32_t lo = first_key(n_valid, window);
    float m = neg_inf();
    for (uint32_t j = lo + threadIdx.x; j < n_valid; j += kSoftmaxThreads) m = fmaxf(m, sr[j]);
    m = block_max(m, scratch);
    const float sink = sinks ? sinks[head_base + blockIdx.y] : neg_inf();
    m = fmaxf(m, sink);
    float l = 0.0f;
    for (uint32_t j = lo + threadIdx.x; j < n_valid; j += kSoftmaxThreads) l += expf(sr[j] - m);
    l = block_sum(l, scratch);
    if (sinks) l += expf(sink - m);
    for (uint32_t j = threadIdx.x; j < n_keys; j += kSoftmaxThreads)
        pr[j] = __float2half_rn(j >= lo && j < n_valid ? expf(sr[j] - m) / l : 0.0f);
}

bool decode_kernel_fits(uint32_t head_dim) { return head_dim % 8 == 0 && head_dim > 0 && head_dim <= 256; }

}  // namespace

void causal_softmax_f16(f16_bits* p, const float* s, uint32_t n_heads, uint32_t n_tokens, uint32_t pos0,
                        uint32_t n_keys, uint64_t ld, cudaStream_t stream, uint32_t window, const float* sinks,
                        uint32_t head_base) {
    if (n_heads == 0 || n_tokens == 0) return;
    const dim3 grid(n_tokens, n_heads);
    launch(causal_softmax_kernel, grid, kSoftmaxThreads, 0, stream, reinterpret_cast<__half*>(p), s, n_tokens, pos0,
           n_keys, ld, window, sinks, head_base);
    check_launch("causal_softmax");
}

uint64_t attention_split_floats(uint32_t n_head, uint32_t head_dim) {
    return uint64_t(n_head) * kMaxSplits * (head_dim + 2) + n_head;  // the partials, then the counters
}

void attention_split_reset(float* split_ws, uint32_t n_head, uint32_t head_dim, cudaStream_t stream) {
    ORCD_CUDA_CHECK(cudaMemsetAsync(split_counters(split_ws, n_head, head_dim), 0, n_head * sizeof(uint32_t), stream));
}

namespace {

// A single query: split the keys so the whole GPU works on it (split_for, on
// the device, from the actual context); the grid holds the most splits any
// context up to keys_bound keys can have.
void decode_attention(float* out, const float* q, __half* kh, __half* vh, uint32_t pos0, uint32_t n_head,
                      uint32_t n_head_kv, uint32_t head_dim, float* split_ws, cudaStream_t stream,
                      const uint32_t* dev_pos, uint32_t keys_bound, const AttentionParams& params, const NewRow& nr) {
    const float scale = params.scale > 0.0f ? params.scale : 1.0f / std::sqrt(float(head_dim));
    const uint32_t group = n_head / n_head_kv;
    const SplitLimits lim = split_ws ? split_limit(n_head, kMinKeysDecode) : kNoSplit;
    const dim3 grid(n_head, grid_splits(keys_bound, lim));
    const size_t smem = (size_t(head_dim) + size_t(kDecWarps) * (head_dim + 2)) * sizeof(float) +
                        (nr.k ? 2 * size_t(head_dim) * sizeof(__half) : 0);  // knew, vnew
    launch(decode_attention_kernel, grid, kDecThreads, smem, stream, out, q, kh, vh, pos0, dev_pos, n_head_kv, group,
           head_dim, scale * kLog2e, params.window, params.sinks, lim, split_ws, nr);
    check_launch("attention");
}

}  // namespace

bool attention_rope_store(float* out, const float* q, const float* k, const float* v, f16_bits* k_cache,
                          f16_bits* v_cache, uint32_t n_head, uint32_t n_head_kv, uint32_t head_dim, float* split_ws,
                          cudaStream_t stream, const uint32_t* dev_pos, uint32_t max_keys,
                          const AttentionParams& params, const RopeConfig& rope) {
    if (!decode_kernel_fits(head_dim) || !dev_pos) return false;
    decode_attention(out, q, reinterpret_cast<__half*>(k_cache), reinterpret_cast<__half*>(v_cache), 0, n_head,
                     n_head_kv, head_dim, split_ws, stream, dev_pos, max_keys, params, NewRow{k, v, rope});
    return true;
}

void attention(float* out, const float* q, const f16_bits* k, const f16_bits* v, uint32_t n_tokens, uint32_t pos0,
               uint32_t n_head, uint32_t n_head_kv, uint32_t head_dim, float* split_ws, cudaStream_t stream,
               const uint32_t* dev_pos, uint32_t max_keys, const AttentionParams& params) {
    if (n_tokens == 0) return;
    const float scale = params.scale > 0.0f ? params.scale : 1.0f / std::sqrt(float(head_dim));
    const uint32_t window = params.window;
    const float* sinks = params.sinks;
    const __half* kh = reinterpret_cast<const __half*>(k);
    const __half* vh = reinterpret_cast<const __half*>(v);
    const uint32_t keys_bound = dev_pos ? max_keys : pos0 + n_tokens;

    if (n_tokens == 1 && decode_kernel_fits(head_dim)) {
        // Without a new row the kernel only reads the cache.
        decode_attention(out, q, const_cast<__half*>(kh), const_cast<__half*>(vh), pos0, n_head, n_head_kv, head_dim,
                         split_ws, stream, dev_pos, keys_bound, params, NewRow{});
        return;
    }

    const size_t smem = (2 * size_t(head_dim) + kTile + 32) * sizeof(float);
    const bool vec = head_dim % 8 == 0;
    const SplitLimits lim = n_tokens == 1 && split_ws ? split_limit(n_head) : kNoSplit;
    const uint32_t n_split = lim.max_splits > 1 ? grid_splits(keys_bound, lim) : 1;
    const dim3 grid(n_head, n_tokens, n_split);
    if (vec)
        launch(attention_kernel<true>, grid, kTile, smem, stream, out, q, kh, vh, pos0, dev_pos, n_head, n_head_kv,
               head_dim, scale, window, sinks, lim, split_ws);
    else
        launch(attention_kernel<false>, grid, kTile, smem, stream, out, q, kh, vh, pos0, dev_pos, n_head, n_head_kv,
               head_dim, scale, window, sinks, lim, split_ws);
    check_launch("attention");
    if (n_split > 1) {
        launch(attention_merge_kernel, n_head, 128, 0, stream, out, split_ws, pos0, dev_pos, head_dim, window, sinks,
               lim);
        check_launch("attention_merge");
    }
}

}  // namespace orcd::cuda
