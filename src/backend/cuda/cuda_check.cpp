#include "backend/cuda/cuda_check.h"

#include "common/error.h"
#include "common/fault_injection.h"

#include <cstring>
#include <string>

namespace orcd::cuda {

namespace {
const char* base_name(const char* path) {
    const char* slash = std::strrchr(path, '/');
    return slash ? slash + 1 : path;
}
}  // namespace

void throw_cuda_error(cudaError_t e, const char* expr, const char* file, int line) {
    fail(ORCD_CUDA_ERROR, std::string(cudaGetErrorName(e)) + " (" + cudaGetErrorString(e) + ") in " +
                              expr + " at " + base_name(file) + ":" + std::to_string(line));
}

namespace {
thread_local std::vector<const char*>* t_recording = nullptr;
}  // namespace

LaunchRecording::LaunchRecording(std::vector<const char*>* names) { t_recording = names; }
LaunchRecording::~LaunchRecording() { t_recording = nullptr; }

void count_launches(const std::vector<const char*>& names) {
    for (const char* kernel : names)
        if (fault::should_fail(fault::Point::KernelLaunch))
            fail(ORCD_CUDA_ERROR, std::string("injected kernel launch failure in ") + kernel);
}

void check_launch(const char* kernel) {
    if (t_recording)
        t_recording->push_back(kernel);
    else if (fault::should_fail(fault::Point::KernelLaunch))
        fail(ORCD_CUDA_ERROR, std::string("injected kernel launch failure in ") + kernel);
    const cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess)
        fail(ORCD_CUDA_ERROR, std::string("launch of ") + kernel + " failed: " + cudaGetErrorName(e) + " (" +
                                  cudaGetErrorString(e) + ")");
}

void bind_device(int device) { ORCD_CUDA_CHECK(cudaSetDevice(device)); }

}  // namespace orcd::cuda
