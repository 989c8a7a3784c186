// The CUDA entry point of a build without nvcc: it says so instead of
// falling back to another device.
#include "common/error.h"
#include "engine/backend.h"

namespace orcd {

std::unique_ptr<Device> make_cuda_device(int) {
    fail(ORCD_CUDA_ERROR, "this build of worker-orcd has no CUDA support (configured without nvcc); use --device cpu");
}

std::string cuda_weight_formats() { return ""; }

}  // namespace orcd
