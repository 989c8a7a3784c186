#include "bench_timer.h"

#include "common/error.h"

#include <cuda_runtime_api.h>

#include <chrono>

namespace orcd::bench {
namespace {

void check(cudaError_t e, const char* what) {
    if (e != cudaSuccess)
        fail(ORCD_CUDA_ERROR, std::string(what) + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")");
}

}  // namespace

double host_seconds() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

RegionTimer::RegionTimer(void* stream, bool sync_device) : stream_(stream), sync_device_(sync_device) {
    if (!stream_) return;
    cudaEvent_t a = nullptr, b = nullptr;
    check(cudaEventCreate(&a), "cudaEventCreate");
    const cudaError_t e = cudaEventCreate(&b);
    if (e != cudaSuccess) {
        (void)cudaEventDestroy(a);
        check(e, "cudaEventCreate");
    }
    ev_start_ = a;
    ev_stop_ = b;
}

RegionTimer::~RegionTimer() {
    if (ev_start_) (void)cudaEventDestroy(static_cast<cudaEvent_t>(ev_start_));
    if (ev_stop_) (void)cudaEventDestroy(static_cast<cudaEvent_t>(ev_stop_));
}

void RegionTimer::start() {
    if (stream_) {
        check(cudaEventRecord(static_cast<cudaEvent_t>(ev_start_), static_cast<cudaStream_t>(stream_)),
              "cudaEventRecord");
        return;
    }
    // Earlier work must not leak into this region.
    if (sync_device_) check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    host_start_ = host_seconds();
}

double RegionTimer::stop_ms() {
    if (stream_) {
        auto stop = static_cast<cudaEvent_t>(ev_stop_);
        check(cudaEventRecord(stop, static_cast<cudaStream_t>(stream_)), "cudaEventRecord");
        check(cudaEventSynchronize(stop), "cudaEventSynchronize");
        float ms = 0;
        check(cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(ev_start_), stop), "cudaEventElapsedTime");
        return double(ms);
    }
    if (sync_device_) check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    return (host_seconds() - host_start_) * 1e3;
}

std::string RegionTimer::method() const {
    if (stream_) return "CUDA events on the backend's stream";
    if (sync_device_) return "host steady clock with cudaDeviceSynchronize (the backend exposes no stream)";
    return "host steady clock (CPU backend: no device events)";
}

}  // namespace orcd::bench
