#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cuda_context.h"
#include "backend/cuda/formats.h"
#include "common/error.h"
#include "engine/backend.h"

#include <algorithm>
#include <cstring>
#include <string>

namespace orcd {
namespace cuda {

std::shared_ptr<CudaContext> CudaContext::open(int gpu_index) {
    int count = 0;
    const cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        fail(ORCD_CUDA_ERROR, std::string("no usable CUDA device: cudaGetDeviceCount: ") + cudaGetErrorName(e) + " (" +
                                  cudaGetErrorString(e) + ")");
    }
    if (gpu_index < 0 || gpu_index >= count)
        fail(ORCD_CUDA_ERROR, "gpu index " + std::to_string(gpu_index) + " out of range (" + std::to_string(count) +
                                  " devices)");
    auto ctx = std::make_shared<CudaContext>();
    ctx->device = gpu_index;
    ORCD_CUDA_CHECK(cudaSetDevice(gpu_index));
    ORCD_CUDA_CHECK(cudaGetDeviceProperties(&ctx->props, gpu_index));
    ORCD_CUDA_CHECK(cudaStreamCreateWithFlags(&ctx->stream, cudaStreamNonBlocking));
    ctx->alloc = std::make_shared<DeviceAllocator>(gpu_index);
    return ctx;
}

CudaContext::~CudaContext() {
    if (stream) {
        (void)cudaSetDevice(device);
        (void)cudaStreamSynchronize(stream);
        (void)cudaStreamDestroy(stream);
    }
}

namespace {

class CudaDevice final : public Device {
public:
    explicit CudaDevice(std::shared_ptr<CudaContext> ctx) : ctx_(std::move(ctx)) {}

    orcd_device_info info() const override {
        orcd_device_info di{};
        di.kind = ORCD_DEVICE_CUDA;
        const size_t len = strnlen(ctx_->props.name, sizeof(ctx_->props.name));
        std::memcpy(di.name, ctx_->props.name, std::min(len, sizeof(di.name) - 1));
        di.sm_major = ctx_->props.major;
        di.sm_minor = ctx_->props.minor;
        di.multiprocessors = ctx_->props.multiProcessorCount;
        const DeviceMemInfo mi = ctx_->alloc->mem_info();
        di.total_memory_bytes = mi.total;
        di.free_memory_bytes = mi.free;
        int v = 0;
        if (cudaRuntimeGetVersion(&v) == cudaSuccess) di.cuda_runtime_version = v;
        v = 0;
        if (cudaDriverGetVersion(&v) == cudaSuccess) di.cuda_driver_version = v;
        return di;
    }

    std::unique_ptr<Backend> create_backend() override { return std::make_unique<CudaBackend>(ctx_); }

private:
    std::shared_ptr<CudaContext> ctx_;
};

}  // namespace
}  // namespace cuda

std::unique_ptr<Device> make_cuda_device(int gpu_index) {
    return std::make_unique<cuda::CudaDevice>(cuda::CudaContext::open(gpu_index));
}

std::string cuda_weight_formats() { return cuda::supported_formats(); }

}  // namespace orcd
