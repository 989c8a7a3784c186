// The pieces every HTTP connection needs, owned by main().
#pragma once

#include "cli_flags.h"
#include "json_log.h"
#include "metrics.h"
#include "worker_state.h"

#include <atomic>
#include <functional>
#include <string>

namespace orcd::server {

class JobRunner;

struct ServerContext {
    const Config& config;
    Logger& log;
    WorkerState& state;
    Metrics& metrics;
    JobRunner& runner;
    // Starts draining and wakes main(); reason is logged. Safe from any thread.
    std::function<void(const std::string& reason)> request_shutdown;
    // Connections that hold an /execute (queued, streaming or flushing), so
    // shutdown can wait for the last events to leave.
    std::atomic<int> open_executes{0};
};

}  // namespace orcd::server
