#include "common/fault_injection.h"

#if defined(ORCD_FAULT_INJECTION)

#include <array>
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <string>
#include <string_view>

namespace orcd::fault {
namespace {

constexpr std::array<std::string_view, size_t(Point::Count)> kNames = {
    "device_alloc", "job_alloc", "kernel_launch", "file_read", "tokenizer", "residency"};

struct State {
    std::mutex mu;
    std::array<long, size_t(Point::Count)> seen{};    // events counted so far
    std::array<long, size_t(Point::Count)> fail_at{}; // 0 = not armed
    // `point@jobN`: N counted from the first job; armed once a job starts.
    std::array<long, size_t(Point::Count)> fail_in_job{};
    // `point@everyN`: every N-th event from the first job on; every_from is
    // the count when that job started.
    std::array<long, size_t(Point::Count)> fail_every{};
    std::array<long, size_t(Point::Count)> every_from{};
    bool job_seen = false;
};

State& state() {
    static State* s = [] {
        auto* st = new State();
        // ORCD_FAULT_INJECT="point[@N],point[@N]"
        if (const char* env = std::getenv("ORCD_FAULT_INJECT")) {
            std::string_view spec(env);
            while (!spec.empty()) {
                const size_t comma = spec.find(',');
                std::string_view item = spec.substr(0, comma);
                spec = comma == std::string_view::npos ? std::string_view() : spec.substr(comma + 1);
                long n = 1;
                auto* target = &st->fail_at;
                if (const size_t at = item.find('@'); at != std::string_view::npos) {
                    std::string_view count = item.substr(at + 1);
                    if (count.substr(0, 3) == "job") {
                        target = &st->fail_in_job;
                        count.remove_prefix(3);
                    } else if (count.substr(0, 5) == "every") {
                        target = &st->fail_every;
                        count.remove_prefix(5);
                    }
                    n = std::strtol(std::string(count).c_str(), nullptr, 10);
                    item = item.substr(0, at);
                }
                for (size_t i = 0; i < kNames.size(); ++i)
                    if (kNames[i] == item && n >= 1) (*target)[i] = n;
            }
        }
        return st;
    }();
    return *s;
}

}  // namespace

bool should_fail(Point p) {
    State& s = state();
    std::lock_guard<std::mutex> lock(s.mu);
    const size_t i = size_t(p);
    const long n = ++s.seen[i];
    if (s.fail_at[i] != 0 && n == s.fail_at[i]) {
        s.fail_at[i] = 0;  // one failure per arming
        return true;
    }
    return s.fail_every[i] != 0 && s.job_seen && (n - s.every_from[i]) % s.fail_every[i] == 0;
}

void arm(Point p, int n) {
    State& s = state();
    std::lock_guard<std::mutex> lock(s.mu);
    s.fail_at[size_t(p)] = s.seen[size_t(p)] + (n < 1 ? 1 : n);
}

void job_started() {
    State& s = state();
    std::lock_guard<std::mutex> lock(s.mu);
    if (s.job_seen) return;
    s.job_seen = true;
    for (size_t i = 0; i < s.fail_in_job.size(); ++i) {
        if (s.fail_in_job[i] != 0) s.fail_at[i] = s.seen[i] + s.fail_in_job[i];
        s.every_from[i] = s.seen[i];
    }
}

void disarm_all() {
    State& s = state();
    std::lock_guard<std::mutex> lock(s.mu);
    s.fail_at.fill(0);
    s.fail_every.fill(0);
}

}  // namespace orcd::fault

#endif  // ORCD_FAULT_INJECTION
