// The worker's hold on one GPU: the validated device ordinal, its
// properties, the stream every kernel and copy of the backend runs on, and
// the tracked allocator. Shared by the Device and every Backend it creates,
// so it lives until the last of them is gone.
#pragma once

#include "backend/cuda/device_memory.h"

#include <cuda_runtime_api.h>

#include <memory>

namespace orcd::cuda {

struct CudaContext {
    int device = 0;
    cudaDeviceProp props{};
    cudaStream_t stream = nullptr;
    std::shared_ptr<DeviceAllocator> alloc;

    // CUDA_ERROR "gpu index N out of range (M devices)" for a bad ordinal,
    // CUDA_ERROR naming the runtime error when no device can be used.
    static std::shared_ptr<CudaContext> open(int gpu_index);
    ~CudaContext();
};

}  // namespace orcd::cuda
