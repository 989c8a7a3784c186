// The worker as the request handler sees it: its status, what /health,
// /metrics and /v1/models report, what the OpenAI endpoints need of the
// loaded model (its name, the build's fingerprint, its chat template), the
// job slot's cancel, shutdown, the request counters and the log. The server
// implements it over its real state (ContextPort); the HTTP fuzzer and the
// handler's unit tests stand a fake worker behind it, so a request can be
// handled from bytes without a socket, a model or a device.
#pragma once

#include "chat_setup.h"
#include "json_log.h"
#include "metrics.h"
#include "request_validation.h"
#include "worker_status.h"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace orcd::server {

class WorkerPort {
public:
    virtual ~WorkerPort() = default;
    virtual Status status() const = 0;
    // The limits /execute is validated against; meaningful once healthy.
    virtual RequestLimits request_limits() const = 0;
    virtual nlohmann::json health() = 0;
    virtual std::string metrics_text() = 0;
    // GET /v1/models; nullopt while no model is loaded.
    virtual std::optional<nlohmann::json> models() = 0;
    // The OpenAI answers' `model` and `system_fingerprint`, and how chat
    // requests are rendered; meaningful once healthy.
    virtual std::string model_name() const = 0;
    virtual std::string system_fingerprint() const = 0;
    virtual const ChatSetup& chat() const = 0;
    // Cancels the running job when its id matches; false when none matched.
    virtual bool cancel_job(const std::string& job_id) = 0;
    // Starts draining (an HTTP /shutdown).
    virtual void request_shutdown() = 0;
    virtual void count_request(Outcome outcome) = 0;
    virtual Logger& log() = 0;
};

}  // namespace orcd::server
