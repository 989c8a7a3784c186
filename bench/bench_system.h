// What a figure was measured on: the device, its driver and runtime, the
// host, and the commit of the code.
#pragma once

#include <orcd/orcd.h>

#include <string>

namespace orcd::bench {

struct SystemInfo {
    std::string device_kind;        // "cuda" or "cpu"
    std::string gpu_name;           // the device's name ("cpu" on the CPU backend)
    std::string compute_capability; // "9.0"
    uint64_t device_memory_bytes = 0;
    std::string driver_version;     // NVIDIA kernel driver, e.g. "580.159.04"
    std::string cuda_driver_api;    // e.g. "13.0"
    std::string cuda_runtime;       // e.g. "13.0"
    std::string commit;             // git HEAD, ORCD_COMMIT, or "unknown"
    std::string commit_source;      // "git", "ORCD_COMMIT" or "none"
    bool tree_dirty = false;        // tracked files differ from the commit
    std::string host;
    int cpu_threads = 0;
    std::string timestamp_utc;
    std::string orcd_version;
};

SystemInfo collect_system_info(const orcd_device_info& device, int cpu_threads);

}  // namespace orcd::bench
