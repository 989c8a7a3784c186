// The inference thread. It takes one /execute at a time (the slot in
// WorkerState admits only one) and walks it down and back:
// capacity check -> job create -> `started` -> token loop -> `end`/`error`.
#pragma once

#include "json_log.h"
#include "metrics.h"
#include "request_validation.h"
#include "stream_sink.h"
#include "worker_state.h"

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

namespace orcd::server {

struct ExecuteTask {
    uint64_t ticket = 0;  // the slot this task holds; released when it ends
    ExecuteRequest request;
    std::string correlation_id;
    std::shared_ptr<StreamSink> sink;
    std::chrono::steady_clock::time_point received;
};

class JobRunner {
public:
    JobRunner(const Config& config, WorkerState& state, Metrics& metrics, Logger& log);
    ~JobRunner();
    JobRunner(const JobRunner&) = delete;
    JobRunner& operator=(const JobRunner&) = delete;

    void start();
    // Hands over a task whose slot is held. Never blocks.
    void submit(ExecuteTask task);
    // Finishes the task in hand (if any) and joins the thread.
    void stop();

private:
    void loop();
    void run(ExecuteTask& task);
    // Ends a task that never opened its stream: frees the slot, then answers.
    void reject(ExecuteTask& task, unsigned http_status, const nlohmann::json& body, Outcome outcome);

    const Config& config_;
    WorkerState& state_;
    Metrics& metrics_;
    Logger& log_;

    std::mutex mu_;
    std::condition_variable cv_;
    std::optional<ExecuteTask> pending_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace orcd::server
