#include "backend/cuda/sampling.h"

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernels.h"
#include "backend/cuda/launch.cuh"
#include "backend/cuda/reduce.cuh"
#include "common/error.h"
#include "engine/philox.h"
#include "engine/softmax_exp.h"
#include "engine/sum_order.h"

#include <cub/device/device_radix_sort.cuh>

#include <algorithm>
#include <climits>

namespace orcd::cuda {
namespace {

__global__ void iota_kernel(int32_t* ids, uint32_t n) {
    kernel_begin();
    for (uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) ids[i] = int32_t(i);
}

// The draw after the sort runs as a few passes over the candidates, each
// one grid over the whole device: every warp takes one sum block of
// engine/sum_order.h (64 candidates), computes the pass's new values for
// it, and its lane 0 adds them left to right. The last block of the grid to
// finish (a counter) chains the block totals in order in one thread, which
// gives every running sum bit for bit as the CPU adds it, and does the
// pass's search. What one block once did alone (152k exps and divisions,
// three chains walked by shuffles, ~0.5 ms a token on a Qwen vocabulary)
// is spread over the device; only the chain of V / 64 additions stays
// serial, which the order of docs/sampling.md ("Sums") asks for.
//
//   kSoftmax    p_i = softmax_exp(l_i - l_max) over the top-k candidates
//   kNormalise  p_i = p_i / sum; then the top-p cut fixes the survivors
//   kMinP       p_i = -1 where min-p drops it (negative: adds nothing);
//               run only when top-p or min-p can drop something, so that
//               the sum below is over the survivors
//   kDraw       p_i = p_i / sum of the survivors; then the draw
enum PassKind : int { kSoftmax = 0, kNormalise = 1, kMinP = 2, kDraw = 3 };

constexpr int kPassWarps = 8;

// Between the passes, on the device.
struct DrawState {
    float total[4];     // each pass's total (the running sum at its last candidate)
    int32_t n_surv;     // survivors after top-p
    int32_t bad;        // logits the host sampler must judge (NaN, +inf, all -inf)
    uint32_t done;      // blocks of the running pass that have finished; 0 between passes
};

struct PassArgs {
    const float* keys;    // the candidates' logits in candidate order (temperature applied)
    const int32_t* ids;   // their token ids
    float* p;             // the candidates' values, rewritten by each pass
    float* totals;        // each sum block's total, for the last block's chain
    DrawState* st;
    int32_t* out;         // out[0] = token, out[1] = survivors, or < 0 for the host sampler
    uint32_t n_vocab, nk;  // all candidates; those top-k keeps
    float top_p, min_p, u;
    int divisor;          // kDraw: the pass whose total is the survivors' sum
};

__device__ __forceinline__ bool passes(float cum, float t, bool strict) { return strict ? cum > t : cum >= t; }

// The first candidate below n (a non-negative one) whose running sum passes
// t (cum > t when strict, cum >= t otherwise), or -1. closing[b] is the
// running sum at the end of sum block b (the one in front of block b is
// closing[b - 1], or 0). The running sums never decrease, so the candidate
// lies in the first block whose closing sum passes; one thread walks that
// block as the CPU does. Called by every thread of the last block.
__device__ int32_t find_first(const float* p, uint32_t n, const float* closing, float t, bool strict,
                              float* s_block, int32_t* s_tmp) {
    const uint32_t nb = (n + kSumBlock - 1) / kSumBlock;
    if (threadIdx.x == 0) *s_tmp = INT_MAX;
    __syncthreads();
    for (uint32_t b = threadIdx.x; b < nb; b += blockDim.x)
        if (passes(closing[b], t, strict)) atomicMin(s_tmp, int32_t(b));
    __syncthreads();
    const int32_t blk = *s_tmp;
    if (blk != INT_MAX && threadIdx.x < kSumBlock) {
        const uint32_t i = uint32_t(blk) * kSumBlock + threadIdx.x;
        s_block[threadIdx.x] = i < n ? __ldcg(p + i) : -1.0f;  // written by other blocks of this pass
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        int32_t found = -1;
        if (blk != INT_MAX) {
            const float before = blk > 0 ? closing[blk - 1] : 0.0f;
            float within = 0.0f;
            for (uint32_t j = 0; j < kSumBlock; ++j) {
                const float x = s_block[j];
                if (x < 0.0f) continue;
                within = __fadd_rn(within, x);
                if (passes(__fadd_rn(before, within), t, strict)) {
                    found = int32_t(uint32_t(blk) * kSumBlock + j);
                    break;
                }
            }
        }
        *s_tmp = found;
    }
    __syncthreads();
    return *s_tmp;
}

// The sum blocks' totals in a multiple of 32 (zeros past the last block):
// the chain reads them 32 at a time without a bound check, and adding +0 to
// the running sum leaves its bits as they are.
__host__ __device__ constexpr uint32_t padded_blocks(uint32_t nb) { return (nb + 31) & ~31u; }

// The chain over the sum blocks' totals, in one thread, in block order:
// returns the total; with kKeep, closing[b] = the running sum at the end of
// block b. The next 32 totals are loaded while the current 32 are added, so
// that the thread waits on its additions alone (one dependent add a block:
// this chain is the part of a pass that the order of docs/sampling.md keeps
// serial).
template <bool kKeep>
__device__ float chain_totals(const float* tot, float* closing, uint32_t nbp) {
    const float4* t4 = reinterpret_cast<const float4*>(tot);
    float4* c4 = reinterpret_cast<float4*>(closing);
    float4 cur[8], nxt[8];
#pragma unroll
    for (uint32_t j = 0; j < 8; ++j) cur[j] = t4[j];
    float run = 0.0f;
    for (uint32_t c = 0; c < nbp; c += 32) {
        if (c + 32 < nbp) {
#pragma unroll
            for (uint32_t j = 0; j < 8; ++j) nxt[j] = t4[(c + 32) / 4 + j];
        }
#pragma unroll
        for (uint32_t j = 0; j < 8; ++j) {
            float4 r;
            r.x = run = __fadd_rn(run, cur[j].x);
            r.y = run = __fadd_rn(run, cur[j].y);
            r.z = run = __fadd_rn(run, cur[j].z);
            r.w = run = __fadd_rn(run, cur[j].w);
            if constexpr (kKeep) c4[c / 4 + j] = r;
        }
#pragma unroll
        for (uint32_t j = 0; j < 8; ++j) cur[j] = nxt[j];
    }
    return run;
}

// One pass (above). Grid: enough blocks of kPassWarps warps for the sum
// blocks of the top-k candidates; dynamic shared memory: chain_bytes(sum
// blocks).
template <int kKind>
__global__ void __launch_bounds__(kPassWarps * 32) draw_pass_kernel(PassArgs a) {
    kernel_begin();
    extern __shared__ float4 s_dyn[];  // float4: chain_totals reads and writes it 16 bytes at a time
    float* s_chain = reinterpret_cast<float*>(s_dyn);
    __shared__ float s_vals[kPassWarps][kSumBlock];
    __shared__ int32_t s_tmp;
    DrawState* st = a.st;
    const uint32_t tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    if constexpr (kKind == kSoftmax) {
        const float inf = __int_as_float(0x7f800000);
        const float l_max = a.keys[0], last = a.keys[a.n_vocab - 1];
        const bool bad = !(l_max < inf) || l_max == -inf || last != last;
        if (blockIdx.x == 0 && tid == 0) {
            st->bad = bad;
            if (bad) a.out[1] = -1;
        }
        if (bad) return;  // uniform across the grid
    } else {
        if (st->bad) return;
    }
    const uint32_t n = (kKind == kSoftmax || kKind == kNormalise) ? a.nk : uint32_t(st->n_surv);
    const uint32_t nb = (n + kSumBlock - 1) / kSumBlock;

    const uint32_t b = blockIdx.x * kPassWarps + warp;
    if (b < nb) {
        const float l_max = a.keys[0];
        const float div = kKind == kNormalise ? st->total[kSoftmax] : kKind == kDraw ? st->total[a.divisor] : 1.0f;
        const float threshold = kKind == kMinP ? __fmul_rn(a.min_p, a.p[0]) : 0.0f;  // p[0] is never dropped
        for (uint32_t j = lane; j < kSumBlock; j += 32) {
            const uint32_t i = b * kSumBlock + j;
            float v = -1.0f;  // past the end: adds nothing
            if (i < n) {
                if constexpr (kKind == kSoftmax) {
                    v = softmax_exp(__fsub_rn(a.keys[i], l_max));
                    a.p[i] = v;
                } else if constexpr (kKind == kNormalise) {
                    v = __fdiv_rn(a.p[i], div);
                    a.p[i] = v;
                } else if constexpr (kKind == kMinP) {
                    v = a.p[i];
                    if (i > 0 && v < threshold) {
                        v = -1.0f;
                        a.p[i] = v;
                    }
                } else {
                    v = a.p[i];
                    if (v >= 0.0f) {
                        v = __fdiv_rn(v, div);
                        a.p[i] = v;
                    }
                }
            }
            s_vals[warp][j] = v;
        }
        __syncwarp();
        if (lane == 0) {
            float s = 0.0f;
#pragma unroll
            for (uint32_t j = 0; j < kSumBlock; ++j) {
                const float x = s_vals[warp][j];
                if (x >= 0.0f) s = __fadd_rn(s, x);
            }
            a.totals[b] = s;
        }
    }

    // The last block to finish chains the totals and searches. Every
    // thread's writes (values, totals) are made visible to the device
    // before the block counts itself done.
    __threadfence();
    __syncthreads();
    if (tid == 0) {
        __threadfence();
        s_tmp = atomicAdd(&st->done, 1u) == gridDim.x - 1;
    }
    __syncthreads();
    if (!s_tmp) return;
    __threadfence();
    // Dynamic shared memory: the totals, then the closing sums.
    const uint32_t nbp = padded_blocks(nb);
    float* s_tot = s_chain;
    float* s_closing = s_chain + nbp;
#pragma unroll 4
    for (uint32_t i = tid; i < nbp; i += blockDim.x) s_tot[i] = i < nb ? __ldcg(a.totals + i) : 0.0f;
    __syncthreads();
    // Only a search needs the running sums; the other passes need the total.
    const bool keep = kKind == kDraw || (kKind == kNormalise && a.top_p < 1.0f);
    if (tid == 0) {
        st->total[kKind] = keep ? chain_totals<true>(s_tot, s_closing, nbp) : chain_totals<false>(s_tot, s_closing, nbp);
        st->done = 0;
    }
    __syncthreads();
    float* s_block = &s_vals[0][0];
    if constexpr (kKind == kNormalise) {
        // top-p: the first candidate whose running sum reaches top_p is the last
        int32_t n_surv = int32_t(n);
        if (a.top_p < 1.0f) {
            const int32_t last = find_first(a.p, n, s_closing, a.top_p, false, s_block, &s_tmp);
            if (last >= 0) n_surv = last + 1;
        }
        if (tid == 0) st->n_surv = n_surv;
    } else if constexpr (kKind == kDraw) {
        // threshold = u * total, the first survivor whose running sum
        // exceeds it, else the last survivor
        const float t = __fmul_rn(a.u, s_closing[nb - 1]);
        int32_t chosen = find_first(a.p, n, s_closing, t, true, s_block, &s_tmp);
        if (tid == 0) {
            if (chosen < 0) {
                chosen = int32_t(n) - 1;
                while (chosen > 0 && __ldcg(a.p + chosen) < 0.0f) --chosen;  // p[0] is never dropped
            }
            a.out[0] = a.ids[chosen];
            a.out[1] = int32_t(n);
        }
    }
}

// The dynamic shared memory of a pass over nb sum blocks (chain_totals' two arrays).
size_t chain_bytes(uint32_t nb) { return size_t(2) * padded_blocks(nb) * sizeof(float); }

uint64_t sort_temp_bytes(uint32_t n_vocab) {
    size_t bytes = 0;
    ORCD_CUDA_CHECK(cub::DeviceRadixSort::SortPairsDescending(nullptr, bytes, static_cast<const float*>(nullptr),
                                                              static_cast<float*>(nullptr),
                                                              static_cast<const int32_t*>(nullptr),
                                                              static_cast<int32_t*>(nullptr), int(n_vocab)));
    return bytes;
}

}  // namespace

uint64_t GpuSampler::block_sum_bytes(uint32_t n_vocab) { return (uint64_t(n_vocab) / kSumBlock + 2) * 4; }

uint64_t GpuSampler::load_bytes(uint32_t n_vocab) {
    const uint64_t v = (uint64_t(n_vocab) * 4 + 255) / 256 * 256;
    return 5 * v + (block_sum_bytes(n_vocab) + 255) / 256 * 256 + (sort_temp_bytes(n_vocab) + 255) / 256 * 256 +
           (uint64_t(kArgmaxOutInts) * 4 + 255) / 256 * 256 + (sizeof(DrawState) + 255) / 256 * 256;
}

// The repetition window's distinct ids, then the generated ids and their
// counts (presence/frequency): history_cap ints each.
uint64_t GpuSampler::job_bytes(uint32_t history_cap) { return (uint64_t(history_cap) * 12 + 255) / 256 * 256; }

GpuSampler::GpuSampler(DeviceAllocator& alloc, uint32_t n_vocab, uint32_t history_cap, cudaStream_t stream)
    : alloc_(alloc), n_vocab_(n_vocab), history_cap_(history_cap), stream_(stream) {
    const uint64_t v = uint64_t(n_vocab) * 4;
    work_ = alloc.alloc(v, MemCategory::Sampling);
    keys_sorted_ = alloc.alloc(v, MemCategory::Sampling);
    ids_ = alloc.alloc(v, MemCategory::Sampling);
    ids_sorted_ = alloc.alloc(v, MemCategory::Sampling);
    probs_ = alloc.alloc(v, MemCategory::Sampling);
    block_sums_ = alloc.alloc(block_sum_bytes(n_vocab), MemCategory::Sampling);
    sort_temp_bytes_ = sort_temp_bytes(n_vocab);
    sort_temp_ = alloc.alloc(sort_temp_bytes_, MemCategory::Sampling);
    result_ = alloc.alloc(kArgmaxOutInts * sizeof(int32_t), MemCategory::Sampling);
    state_ = alloc.alloc(sizeof(DrawState), MemCategory::Sampling);
    ORCD_CUDA_CHECK(cudaMemsetAsync(state_.get(), 0, sizeof(DrawState), stream));  // the pass counter starts at 0
    // The chain of the last pass block lives in dynamic shared memory: past
    // 48 KB (a vocabulary over ~786k tokens) it needs the opt-in.
    const size_t smem = chain_bytes(uint32_t((uint64_t(n_vocab) + kSumBlock - 1) / kSumBlock));
    if (smem > 48 * 1024) {
        for (const void* k : {reinterpret_cast<const void*>(draw_pass_kernel<kSoftmax>),
                              reinterpret_cast<const void*>(draw_pass_kernel<kNormalise>),
                              reinterpret_cast<const void*>(draw_pass_kernel<kMinP>),
                              reinterpret_cast<const void*>(draw_pass_kernel<kDraw>)})
            ORCD_CUDA_CHECK(cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)));
    }
    launch(iota_kernel, (n_vocab + 255) / 256, 256, 0, stream, ids_.as<int32_t>(), n_vocab);
    check_launch("iota");
    host_result_ = PinnedHostBuffer(2 * sizeof(int32_t));
}

