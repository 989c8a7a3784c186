// Prometheus counters and histograms of the worker. Updates are lock-free
// counters or a short mutex; rendering never waits for a job.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace orcd::server {

// The outcome label of worker_requests_total: one per way an /execute ends.
enum class Outcome {
    completed,          // the stream ended with `end`
    invalid_request,    // 400 / 413
    busy,               // 503 while another job ran
    unavailable,        // 503 while loading, draining or unhealthy
    cancelled,          // /cancel or shutdown
    client_gone,        // the client disconnected mid-stream
    inference_timeout,
    vram_oom,
    cuda_error,
    internal,
    kCount
};

const char* outcome_label(Outcome o);

class Histogram {
public:
    explicit Histogram(std::vector<double> bounds);
    void observe(double value);
    // Appends the _bucket/_sum/_count lines for name.
    void render(const std::string& name, std::string& out) const;

private:
    std::vector<double> bounds_;
    mutable std::mutex mu_;
    std::vector<uint64_t> counts_;  // per bound, not cumulative; last = +Inf
    double sum_ = 0;
    uint64_t count_ = 0;
};

class Metrics {
public:
    Metrics();
    void count_request(Outcome o) { requests_[static_cast<size_t>(o)].fetch_add(1, std::memory_order_relaxed); }
    void add_tokens(uint64_t generated, uint64_t prompt) {
        tokens_generated_.fetch_add(generated, std::memory_order_relaxed);
        prompt_tokens_.fetch_add(prompt, std::memory_order_relaxed);
    }
    void observe_time_to_first_token(double seconds) { ttft_.observe(seconds); }
    void observe_inference_duration(double seconds) { duration_.observe(seconds); }

    // device_total_bytes 0 (the CPU backend) leaves out the device memory gauges.
    std::string render(uint64_t vram_bytes, bool busy, double uptime_seconds, uint64_t device_free_bytes = 0,
                       uint64_t device_total_bytes = 0) const;

private:
    std::array<std::atomic<uint64_t>, static_cast<size_t>(Outcome::kCount)> requests_{};
    std::atomic<uint64_t> tokens_generated_{0};
    std::atomic<uint64_t> prompt_tokens_{0};
    Histogram ttft_;
    Histogram duration_;
};

}  // namespace orcd::server
