// The sampling pipeline of engine/sampler.h on the device, drawing with the
// same Philox stream, so that on the same logits it picks the token the CPU
// sampler picks (up to float rounding of probabilities at a cut or draw
// boundary, see docs/cuda-backend.md).
//
//   penalty (distinct ids of the history window)    kernel
//   presence/frequency (generated ids and counts)  kernel
//   T == 0: argmax, lowest id on ties               kernel, no draw
//   logits / T                                      kernel
//   order by logit desc, id asc                     CUB radix sort (stable)
//   top-k, softmax, top-p, min-p, renormalise, draw passes over the device; each
//                                                   sum in the fixed order of engine/sum_order.h
#pragma once

#include "backend/cuda/cuda_handles.h"
#include "backend/cuda/device_memory.h"
#include "engine/sampler.h"

#include <cuda_runtime_api.h>

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

namespace orcd::cuda {

class GpuSampler {
public:
    GpuSampler(DeviceAllocator& alloc, uint32_t n_vocab, uint32_t history_cap, cudaStream_t stream);
    // Bytes the sampler takes at load, plus its per-job history buffer.
    static uint64_t load_bytes(uint32_t n_vocab);
    static uint64_t job_bytes(uint32_t history_cap);
    // The running sums in front of each sum block (engine/sum_order.h).
    static uint64_t block_sum_bytes(uint32_t n_vocab);

    // Job bracket: the history buffer is a per-job allocation (job phase),
    // made by the first sample() of a job and returned by end_job() (or by
    // the next begin_job()).
    void begin_job();
    void end_job();
    bool holds_job_buffer() const { return bool(history_); }

    // Samples from n_vocab device logits (left unchanged). Returns -1 when
    // the request cannot run on the device (a history window larger than
    // history_cap); the caller then samples on the host. `behind`, when
    // set, is called once the sampling and the token's copy to the host are
    // on the stream and before the host waits for that copy only: work it
    // puts on the stream (the next decode step, reading device_token())
    // runs while the token travels.
    int32_t sample(const float* logits, const SamplingConfig& cfg, std::span<const int32_t> history, uint64_t seed,
                   uint64_t step, const std::function<void()>& behind = nullptr);
    // Where the last sample() left its token on the device.
    const int32_t* device_token() const { return result_.as<int32_t>(); }
    // Survivors of the last stochastic draw (for tests and diagnostics).
    uint32_t last_survivors() const { return last_survivors_; }

private:
    DeviceAllocator& alloc_;
    uint32_t n_vocab_, history_cap_;
    cudaStream_t stream_;
    uint64_t sort_temp_bytes_ = 0;
    DeviceBuffer work_, keys_sorted_, ids_, ids_sorted_, probs_, block_sums_, sort_temp_, result_, state_;
    DeviceBuffer history_;  // per job
    PinnedHostBuffer host_result_;      // the token (and its flag) copied back
    OwnedStream copy_stream_;           // that copy, off the compute stream
    OwnedEvent sampled_;                // the sampling's end on the compute stream
    OwnedEvent copied_;                 // the copy's end
    std::vector<int32_t> window_;
    // presence/frequency: the generated ids sorted; their distinct ids (then,
    // for the upload, their counts appended); the counts
    std::vector<int32_t> sorted_, counted_, counts_;
    uint32_t last_survivors_ = 0;
};

}  // namespace orcd::cuda