void GpuSampler::begin_job() { history_.reset(); }

void GpuSampler::end_job() { history_.reset(); }

int32_t GpuSampler::sample(const float* logits, const SamplingConfig& cfg, std::span<const int32_t> history,
                           uint64_t seed, uint64_t step, const std::function<void()>& behind) {
    // Invalid requests go to the host sampler, which raises the documented
    // error for each of them.
    if (!(cfg.temperature >= 0.0f) || !(cfg.repetition_penalty > 0.0f)) return -1;
    // The distinct ids of the penalty window, on the host where the history
    // already is (same window rule as apply_repetition_penalty).
    window_.clear();
    if (cfg.repetition_penalty != 1.0f && !history.empty()) {
        size_t w = history.size();
        if (cfg.repetition_last_n > 0 && size_t(cfg.repetition_last_n) < w) w = size_t(cfg.repetition_last_n);
        window_.assign(history.end() - std::ptrdiff_t(w), history.end());
        std::sort(window_.begin(), window_.end());
        window_.erase(std::unique(window_.begin(), window_.end()), window_.end());
        if (window_.front() < 0 || uint32_t(window_.back()) >= n_vocab_ || window_.size() > history_cap_) return -1;
    }
    // Presence/frequency penalties: each distinct id generated so far (the
    // last `step` entries of the history, never the prompt) with its count,
    // on the host where the history is (apply_presence_frequency_penalty's
    // rule).
    counted_.clear();
    counts_.clear();
    if ((cfg.presence_penalty != 0.0f || cfg.frequency_penalty != 0.0f) && !history.empty()) {
        const size_t n_out = size_t(std::min<uint64_t>(step, history.size()));
        sorted_.assign(history.end() - std::ptrdiff_t(n_out), history.end());
        std::sort(sorted_.begin(), sorted_.end());
        for (size_t i = 0; i < sorted_.size();) {
            size_t j = i;
            while (j < sorted_.size() && sorted_[j] == sorted_[i]) ++j;
            counted_.push_back(sorted_[i]);
            counts_.push_back(int32_t(j - i));
            i = j;
        }
        if (!counted_.empty() && (counted_.front() < 0 || uint32_t(counted_.back()) >= n_vocab_)) return -1;
        if (counted_.size() > history_cap_) return -1;
        counted_.insert(counted_.end(), counts_.begin(), counts_.end());  // one upload: ids, then counts
    }
    if (!history_) history_ = alloc_.alloc(job_bytes(history_cap_), MemCategory::Sampling, AllocPhase::Job);

    float* work = work_.as<float>();
    // Greedy without a penalty only reads the logits: no working copy.
    const bool reads_only = cfg.temperature == 0.0f && window_.empty() && counted_.empty();
    if (!reads_only)
        ORCD_CUDA_CHECK(cudaMemcpyAsync(work, logits, uint64_t(n_vocab_) * 4, cudaMemcpyDeviceToDevice, stream_));
    if (!window_.empty()) {
        ORCD_CUDA_CHECK(cudaMemcpyAsync(history_.get(), window_.data(), window_.size() * sizeof(int32_t),
                                        cudaMemcpyHostToDevice, stream_));
        repetition_penalty(work, n_vocab_, history_.as<int32_t>(), uint32_t(window_.size()), cfg.repetition_penalty,
                           stream_);
    }
    if (!counted_.empty()) {
        // After the repetition penalty, on the same working copy, as on the host.
        int32_t* at = history_.as<int32_t>() + history_cap_;
        const uint32_t m = uint32_t(counted_.size() / 2);
        ORCD_CUDA_CHECK(cudaMemcpyAsync(at, counted_.data(), counted_.size() * sizeof(int32_t), cudaMemcpyHostToDevice,
                                        stream_));
        presence_frequency_penalty(work, n_vocab_, at, at + m, m, cfg.presence_penalty, cfg.frequency_penalty,
                                   stream_);
    }
    if (cfg.temperature == 0.0f) {
        argmax(result_.as<int32_t>(), reads_only ? logits : work, n_vocab_, stream_);
    } else {
        scale_temperature(work, n_vocab_, cfg.temperature, stream_);
        size_t temp_bytes = sort_temp_bytes_;
        ORCD_CUDA_CHECK(cub::DeviceRadixSort::SortPairsDescending(sort_temp_.get(), temp_bytes, work,
                                                                  keys_sorted_.as<float>(), ids_.as<const int32_t>(),
                                                                  ids_sorted_.as<int32_t>(), int(n_vocab_), 0, 32,
                                                                  stream_));
        check_launch("radix_sort");
        PassArgs a{};
        a.keys = keys_sorted_.as<float>();
        a.ids = ids_sorted_.as<int32_t>();
        a.p = probs_.as<float>();
        a.totals = block_sums_.as<float>();
        a.st = state_.as<DrawState>();
        a.out = result_.as<int32_t>();
        a.n_vocab = n_vocab_;
        a.nk = (cfg.top_k > 0 && uint32_t(cfg.top_k) < n_vocab_) ? uint32_t(cfg.top_k) : n_vocab_;
        a.top_p = cfg.top_p;
        a.min_p = cfg.min_p;
        a.u = philox_uniform(seed, step);
        // Without a top-p cut or a min-p filter nothing is dropped, and the
        // survivors' sum is the normalised candidates' sum: no kMinP pass.
        const bool drops = cfg.top_p < 1.0f || cfg.min_p > 0.0f;
        a.divisor = drops ? kMinP : kNormalise;
        const uint32_t nb = (a.nk + kSumBlock - 1) / kSumBlock;
        const uint32_t grid = (nb + kPassWarps - 1) / kPassWarps;
        const size_t smem = chain_bytes(nb);
        launch(draw_pass_kernel<kSoftmax>, grid, kPassWarps * 32, smem, stream_, a);
        launch(draw_pass_kernel<kNormalise>, grid, kPassWarps * 32, smem, stream_, a);
        if (drops) launch(draw_pass_kernel<kMinP>, grid, kPassWarps * 32, smem, stream_, a);
        launch(draw_pass_kernel<kDraw>, grid, kPassWarps * 32, smem, stream_, a);
        check_launch("sample_draw");
    }
    // Into pinned memory, so that the copy is asynchronous and the host
    // waits for it alone (an event), not for what `behind` adds; on a
    // stream of its own, so that what `behind` adds does not wait for the
    // copy either. result_ is next written by a later sample(), which the
    // host enqueues only after this copy has completed.
    int32_t* result = reinterpret_cast<int32_t*>(host_result_.data());
    ORCD_CUDA_CHECK(cudaEventRecord(sampled_.get(), stream_));
    ORCD_CUDA_CHECK(cudaStreamWaitEvent(copy_stream_.get(), sampled_.get(), 0));
    ORCD_CUDA_CHECK(
        cudaMemcpyAsync(result, result_.get(), 2 * sizeof(int32_t), cudaMemcpyDeviceToHost, copy_stream_.get()));
    ORCD_CUDA_CHECK(cudaEventRecord(copied_.get(), copy_stream_.get()));
    if (behind) behind();
    ORCD_CUDA_CHECK(cudaEventSynchronize(copied_.get()));
    if (cfg.temperature == 0.0f) {
        if (result[1] != 0) return -1;  // a NaN logit: the host sampler reports it
        last_survivors_ = 1;
        return result[0];
    }
    if (result[1] < 0) return -1;
    last_survivors_ = uint32_t(result[1]);
    return result[0];
}

}  // namespace orcd::cuda
