// The audited allocation site: the only file that calls cudaMalloc/cudaFree
// and the pinned host allocation functions (tests/unit/test_vram_audit.cpp).
#include "backend/cuda/device_memory.h"

#include "backend/cuda/cuda_check.h"
#include "common/error.h"
#include "common/fault_injection.h"

#include <cuda_runtime_api.h>

#include <utility>

namespace orcd::cuda {

const char* category_name(MemCategory c) {
    switch (c) {
        case MemCategory::Weights: return "weights";
        case MemCategory::KvCache: return "kv_cache";
        case MemCategory::Activations: return "activations";
        case MemCategory::Workspace: return "workspace";
        case MemCategory::Sampling: return "sampling";
        case MemCategory::Count: break;
    }
    return "unknown";
}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
        reset();
        owner_ = std::exchange(o.owner_, nullptr);
        ptr_ = std::exchange(o.ptr_, nullptr);
        bytes_ = std::exchange(o.bytes_, 0);
    }
    return *this;
}

void DeviceBuffer::reset() noexcept {
    if (ptr_ && owner_) owner_->release(ptr_);
    owner_ = nullptr;
    ptr_ = nullptr;
    bytes_ = 0;
}

DeviceBuffer DeviceAllocator::alloc(uint64_t bytes, MemCategory cat, AllocPhase phase) {
    const uint64_t rounded = bytes == 0 ? 256 : (bytes + 255) / 256 * 256;
    // Both points are counted on every allocation they cover, so an armed
    // N-th event is reached the same way whatever else is armed.
    bool injected = fault::should_fail(fault::Point::DeviceAlloc);
    if (phase == AllocPhase::Job && fault::should_fail(fault::Point::JobAlloc)) injected = true;

    bind_device(device_);
    void* p = nullptr;
    const cudaError_t e = injected ? cudaErrorMemoryAllocation : cudaMalloc(&p, rounded);
    if (e != cudaSuccess) {
        if (e != cudaErrorMemoryAllocation) throw_cuda_error(e, "cudaMalloc", __FILE__, __LINE__);
        (void)cudaGetLastError();  // out-of-memory is not sticky: clear it
        const DeviceMemInfo mi = mem_info();
        fail(ORCD_VRAM_OOM, std::string(injected ? "injected " : "") + "device allocation of " +
                                std::to_string(rounded) + " bytes (" + category_name(cat) + ", " +
                                (phase == AllocPhase::Job ? "job" : "load") + ") failed: out of memory vram_used=" +
                                std::to_string(used_total()) + " vram_available=" + std::to_string(mi.free));
    }
    {
        std::lock_guard<std::mutex> lock(mu_);
        live_.emplace(p, Entry{rounded, cat});
        used_[size_t(cat)] += rounded;
    }
    DeviceBuffer b;
    b.owner_ = this;
    b.ptr_ = p;
    b.bytes_ = rounded;
    return b;
}

void DeviceAllocator::release(void* p) noexcept {
    {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = live_.find(p);
        if (it == live_.end()) return;
        used_[size_t(it->second.cat)] -= it->second.bytes;
        live_.erase(it);
    }
    // A destructor must not throw; a failing free means a lost device, which
    // the next checked call reports.
    (void)cudaSetDevice(device_);
    (void)cudaFree(p);
}

uint64_t DeviceAllocator::used(MemCategory c) const {
    std::lock_guard<std::mutex> lock(mu_);
    return used_[size_t(c)];
}

uint64_t DeviceAllocator::used_total() const {
    std::lock_guard<std::mutex> lock(mu_);
    uint64_t t = 0;
    for (uint64_t u : used_) t += u;
    return t;
}

size_t DeviceAllocator::live_count() const {
    std::lock_guard<std::mutex> lock(mu_);
    return live_.size();
}

DeviceMemInfo DeviceAllocator::mem_info() const {
    bind_device(device_);
    size_t free_b = 0, total_b = 0;
    ORCD_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
    return DeviceMemInfo{free_b, total_b};
}

bool DeviceAllocator::is_device_resident(const void* p, int device, std::string* why) {
    cudaPointerAttributes a{};
    const cudaError_t e = cudaPointerGetAttributes(&a, p);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        if (why) *why = std::string("cudaPointerGetAttributes failed: ") + cudaGetErrorName(e);
        return false;
    }
    if (a.type != cudaMemoryTypeDevice) {
        if (why) *why = "memory type " + std::to_string(int(a.type)) + " is not device memory";
        return false;
    }
    if (a.device != device) {
        if (why) *why = "allocation lives on device " + std::to_string(a.device) + ", not " + std::to_string(device);
        return false;
    }
    return true;
}

bool DeviceAllocator::verify_residency(std::string* why) const {
    if (cudaSetDevice(device_) != cudaSuccess) {
        if (why) *why = "cannot select device " + std::to_string(device_);
        return false;
    }
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [p, entry] : live_) {
        const void* last = static_cast<const uint8_t*>(p) + entry.bytes - 1;
        std::string w;
        if (!is_device_resident(p, device_, &w) || !is_device_resident(last, device_, &w)) {
            if (why) *why = std::string(category_name(entry.cat)) + " allocation of " + std::to_string(entry.bytes) +
                            " bytes: " + w;
            return false;
        }
    }
    return true;
}

PinnedHostBuffer::PinnedHostBuffer(uint64_t bytes) : bytes_(bytes) {
    void* p = nullptr;
    ORCD_CUDA_CHECK(cudaHostAlloc(&p, bytes, cudaHostAllocDefault));
    ptr_ = static_cast<uint8_t*>(p);
}

PinnedHostBuffer::~PinnedHostBuffer() {
    if (ptr_) (void)cudaFreeHost(ptr_);
}

PinnedHostBuffer::PinnedHostBuffer(PinnedHostBuffer&& o) noexcept
    : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}

PinnedHostBuffer& PinnedHostBuffer::operator=(PinnedHostBuffer&& o) noexcept {
    if (this != &o) {
        if (ptr_) (void)cudaFreeHost(ptr_);
        ptr_ = std::exchange(o.ptr_, nullptr);
        bytes_ = std::exchange(o.bytes_, 0);
    }
    return *this;
}

}  // namespace orcd::cuda
