#include "version/version_text.h"

#include <orcd/orcd.h>

namespace orcd::version {

namespace {

std::string cuda_line() {
    const int32_t v = orcd_cuda_build_version();
    if (v == 0) return "0 (built without CUDA)";
    // CUDART_VERSION is 1000 * major + 10 * minor.
    return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10) + " (" + std::to_string(v) +
           ", compile-time: the version this build was compiled against; a device's runtime and driver versions "
           "are reported once it is opened, e.g. in /health)";
}

}  // namespace

std::string text(const char* program) {
    const std::string cuda_formats = orcd_supported_weight_formats(ORCD_DEVICE_CUDA);
    std::string s = std::string(program) + " " + orcd_version_string() + " (commit " + orcd_build_commit() + ", ABI " +
                    std::to_string(orcd_abi_version()) + ")\n";
    s += "cuda runtime: " + cuda_line() + "\n";
    s += std::string("architectures: ") + orcd_supported_architectures() + "\n";
    s += std::string("weight formats (cpu): ") + orcd_supported_weight_formats(ORCD_DEVICE_CPU) + "\n";
    s += "weight formats (cuda): " + (cuda_formats.empty() ? std::string("none (built without CUDA)") : cuda_formats) +
         "\n";
    return s;
}

}  // namespace orcd::version
