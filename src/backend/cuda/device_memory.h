// The one tracked VRAM allocator of the CUDA backend.
//
// Every device byte the backend uses comes from DeviceAllocator::alloc() as a
// move-only DeviceBuffer that returns its bytes when destroyed. The allocator
// keeps the live allocations by category (what /health and /metrics report)
// and can verify that each of them is device memory on our device.
//
// device_memory.cpp is the only file of the code base allowed to call the
// CUDA allocation functions; tests/unit/test_vram_audit.cpp enforces it.
// Managed (unified) memory and host-mapped (zero-copy) memory are never used,
// not even here: pinned host memory exists only as staging for copies.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace orcd::cuda {

enum class MemCategory : uint32_t { Weights, KvCache, Activations, Workspace, Sampling, Count };
constexpr size_t kMemCategories = size_t(MemCategory::Count);
const char* category_name(MemCategory c);

// Load-phase allocations happen while a model loads (budgeted up front);
// job-phase allocations while a job runs (a failure there is VRAM_OOM and the
// job ends; the process keeps serving).
enum class AllocPhase { Load, Job };

class DeviceAllocator;

class DeviceBuffer {
public:
    DeviceBuffer() = default;
    ~DeviceBuffer() { reset(); }
    DeviceBuffer(DeviceBuffer&& o) noexcept { *this = static_cast<DeviceBuffer&&>(o); }
    DeviceBuffer& operator=(DeviceBuffer&& o) noexcept;
    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;

    void* get() const { return ptr_; }
    template <class T>
    T* as() const { return static_cast<T*>(ptr_); }
    uint64_t bytes() const { return bytes_; }
    explicit operator bool() const { return ptr_ != nullptr; }
    // Returns the bytes to the allocator now.
    void reset() noexcept;

private:
    friend class DeviceAllocator;
    DeviceAllocator* owner_ = nullptr;
    void* ptr_ = nullptr;
    uint64_t bytes_ = 0;
};

struct DeviceMemInfo {
    uint64_t free = 0, total = 0;
};

class DeviceAllocator {
public:
    explicit DeviceAllocator(int device) : device_(device) {}
    ~DeviceAllocator() = default;
    DeviceAllocator(const DeviceAllocator&) = delete;
    DeviceAllocator& operator=(const DeviceAllocator&) = delete;

    // At least `bytes` (rounded up to 256) of device memory. Failure: VRAM_OOM
    // with "vram_used=<tracked bytes> vram_available=<free bytes>" in the
    // detail; CUDA_ERROR for anything but out-of-memory. Counts the
    // DeviceAlloc fault point, and JobAlloc in the job phase.
    DeviceBuffer alloc(uint64_t bytes, MemCategory cat, AllocPhase phase = AllocPhase::Load);

    uint64_t used(MemCategory c) const;
    uint64_t used_total() const;
    size_t live_count() const;
    int device() const { return device_; }
    // cudaMemGetInfo of our device.
    DeviceMemInfo mem_info() const;

    // Every live allocation (first and last byte) is device memory on our
    // device. On failure `why` names the first offending allocation.
    bool verify_residency(std::string* why = nullptr) const;
    // The check verify_residency() applies to one address.
    static bool is_device_resident(const void* p, int device, std::string* why = nullptr);

private:
    friend class DeviceBuffer;
    void release(void* p) noexcept;

    struct Entry {
        uint64_t bytes;
        MemCategory cat;
    };
    const int device_;
    mutable std::mutex mu_;
    std::unordered_map<void*, Entry> live_;
    std::array<uint64_t, kMemCategories> used_{};
};

// Page-locked host memory for staging host->device copies. Plain pinned
// memory: not mapped into the device's address space, never read by kernels.
class PinnedHostBuffer {
public:
    PinnedHostBuffer() = default;
    explicit PinnedHostBuffer(uint64_t bytes);
    ~PinnedHostBuffer();
    PinnedHostBuffer(PinnedHostBuffer&& o) noexcept;
    PinnedHostBuffer& operator=(PinnedHostBuffer&& o) noexcept;
    PinnedHostBuffer(const PinnedHostBuffer&) = delete;
    PinnedHostBuffer& operator=(const PinnedHostBuffer&) = delete;

    uint8_t* data() const { return ptr_; }
    uint64_t bytes() const { return bytes_; }

private:
    uint8_t* ptr_ = nullptr;
    uint64_t bytes_ = 0;
};

}  // namespace orcd::cuda
