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

thread_local bool t_serial = false;

}  // namespace

bool overlap_launches() { return !t_serial && overlap_flag().load(std::memory_order_relaxed); }

void set_overlap_launches(bool on) { overlap_flag().store(on, std::memory_order_relaxed); }

SerialLaunches::SerialLaunches(bool on) : was_(t_serial) { t_serial = t_serial || on; }

SerialLaunches::~SerialLaunches() { t_serial = was_; }

}  // namespace orcd::cuda
