// Error checking for CUDA and cuBLAS calls: every failure becomes an
// orcd::Error with code CUDA_ERROR naming the call, the CUDA error and the
// source line, so a failed kernel or copy ends the job with a precise detail.
#pragma once

#include <cuda_runtime_api.h>

#include <vector>

namespace orcd::cuda {

[[noreturn]] void throw_cuda_error(cudaError_t e, const char* expr, const char* file, int line);

inline void check(cudaError_t e, const char* expr, const char* file, int line) {
    if (e != cudaSuccess) throw_cuda_error(e, expr, file, line);
}

// After a kernel launch: the test-only KernelLaunch fault point, then the
// launch error (bad configuration, missing image, sticky device error).
void check_launch(const char* kernel);

// While a CUDA graph is captured on this thread, check_launch() appends the
// kernel names to `names` instead of counting the KernelLaunch fault point
// (the launches of a capture do not run); each replay of the graph then
// counts them through count_launches(), so the fault point sees the same
// events with and without the graph.
class LaunchRecording {
public:
    explicit LaunchRecording(std::vector<const char*>* names);
    ~LaunchRecording();
    LaunchRecording(const LaunchRecording&) = delete;
    LaunchRecording& operator=(const LaunchRecording&) = delete;
};
void count_launches(const std::vector<const char*>& names);

// Makes `device` current on the calling thread: the runtime's current device
// is per thread, and the C API may be driven from several threads.
void bind_device(int device);

}  // namespace orcd::cuda

#define ORCD_CUDA_CHECK(expr) ::orcd::cuda::check((expr), #expr, __FILE__, __LINE__)
