#include "bench_system.h"

#include <array>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <sstream>
#include <thread>

#include <unistd.h>

#ifndef ORCD_SOURCE_DIR
#define ORCD_SOURCE_DIR "."
#endif

namespace orcd::bench {
namespace {

// stdout of a shell command (stderr discarded), trailing whitespace removed;
// empty when it fails.
std::string run_command(const std::string& cmd) {
    FILE* p = popen((cmd + " 2>/dev/null").c_str(), "r");
    if (!p) return {};
    std::string out;
    std::array<char, 512> buf{};
    size_t n = 0;
    while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
    if (pclose(p) != 0) return {};
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ' || out.back() == '\r')) out.pop_back();
    return out;
}

std::string version_string(int v) {
    if (v <= 0) return "unknown";
    return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

// /proc/driver/nvidia/version: "NVRM version: NVIDIA UNIX ... Kernel Module  580.159.04  ..."
std::string nvidia_driver_version(int gpu) {
    std::ifstream in("/proc/driver/nvidia/version");
    std::string line;
    if (std::getline(in, line)) {
        const std::string key = "Kernel Module";
        const size_t at = line.find(key);
        if (at != std::string::npos) {
            std::istringstream rest(line.substr(at + key.size()));
            std::string v;
            if (rest >> v) return v;
        }
    }
    const std::string smi = run_command("nvidia-smi --query-gpu=driver_version --format=csv,noheader -i " +
                                        std::to_string(gpu));
    return smi.empty() ? "unknown" : smi;
}

bool is_hex_commit(const std::string& s) {
    if (s.size() != 40) return false;
    for (char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

}  // namespace

SystemInfo collect_system_info(const orcd_device_info& d, int cpu_threads) {
    SystemInfo s;
    const bool cuda = d.kind == ORCD_DEVICE_CUDA;
    s.device_kind = cuda ? "cuda" : "cpu";
    s.gpu_name = d.name;
    if (cuda) {
        s.compute_capability = std::to_string(d.sm_major) + "." + std::to_string(d.sm_minor);
        s.device_memory_bytes = d.total_memory_bytes;
        s.driver_version = nvidia_driver_version(0);
        s.cuda_driver_api = version_string(d.cuda_driver_version);
        s.cuda_runtime = version_string(d.cuda_runtime_version);
    } else {
        s.compute_capability = s.driver_version = s.cuda_driver_api = s.cuda_runtime = "n/a";
    }

    const std::string git = std::string("git -C '") + ORCD_SOURCE_DIR + "' ";
    std::string commit = run_command(git + "rev-parse HEAD");
    if (is_hex_commit(commit)) {
        s.commit = commit;
        s.commit_source = "git";
        s.tree_dirty = !run_command(git + "status --porcelain --untracked-files=no").empty();
    } else if (const char* env = std::getenv("ORCD_COMMIT"); env && *env) {
        s.commit = env;
        s.commit_source = "ORCD_COMMIT";
    } else {
        s.commit = "unknown";
        s.commit_source = "none";
    }

    char host[256] = {};
    if (gethostname(host, sizeof host - 1) == 0) s.host = host;
    s.cpu_threads = cpu_threads > 0 ? cpu_threads : int(std::thread::hardware_concurrency());
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char ts[32];
    std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    s.timestamp_utc = ts;
    s.orcd_version = orcd_version_string();
    return s;
}

}  // namespace orcd::bench
