// Owners of a CUDA stream or event: created by the constructor (a failure
// throws ORCD_CUDA_ERROR, cuda_check.h), destroyed by the destructor. A
// class that holds them as members releases what it had created when its
// own constructor throws part-way, with no hand-written cleanup.
#pragma once

#include "backend/cuda/cuda_check.h"

#include <cuda_runtime_api.h>

#include <utility>

namespace orcd::cuda {

// A stream that never synchronises with the legacy default stream.
class OwnedStream {
public:
    OwnedStream() { ORCD_CUDA_CHECK(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking)); }
    ~OwnedStream() {
        if (s_) (void)cudaStreamDestroy(s_);
    }
    OwnedStream(OwnedStream&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
    OwnedStream& operator=(OwnedStream&& o) noexcept {
        std::swap(s_, o.s_);
        return *this;
    }
    OwnedStream(const OwnedStream&) = delete;
    OwnedStream& operator=(const OwnedStream&) = delete;
    cudaStream_t get() const { return s_; }

private:
    cudaStream_t s_ = nullptr;
};

// An event for ordering only (no timing: cheaper to record and wait on).
class OwnedEvent {
public:
    OwnedEvent() { ORCD_CUDA_CHECK(cudaEventCreateWithFlags(&e_, cudaEventDisableTiming)); }
    ~OwnedEvent() {
        if (e_) (void)cudaEventDestroy(e_);
    }
    OwnedEvent(OwnedEvent&& o) noexcept : e_(std::exchange(o.e_, nullptr)) {}
    OwnedEvent& operator=(OwnedEvent&& o) noexcept {
        std::swap(e_, o.e_);
        return *this;
    }
    OwnedEvent(const OwnedEvent&) = delete;
    OwnedEvent& operator=(const OwnedEvent&) = delete;
    cudaEvent_t get() const { return e_; }

private:
    cudaEvent_t e_ = nullptr;
};

}  // namespace orcd::cuda
