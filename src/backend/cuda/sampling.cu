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

constexpr int kFinalThreads = 1024;

__global__ void iota_kernel(int32_t* ids, uint32_t n) {
    kernel_begin();
    for (uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) ids[i] = int32_t(i);
}

// The sums of docs/sampling.md in the block order of engine/sum_order.h.
// B[0..nb] (nb = the blocks of p[0, n)) gets the running sum in front of
// each block: B[0] = 0, B[b + 1] = B[b] + (block b's non-negative entries
// added left to right). One thread per block adds its members, then one warp
// adds the nb block sums in order: every lane shuffles through the same
// sequence, so each holds the CPU's running sum, bit for bit. Negative
// entries mark candidates dropped by min-p; they add nothing, as on the CPU
// where they are gone.
__device__ void block_prefix(const float* p, uint32_t n, float* B) {
    const uint32_t nb = (n + kSumBlock - 1) / kSumBlock;
    for (uint32_t b = threadIdx.x; b < nb; b += blockDim.x) {
        const uint32_t end = min(n, (b + 1) * kSumBlock);
        float s = 0.0f;
        for (uint32_t i = b * kSumBlock; i < end; ++i) {
            const float x = p[i];
            if (x >= 0.0f) s = __fadd_rn(s, x);
        }
        B[b + 1] = s;
    }
    __syncthreads();
    if (threadIdx.x < 32) {
        const uint32_t lane = threadIdx.x;
        float run = 0.0f;
        for (uint32_t base = 0; base < nb; base += 32) {
            const float v = base + lane < nb ? B[base + lane + 1] : 0.0f;
            const uint32_t m = min(32u, nb - base);
            float mine = 0.0f;
            for (uint32_t j = 0; j < m; ++j) {
                run = __fadd_rn(run, __shfl_sync(0xffffffffu, v, int(j)));
                if (j == lane) mine = run;
            }
            if (lane < m) B[base + lane + 1] = mine;
        }
        if (lane == 0) B[0] = 0.0f;
    }
    __syncthreads();
}

__device__ __forceinline__ bool passes(float cum, float t, bool strict) { return strict ? cum > t : cum >= t; }

// The first index below n (a non-negative entry) whose running sum passes t
// (cum > t when strict, cum >= t otherwise), or -1. The running sums never
// decrease, so it lies in the first block whose closing sum B[b + 1] passes;
// one thread walks that block as the CPU does. B from block_prefix(p, n).
__device__ int32_t first_passing(const float* p, uint32_t n, const float* B, float t, bool strict, int32_t* s_tmp) {
    const uint32_t nb = (n + kSumBlock - 1) / kSumBlock;
    if (threadIdx.x == 0) *s_tmp = INT_MAX;
    __syncthreads();
    for (uint32_t b = threadIdx.x; b < nb; b += blockDim.x)
        if (passes(B[b + 1], t, strict)) atomicMin(s_tmp, int32_t(b));
    __syncthreads();
    const int32_t blk = *s_tmp;
    __syncthreads();  // everyone has read s_tmp before thread 0 reuses it
    if (threadIdx.x == 0) {
        int32_t found = -1;
        if (blk != INT_MAX) {
            const uint32_t end = min(n, uint32_t(blk + 1) * kSumBlock);
            const float before = B[blk];
            float within = 0.0f;
            for (uint32_t i = uint32_t(blk) * kSumBlock; i < end; ++i) {
                const float x = p[i];
                if (x < 0.0f) continue;
                within = __fadd_rn(within, x);
                if (passes(__fadd_rn(before, within), t, strict)) {
                    found = int32_t(i);
                    break;
                }
            }
        }
        *s_tmp = found;
    }
    __syncthreads();
    const int32_t r = *s_tmp;
    __syncthreads();
    return r;
}

// keys/ids: all n candidates in candidate order (temperature applied);
// p: scratch of n floats; B: scratch of n / kSumBlock + 2 floats. out[0] =
// token, out[1] = survivors, or out[1] < 0 when the logits need the host
// sampler's error handling (NaN, +inf, all -inf).
__global__ void __launch_bounds__(kFinalThreads) finalize_kernel(int32_t* out, const float* keys, const int32_t* ids,
                                                                 float* p, float* B, uint32_t n, int32_t top_k,
                                                                 float top_p, float min_p, float u) {
    kernel_begin();
    __shared__ int32_t s_tmp;
    const uint32_t tid = threadIdx.x;
    const float inf = __int_as_float(0x7f800000);
    const float l_max = keys[0];
    if (!(l_max < inf) || l_max == -inf || keys[n - 1] != keys[n - 1]) {
        if (tid == 0) out[1] = -1;
        return;  // uniform across the block
    }
    const uint32_t nk = (top_k > 0 && uint32_t(top_k) < n) ? uint32_t(top_k) : n;
    auto total_of = [&](uint32_t m) { return B[(m + kSumBlock - 1) / kSumBlock]; };

    // softmax: e_i in parallel (exact per element), the sum in block order
    for (uint32_t i = tid; i < nk; i += blockDim.x) p[i] = softmax_exp(__fsub_rn(keys[i], l_max));
    __syncthreads();
    block_prefix(p, nk, B);
    const float sum = total_of(nk);
    for (uint32_t i = tid; i < nk; i += blockDim.x) p[i] = __fdiv_rn(p[i], sum);
    __syncthreads();

    // top-p: the first candidate whose running sum reaches top_p is the last
    uint32_t n_surv = nk;
    if (top_p < 1.0f) {
        block_prefix(p, nk, B);
        const int32_t last = first_passing(p, nk, B, top_p, false, &s_tmp);
        if (last >= 0) n_surv = uint32_t(last) + 1;
    }

    // min-p: a filter after the first candidate; dropped ones become -1
    if (min_p > 0.0f) {
        const float threshold = __fmul_rn(min_p, p[0]);
        __syncthreads();  // everyone has read p[0] before anything changes
        for (uint32_t i = 1 + tid; i < n_surv; i += blockDim.x)
            if (p[i] < threshold) p[i] = -1.0f;
        __syncthreads();
    }

    // renormalise over the survivors (always)
    block_prefix(p, n_surv, B);
    const float s2 = total_of(n_surv);
    for (uint32_t i = tid; i < n_surv; i += blockDim.x)
        if (p[i] >= 0.0f) p[i] = __fdiv_rn(p[i], s2);
    __syncthreads();

    // draw: threshold = u * total, the first survivor whose running sum
    // exceeds it, else the last survivor
    block_prefix(p, n_surv, B);
    const float threshold = __fmul_rn(u, total_of(n_surv));
    const int32_t pick = first_passing(p, n_surv, B, threshold, true, &s_tmp);
    if (tid == 0) {
        int32_t chosen = pick;
        if (chosen < 0) {
            chosen = int32_t(n_surv) - 1;
            while (chosen > 0 && p[chosen] < 0.0f) --chosen;  // p[0] is never dropped
        }
        out[0] = ids[chosen];
        out[1] = int32_t(n_surv);
    }
}

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
           (uint64_t(kArgmaxOutInts) * 4 + 255) / 256 * 256;
}

