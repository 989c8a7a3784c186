// Shared helpers of the GPU tests: the device check every test starts with,
// device buffers from the tracked allocator (tests allocate no other way),
// NaN poisoning, and comparisons that print their error statistics.
#pragma once

#include "backend/cuda/cuda_context.h"
#include "backend/cuda/device_memory.h"
#include "engine/backend.h"
#include "engine/kv_cache.h"
#include "engine/adapter.h"
#include "gguf/gguf.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace orcd::test {

// cudaGetDeviceCount succeeds and finds at least one device.
bool cuda_available();

#define ORCD_REQUIRE_CUDA()                                                           \
    do {                                                                              \
        if (!::orcd::test::cuda_available()) GTEST_SKIP() << "skipped: no CUDA device"; \
    } while (0)

// Device 0 with helpers to move test data.
class Gpu {
public:
    Gpu();
    cuda::CudaContext& ctx() { return *ctx_; }
    cudaStream_t stream() const { return ctx_->stream; }
    cuda::DeviceAllocator& alloc() { return *ctx_->alloc; }

    // A buffer of `bytes` filled with 0xFF: NaN as float and as half, -1 as int32.
    cuda::DeviceBuffer poisoned(uint64_t bytes);
    template <class T>
    cuda::DeviceBuffer upload(const std::vector<T>& v) {
        cuda::DeviceBuffer b = poisoned(v.size() * sizeof(T));
        copy_in(b.get(), v.data(), v.size() * sizeof(T));
        return b;
    }
    template <class T>
    std::vector<T> download(const cuda::DeviceBuffer& b, size_t n) {
        std::vector<T> v(n);
        copy_out(v.data(), b.get(), n * sizeof(T));
        return v;
    }
    template <class T>
    std::vector<T> download(const void* dev, size_t n) {
        std::vector<T> v(n);
        copy_out(v.data(), dev, n * sizeof(T));
        return v;
    }
    void sync();

private:
    void copy_in(void* dst, const void* src, uint64_t bytes);
    void copy_out(void* dst, const void* src, uint64_t bytes);
    std::shared_ptr<cuda::CudaContext> ctx_;
};

// A GGUF model's file and adapter (hyper-parameters, bound weights), as
// the engine holds them, for tests that drive backends directly.
struct HostModel {
    std::unique_ptr<gguf::File> file;
    std::unique_ptr<ModelAdapter> adapter;
    const ModelConfig& cfg;
    explicit HostModel(const std::string& path)
        : file(gguf::File::open(path)), adapter(make_adapter(*file)), cfg(adapter->config()) {}
    KvLayout kv(uint32_t n_ctx, uint32_t elem_bytes) const {
        return KvLayout{cfg.n_layer, n_ctx, cfg.n_head_kv, cfg.head_dim, elem_bytes, 1};
    }
    // be.load() with this model, a cache of n_ctx positions in be's element
    // size, and prefill batches of up to max_batch tokens.
    void load_into(Backend& be, uint32_t n_ctx, uint32_t max_batch) const {
        be.load(*adapter, kv(n_ctx, be.kv_elem_bytes()), max_batch, LoadOptions{});
    }
};

// create_backend() -> load -> begin_job(): a backend ready for forward().
inline std::unique_ptr<Backend> load_backend(Device& dev, const HostModel& m, uint32_t n_ctx, uint32_t max_batch) {
    std::unique_ptr<Backend> be = dev.create_backend();
    m.load_into(*be, n_ctx, max_batch);
    be->begin_job();
    return be;
}

// The backend's latest logits on the host.
inline std::vector<float> logits_of(Backend& b, uint32_t n_vocab) {
    std::vector<float> l(n_vocab);
    b.read_logits(l);
    return l;
}

std::vector<float> random_floats(size_t n, uint64_t seed, float lo, float hi);
std::vector<uint16_t> to_f16(const std::vector<float>& v);
std::vector<float> from_f16(const std::vector<uint16_t>& v);

// |got[i] - want[i]| <= tol[i] for all i, NaN never passes. Prints the max
// absolute and relative error and the first and worst mismatches.
::testing::AssertionResult all_close(const std::string& what, const std::vector<float>& got,
                                     const std::vector<float>& want, const std::vector<double>& tol);
// The same with tol[i] = abs_tol + rel_tol * |want[i]|.
::testing::AssertionResult all_close(const std::string& what, const std::vector<float>& got,
                                     const std::vector<float>& want, double abs_tol, double rel_tol);

}  // namespace orcd::test
