// Log-probabilities of a row of logits on the device (engine/logprobs.h's
// step_logprobs): the log-sum-exp of the whole row in double and the n most
// likely tokens (logit descending, id ascending on ties), so that a request
// with logprobs reads back n + 1 values a token instead of the whole row
// (600 KB on a 152k vocabulary) and the host's ~1.5 ms of exps and sorting.
//
//   parts   one block per slice of the row: its max, its sum of exp(l - max)
//           in double (a fixed tree), its top n (warps select in rounds)
//   final   one block: the parts' max, their sums rescaled and added in part
//           order, log_z = max + log(sum); the top n of the parts' lists
//
// Every order is fixed, so the same row gives the same bits. Against the
// host's sequential double sum the log-sum-exp differs by a few units of
// double rounding, which reaches the float results only at a rounding
// boundary (tests/gpu/test_cuda_logprobs.cpp bounds it).
#pragma once

#include "backend/cuda/cuda_handles.h"
#include "backend/cuda/device_memory.h"
#include "engine/logprobs.h"

#include <cuda_runtime_api.h>

#include <cstdint>
#include <vector>

namespace orcd::cuda {

class GpuLogprobs {
public:
    static constexpr uint32_t kMaxTop = 32;

    GpuLogprobs(DeviceAllocator& alloc, uint32_t n_vocab);
    static uint64_t load_bytes(uint32_t n_vocab);

    // Marks the point on `stream` where the logits the next compute() reads
    // are complete, so that it need not wait for what is queued after them
    // (a decode step started ahead).
    void mark(cudaStream_t stream);

    // The log-probabilities of `chosen` and of the n most likely tokens of
    // n_vocab device logits: with after_mark and a mark left since the last
    // compute(), on a stream of their own behind the mark, else on `stream`
    // behind what is already on it; the host waits for them. Every call
    // uses up the mark. Returns false, having computed nothing the
    // caller may use, where the host's rule must decide: a NaN or +inf
    // logit, a row of -inf, n > kMaxTop or `chosen` outside the row.
    bool compute(const float* logits, int32_t chosen, uint32_t n, cudaStream_t stream, bool after_mark,
                 TokenLogprob& out, std::vector<TokenLogprob>& top);

private:
    uint32_t n_vocab_, n_parts_;
    DeviceBuffer parts_, result_;
    PinnedHostBuffer host_result_;
    OwnedStream own_stream_;
    OwnedEvent ready_;
    bool marked_ = false;
};

}  // namespace orcd::cuda
