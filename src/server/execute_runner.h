// The inference thread. It takes one job at a time (the slot in WorkerState
// admits only one), from /execute or the OpenAI endpoints, and walks it down
// and back: tokenize + capacity check -> job create -> started -> token loop
// -> end/error, the endpoint's JobProtocol framing each moment.
#pragma once

#include "chat/chat_template.h"
#include "job_protocol.h"
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
    // A rendered chat template: the job starts from these segments' ids
    // (markup tokenized with special tokens parsed) instead of request.prompt.
    std::optional<std::vector<chat::Segment>> segments;
    std::shared_ptr<JobProtocol> protocol;
    std::string api = "execute";  // for the logs
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
    // The prompt ids of a chat task; the caller holds the engine lock.
    std::vector<int32_t> tokenize_segments(const Model& model, const std::vector<chat::Segment>& segments) const;
    // The step's log-probabilities with the tokens' texts; engine lock held.
    StepLogprobs step_logprobs(const Model& model, const Job& job) const;

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
