// The OpenAI-compatible endpoints' own steps: admitting a request to
// /v1/chat/completions or /v1/completions (worker status, JSON, validation,
// chat template) into a job for the shared job slot and inference thread,
// and the /v1/models document. The HTTP session does the rest exactly as for
// /execute.
#pragma once

#include "chat/chat_template.h"
#include "job_protocol.h"
#include "metrics.h"
#include "openai_request.h"
#include "server_context.h"

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

OpenAiAdmission admit_openai(OpenAiKind kind, const std::string& body, ServerContext& ctx,
                             const std::string& correlation_id);

// GET /v1/models: the loaded model, with its context length.
nlohmann::json models_document(WorkerState& state);

// "orcd-<commit>-<weight format>": what system_fingerprint carries.
std::string system_fingerprint(const ModelFacts& facts);

}  // namespace orcd::server
