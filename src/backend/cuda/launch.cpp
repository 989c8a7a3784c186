// The switch of launch.cuh's overlapped launches, and its carveout.
#include "backend/cuda/launch.h"

#include <cuda_runtime_api.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unordered_set>

namespace orcd::cuda {
namespace {

std::atomic<bool>& overlap_flag() {
    static std::atomic<bool> on{[] {
        const char* v = std::getenv("ORCD_CUDA_PDL");
        return !(v && std::strcmp(v, "0") == 0);
    }()};
    return on;
}

}  // namespace

bool overlap_launches() { return overlap_flag().load(std::memory_order_relaxed); }

void set_overlap_launches(bool on) { overlap_flag().store(on, std::memory_order_relaxed); }

void prefer_max_shared(const void* kernel) {
    static std::mutex mu;
    static std::unordered_set<const void*> done;
    const std::lock_guard<std::mutex> lock(mu);
    if (!done.insert(kernel).second) return;
    // A preference, not a requirement: a refusal leaves the driver's choice,
    // which is only slower. Its error is cleared, unless an earlier launch's
    // error is waiting for check_launch().
    const cudaError_t pending = cudaPeekAtLastError();
    if (cudaFuncSetAttribute(kernel, cudaFuncAttributePreferredSharedMemoryCarveout, cudaSharedmemCarveoutMaxShared) !=
            cudaSuccess &&
        pending == cudaSuccess)
        (void)cudaGetLastError();
}

}  // namespace orcd::cuda
