// The OpenAI-compatible endpoints' own step: admitting a request to
// /v1/chat/completions or /v1/completions (worker status, JSON, validation,
// chat template) into a job for the shared job slot and inference thread.
// It sees the worker only through WorkerPort, so the request handler (and
// the HTTP fuzzer) decide OpenAI requests from bytes as they do /execute's;
// the session does the rest exactly as for /execute.
#pragma once

#include "chat/chat_template.h"
#include "job_protocol.h"
#include "metrics.h"
#include "openai_request.h"
#include "worker_port.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace orcd::server {

struct OpenAiAdmission {
    bool ok = false;
    // When not ok: the answer (in /execute's shape, status included) and its outcome.
    unsigned http_status = 400;
    nlohmann::json error;
    Outcome outcome = Outcome::invalid_request;
    // When ok: the job.
    ExecuteRequest request;
    std::optional<std::vector<chat::Segment>> segments;
    std::shared_ptr<JobProtocol> protocol;
};

OpenAiAdmission admit_openai(OpenAiKind kind, const std::string& body, WorkerPort& worker,
                             const std::string& correlation_id);

}  // namespace orcd::server
