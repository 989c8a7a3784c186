#include "backend/cuda/logprobs.h"

#include "backend/cuda/candidate_order.cuh"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/launch.cuh"
#include "backend/cuda/reduce.cuh"

#include <algorithm>
#include <bit>
#include <climits>

namespace orcd::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr uint32_t kTop = GpuLogprobs::kMaxTop;
// Slices of at least this many logits, at most kMaxParts of them: one
// block each, resident together on any card this runs on.
constexpr uint32_t kMinSlice = 1024;
constexpr uint32_t kMaxParts = 128;

// One slice's figures.
struct Part {
    double sum;          // sum of exp(l - max) over the slice (0 for a slice of -inf)
    float max;           // -inf for an empty slice
    int32_t bad;         // a NaN or +inf in the slice
    float top_v[kTop];   // the slice's n best, best first; (-inf, INT_MAX) past its length
    int32_t top_i[kTop];
};

// The n best of `count` candidates get(j, v, id), best first, into ov/oi
// (n entries; (-inf, INT_MAX) where fewer exist: it comes after every real
// candidate), by one warp in n rounds: in each, every lane takes its best
// candidate after the one chosen last, and the warp the best of those.
template <class Get>
__device__ void warp_top(Get get, uint32_t count, uint32_t n, float* ov, int32_t* oi) {
    const uint32_t lane = threadIdx.x & 31;
    const float inf = __int_as_float(0x7f800000);
    float pv = inf;  // nothing chosen yet: before every candidate
    int32_t pi = INT_MIN;
    for (uint32_t k = 0; k < n; ++k) {
        float bv = -inf;
        int32_t bi = INT_MAX;
        for (uint32_t j = lane; j < count; j += 32) {
            float v;
            int32_t id;
            get(j, v, id);
            if (precedes(pv, pi, v, id) && precedes(v, id, bv, bi)) {
                bv = v;
                bi = id;
            }
        }
        warp_first(bv, bi);
        if (lane == 0) {
            ov[k] = bv;
            oi[k] = bi;
        }
        pv = bv;
        pi = bi;
    }
}

// Warp 0 of a block: the n best of the block's kWarps lists of n (from
// warp_top) into ov/oi.
__device__ void merge_warp_lists(const float (*v)[kTop], const int32_t (*id)[kTop], uint32_t n, float* ov,
                                 int32_t* oi) {
    warp_top(
        [&](uint32_t j, float& jv, int32_t& jid) {
            jv = v[j / n][j % n];
            jid = id[j / n][j % n];
        },
        kWarps * n, n, ov, oi);
}

// Block b: the slice x[b * chunk, min(n, (b + 1) * chunk)).
__global__ void __launch_bounds__(kThreads)
    logprob_parts_kernel(Part* parts, const float* x, uint32_t n, uint32_t chunk, uint32_t n_top) {
    kernel_begin();
    __shared__ float s_scratch[32];
    __shared__ double s_sum[kWarps];
    __shared__ float s_v[kWarps][kTop];
    __shared__ int32_t s_i[kWarps][kTop];
    const uint32_t tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const uint32_t begin = min(n, blockIdx.x * chunk), end = min(n, begin + chunk);
    const float inf = __int_as_float(0x7f800000);

    float m = -inf;
    int bad = 0;
    for (uint32_t i = begin + tid; i < end; i += kThreads) {
        const float v = x[i];
        bad |= !(v < inf);  // NaN or +inf
        m = fmaxf(m, v);
    }
    bad = __syncthreads_or(bad);
    m = block_max(m, s_scratch);

    // exp in double, as the host sums; a fixed tree, so the same bits each time
    double s = 0.0;
    if (m > -inf && !bad)
        for (uint32_t i = begin + tid; i < end; i += kThreads) s += exp(double(x[i]) - double(m));
    s = warp_sum(s);
    if (lane == 0) s_sum[warp] = s;

    if (n_top > 0) {
        const uint32_t per = (end - begin + kWarps - 1) / kWarps;
        const uint32_t wb = begin + warp * per;
        const uint32_t wc = wb < end ? min(per, end - wb) : 0;
        warp_top(
            [&](uint32_t j, float& v, int32_t& id) {
                v = x[wb + j];
                id = int32_t(wb + j);
            },
            wc, n_top, s_v[warp], s_i[warp]);
    }
    __syncthreads();
    if (warp == 0) {
        Part& p = parts[blockIdx.x];
        if (n_top > 0) merge_warp_lists(s_v, s_i, n_top, p.top_v, p.top_i);
        if (lane == 0) {
            double t = 0.0;
            for (int w = 0; w < kWarps; ++w) t += s_sum[w];
            p.sum = t;
            p.max = m;
            p.bad = bad;
        }
    }
}

