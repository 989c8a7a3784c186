// Owners of a CUDA stream or event: created by the constructor (a failure
// throws ORCD_CUDA_ERROR, cuda_check.h), destroyed by the destructor. A
// class that holds them as members releases what it had created when its
// own constructor throws part-way, with no hand-written cleanup.
#pragma once

#include "backend/cuda/cuda_check.h"

#include <cuda_runtime_api.h>

#include <utility>

namespace orcd::cuda {

// A handle destroyed by Destroy when the owner goes (null: nothing to do).
template <class H, cudaError_t (*Destroy)(H)>
class CudaHandle {
public:
    CudaHandle(CudaHandle&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
    CudaHandle& operator=(CudaHandle&& o) noexcept {
        std::swap(h_, o.h_);
        return *this;
    }
    CudaHandle(const CudaHandle&) = delete;
    CudaHandle& operator=(const CudaHandle&) = delete;
    ~CudaHandle() {
        if (h_) (void)Destroy(h_);
    }
    H get() const { return h_; }

protected:
    CudaHandle() = default;
    H h_ = nullptr;
};

// A stream that never synchronises with the legacy default stream.
class OwnedStream : public CudaHandle<cudaStream_t, cudaStreamDestroy> {
public:
    OwnedStream() { ORCD_CUDA_CHECK(cudaStreamCreateWithFlags(&h_, cudaStreamNonBlocking)); }
};

// An event for ordering only (no timing: cheaper to record and wait on).
class OwnedEvent : public CudaHandle<cudaEvent_t, cudaEventDestroy> {
public:
    OwnedEvent() { ORCD_CUDA_CHECK(cudaEventCreateWithFlags(&h_, cudaEventDisableTiming)); }
};

}  // namespace orcd::cuda
