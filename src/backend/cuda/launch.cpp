// The switch of launch.cuh's overlapped launches.
#include "backend/cuda/launch.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

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

}  // namespace orcd::cuda