uint64_t GpuSampler::job_bytes(uint32_t history_cap) { return (uint64_t(history_cap) * 4 + 255) / 256 * 256; }

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
    launch(iota_kernel, (n_vocab + 255) / 256, 256, 0, stream, ids_.as<int32_t>(), n_vocab);
    check_launch("iota");
    host_result_ = PinnedHostBuffer(2 * sizeof(int32_t));
    ORCD_CUDA_CHECK(cudaEventCreateWithFlags(&sampled_, cudaEventDisableTiming));
    ORCD_CUDA_CHECK(cudaEventCreateWithFlags(&copied_, cudaEventDisableTiming));
    ORCD_CUDA_CHECK(cudaStreamCreateWithFlags(&copy_stream_, cudaStreamNonBlocking));
}

GpuSampler::~GpuSampler() {
    if (copy_stream_) (void)cudaStreamDestroy(copy_stream_);
    if (copied_) (void)cudaEventDestroy(copied_);
    if (sampled_) (void)cudaEventDestroy(sampled_);
}

void GpuSampler::begin_job() { history_.reset(); }

void GpuSampler::end_job() { history_.reset(); }

int32_t GpuSampler::sample(const float* logits, const SamplingConfig& cfg, std::span<const int32_t> history,
                           uint64_t seed, uint64_t step, const std::function<void()>& behind) {
    // Invalid requests go to the host sampler, which raises the documented
    // error for each of them.
    if (!(cfg.temperature >= 0.0f) || !(cfg.repetition_penalty > 0.0f)) return -1;
    // Presence/frequency penalties exist only in the host sampler.
    if (cfg.presence_penalty != 0.0f || cfg.frequency_penalty != 0.0f) return -1;
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
    if (!history_) history_ = alloc_.alloc(job_bytes(history_cap_), MemCategory::Sampling, AllocPhase::Job);

    float* work = work_.as<float>();
    // Greedy without a penalty only reads the logits: no working copy.
    const bool reads_only = cfg.temperature == 0.0f && window_.empty();
    if (!reads_only)
        ORCD_CUDA_CHECK(cudaMemcpyAsync(work, logits, uint64_t(n_vocab_) * 4, cudaMemcpyDeviceToDevice, stream_));
    if (!window_.empty()) {
        ORCD_CUDA_CHECK(cudaMemcpyAsync(history_.get(), window_.data(), window_.size() * sizeof(int32_t),
                                        cudaMemcpyHostToDevice, stream_));
        repetition_penalty(work, n_vocab_, history_.as<int32_t>(), uint32_t(window_.size()), cfg.repetition_penalty,
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
        const float u = philox_uniform(seed, step);
        launch(finalize_kernel, 1, kFinalThreads, 0, stream_, result_.as<int32_t>(), keys_sorted_.as<float>(),
               ids_sorted_.as<int32_t>(), probs_.as<float>(),
               block_sums_.as<float>(), n_vocab_,
               cfg.top_k, cfg.top_p, cfg.min_p, u);
        check_launch("sample_finalize");
    }
    // Into pinned memory, so that the copy is asynchronous and the host
    // waits for it alone (an event), not for what `behind` adds; on a
    // stream of its own, so that what `behind` adds does not wait for the
    // copy either. result_ is next written by a later sample(), which the
    // host enqueues only after this copy has completed.
    int32_t* result = reinterpret_cast<int32_t*>(host_result_.data());
    ORCD_CUDA_CHECK(cudaEventRecord(sampled_, stream_));
    ORCD_CUDA_CHECK(cudaStreamWaitEvent(copy_stream_, sampled_, 0));
    ORCD_CUDA_CHECK(
        cudaMemcpyAsync(result, result_.get(), 2 * sizeof(int32_t), cudaMemcpyDeviceToHost, copy_stream_));
    ORCD_CUDA_CHECK(cudaEventRecord(copied_, copy_stream_));
    if (behind) behind();
    ORCD_CUDA_CHECK(cudaEventSynchronize(copied_));
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
