// Runs the real worker-orcd binary for a test: on a free port, with its log
// captured to a file, waiting (bounded) for the `ready` log line. The
// destructor always stops and reaps it (SIGTERM, then SIGKILL), and prints
// the worker's log when the current test has failed.
#pragma once

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <sys/types.h>

namespace orcd::itest {

using namespace std::chrono_literals;

struct WorkerOptions {
    std::string model;                    // default: the stories260K model
    std::vector<std::string> extra_args;  // appended after the defaults
    std::vector<std::pair<std::string, std::string>> env;  // set in the worker's environment
    std::chrono::milliseconds ready_timeout = 20s;
};

inline WorkerOptions with_args(std::vector<std::string> extra_args) {
    WorkerOptions o;
    o.extra_args = std::move(extra_args);
    return o;
}

class WorkerProcess {
public:
    explicit WorkerProcess(WorkerOptions options = {});
    ~WorkerProcess();
    WorkerProcess(const WorkerProcess&) = delete;
    WorkerProcess& operator=(const WorkerProcess&) = delete;

    uint16_t port() const { return port_; }
    pid_t pid() const { return pid_; }
    const std::string& worker_id() const { return worker_id_; }

    // Everything the worker has logged so far.
    std::string log() const;
    // The log's JSON lines, parsed (other lines skipped).
    std::vector<nlohmann::json> log_events() const;
    // Waits until a log line contains needle; false on timeout.
    bool wait_for_log(const std::string& needle, std::chrono::milliseconds timeout) const;

    // Waits until a JSON log line has event == name and every field of
    // `fields` with the same value; false on timeout.
    bool wait_for_event(const std::string& name, const nlohmann::json& fields, std::chrono::milliseconds timeout) const;

    void send_signal(int sig) const;
    // The exit code once the process has exited within timeout (reaped);
    // nullopt while it still runs. A death by signal reads as 128 + signo.
    std::optional<int> wait_exit(std::chrono::milliseconds timeout);
    // SIGTERM, then SIGKILL after kill_after; returns the exit code.
    int stop(std::chrono::milliseconds kill_after = 10s);

private:
    bool spawn(const WorkerOptions& options);

    uint16_t port_ = 0;
    pid_t pid_ = -1;
    std::optional<int> exit_code_;
    std::string log_path_;
    std::string worker_id_;
};

// Result of running the binary to completion (CLI tests).
struct ProcessResult {
    int exit_code = -1;     // -1 when it had to be killed
    std::string output;     // stdout and stderr together
};
ProcessResult run_worker_to_exit(const std::vector<std::string>& args, std::chrono::milliseconds timeout,
                                 const std::vector<std::pair<std::string, std::string>>& env = {});
// The same for any binary (argv[0] = binary).
ProcessResult run_to_exit(const std::string& binary, const std::vector<std::string>& args,
                          std::chrono::milliseconds timeout,
                          const std::vector<std::pair<std::string, std::string>>& env = {});

// The device flags the harness starts workers with: "--device cpu" unless
// $ORCD_ITEST_DEVICE=cuda (then "--gpu-device $ORCD_ITEST_GPU", default 0),
// so the same suite runs on a GPU host.
std::vector<std::string> device_args();
bool testing_on_gpu();

// A TCP port nobody listens on right now.
uint16_t free_port();
std::string worker_binary();

// A test suite whose tests share one worker, started before the suite's
// first test and stopped after its last: for tests that leave the worker as
// they found it. Suites that change its state get a worker of their own.
template <typename Suite>
class SharedWorkerSuite : public ::testing::Test {
protected:
    static void SetUpTestSuite() { worker_ = new WorkerProcess(); }
    static void TearDownTestSuite() {
        delete worker_;
        worker_ = nullptr;
    }
    static uint16_t port() { return worker_->port(); }
    static inline WorkerProcess* worker_ = nullptr;
};

}  // namespace orcd::itest
