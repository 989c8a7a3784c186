#include "bench_bandwidth.h"

#include "backend/cuda/device_memory.h"
#include "bench_timer.h"
#include "common/error.h"

#include <cuda_runtime_api.h>

namespace orcd::bench {
namespace {

void check(cudaError_t e, const char* what) {
    if (e != cudaSuccess)
        fail(ORCD_CUDA_ERROR, std::string(what) + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")");
}

class Stream {
public:
    Stream() { check(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking), "cudaStreamCreate"); }
    ~Stream() { (void)cudaStreamDestroy(s_); }
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;
    cudaStream_t get() const { return s_; }

private:
    cudaStream_t s_ = nullptr;
};

}  // namespace

CopyCeiling measure_copy_ceiling(int gpu, uint64_t bytes, int reps) {
    using cuda::AllocPhase;
    using cuda::MemCategory;
    check(cudaSetDevice(gpu), "cudaSetDevice");
    cuda::DeviceAllocator alloc(gpu);
    CopyCeiling out;
    const uint64_t asked = bytes;
    cuda::DeviceBuffer src, dst;
    for (;;) {
        try {
            src = alloc.alloc(bytes, MemCategory::Workspace);
            dst = alloc.alloc(bytes, MemCategory::Workspace);
            break;
        } catch (const Error& e) {
            src.reset();
            dst.reset();
            if (e.code() != ORCD_VRAM_OOM || bytes / 2 < (256ull << 20)) throw;
            bytes /= 2;
        }
    }
    if (bytes != asked)
        out.note = "copy size reduced from " + std::to_string(asked >> 20) + " MiB to " + std::to_string(bytes >> 20) +
                   " MiB to fit in free device memory";
    out.bytes = bytes;

    Stream stream;
    // Touch both buffers first so no first-use cost lands in a timed copy.
    check(cudaMemsetAsync(src.get(), 0x3c, bytes, stream.get()), "cudaMemsetAsync");
    check(cudaMemsetAsync(dst.get(), 0, bytes, stream.get()), "cudaMemsetAsync");
    RegionTimer timer(stream.get(), false);
    std::vector<double> gbps;
    constexpr int kWarmup = 3;
    for (int i = 0; i < kWarmup + reps; ++i) {
        timer.start();
        check(cudaMemcpyAsync(dst.get(), src.get(), bytes, cudaMemcpyDeviceToDevice, stream.get()), "cudaMemcpyAsync");
        const double ms = timer.stop_ms();
        if (i >= kWarmup) gbps.push_back(2.0 * double(bytes) / (ms * 1e-3) / 1e9);
    }
    out.gbps = summarize(std::move(gbps));
    return out;
}

}  // namespace orcd::bench