// One block. out[0]: 0, or 1 where the host's rule decides (a NaN or +inf,
// a row of -inf); out[1]: the chosen token's log-probability (float bits);
// then n_top pairs (id, log-probability bits), best first.
__global__ void __launch_bounds__(kThreads) logprob_final_kernel(int32_t* out, const Part* parts, uint32_t n_parts,
                                                                 const float* x, int32_t chosen, uint32_t n_top) {
    kernel_begin();
    __shared__ float s_pmax[kMaxParts];
    __shared__ double s_psum[kMaxParts];
    __shared__ float s_lv[kMaxParts * kTop];  // the parts' lists, n_top entries each
    __shared__ int32_t s_li[kMaxParts * kTop];
    __shared__ float s_v[kWarps][kTop];
    __shared__ int32_t s_i[kWarps][kTop];
    __shared__ float s_fv[kTop];
    __shared__ int32_t s_fi[kTop];
    const uint32_t tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const float inf = __int_as_float(0x7f800000);

    int bad = 0;
    for (uint32_t p = tid; p < n_parts; p += kThreads) {
        s_pmax[p] = parts[p].max;
        s_psum[p] = parts[p].sum;
        bad |= parts[p].bad;
    }
    for (uint32_t j = tid; j < n_parts * n_top; j += kThreads) {
        s_lv[j] = parts[j / n_top].top_v[j % n_top];
        s_li[j] = parts[j / n_top].top_i[j % n_top];
    }
    bad = __syncthreads_or(bad);
    if (n_top > 0) {
        // warp w: the lists of a run of parts; then warp 0 merges the warps'
        const uint32_t per = (n_parts + kWarps - 1) / kWarps;
        const uint32_t p0 = min(n_parts, warp * per), pc = min(per, n_parts - p0);
        warp_top(
            [&](uint32_t j, float& v, int32_t& id) {
                v = s_lv[p0 * n_top + j];
                id = s_li[p0 * n_top + j];
            },
            pc * n_top, n_top, s_v[warp], s_i[warp]);
    }
    __syncthreads();
    if (warp != 0) return;
    if (n_top > 0) merge_warp_lists(s_v, s_i, n_top, s_fv, s_fi);
    if (lane != 0) return;
    float m = -inf;
    for (uint32_t p = 0; p < n_parts; ++p) m = fmaxf(m, s_pmax[p]);
    if (bad || !(m > -inf)) {
        out[0] = 1;
        return;
    }
    // the parts' sums rescaled to the row's max, added in part order
    double s = 0.0;
    for (uint32_t p = 0; p < n_parts; ++p) s += s_psum[p] * exp(double(s_pmax[p]) - double(m));
    const double log_z = double(m) + log(s);
    out[0] = 0;
    out[1] = __float_as_int(float(double(x[chosen]) - log_z));
    for (uint32_t k = 0; k < n_top; ++k) {
        out[2 + 2 * k] = s_fi[k];
        out[3 + 2 * k] = __float_as_int(float(double(s_fv[k]) - log_z));
    }
}

uint32_t parts_for(uint32_t n_vocab) { return std::clamp((n_vocab + kMinSlice - 1) / kMinSlice, 1u, kMaxParts); }

constexpr uint64_t kResultBytes = (2 + 2 * kTop) * sizeof(int32_t);

}  // namespace

uint64_t GpuLogprobs::load_bytes(uint32_t n_vocab) {
    return (uint64_t(parts_for(n_vocab)) * sizeof(Part) + 255) / 256 * 256 + (kResultBytes + 255) / 256 * 256;
}

GpuLogprobs::GpuLogprobs(DeviceAllocator& alloc, uint32_t n_vocab) : n_vocab_(n_vocab), n_parts_(parts_for(n_vocab)) {
    parts_ = alloc.alloc(uint64_t(n_parts_) * sizeof(Part), MemCategory::Sampling);
    result_ = alloc.alloc(kResultBytes, MemCategory::Sampling);
    host_result_ = PinnedHostBuffer(kResultBytes);
}

void GpuLogprobs::mark(cudaStream_t stream) {
    ORCD_CUDA_CHECK(cudaEventRecord(ready_.get(), stream));
    marked_ = true;
}

bool GpuLogprobs::compute(const float* logits, int32_t chosen, uint32_t n, cudaStream_t stream, bool after_mark,
                          TokenLogprob& out, std::vector<TokenLogprob>& top) {
    const bool marked = marked_;
    marked_ = false;
    if (chosen < 0 || uint32_t(chosen) >= n_vocab_ || n > kMaxTop) return false;
    n = std::min(n, n_vocab_);
    if (after_mark && marked) {
        ORCD_CUDA_CHECK(cudaStreamWaitEvent(own_stream_.get(), ready_.get(), 0));
        stream = own_stream_.get();
    }
    const uint32_t chunk = (n_vocab_ + n_parts_ - 1) / n_parts_;
    launch(logprob_parts_kernel, n_parts_, kThreads, 0, stream, parts_.as<Part>(), logits, n_vocab_, chunk, n);
    launch(logprob_final_kernel, 1, kThreads, 0, stream, result_.as<int32_t>(), parts_.as<const Part>(), n_parts_,
           logits, chosen, n);
    check_launch("logprobs");
    int32_t* r = reinterpret_cast<int32_t*>(host_result_.data());
    ORCD_CUDA_CHECK(cudaMemcpyAsync(r, result_.get(), (2 + 2 * uint64_t(n)) * sizeof(int32_t), cudaMemcpyDeviceToHost,
                                    stream));
    ORCD_CUDA_CHECK(cudaStreamSynchronize(stream));
    if (r[0] != 0) return false;
    top.clear();
    for (uint32_t k = 0; k < n; ++k) top.push_back({r[2 + 2 * k], std::bit_cast<float>(r[3 + 2 * k])});
    out = {chosen, std::bit_cast<float>(r[1])};
    return true;
}

}  // namespace orcd::cuda
