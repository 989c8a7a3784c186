#include "openai_endpoint.h"

#include "http_responses.h"
#include "openai_protocol.h"
#include "uuid.h"

#include <ctime>

namespace orcd::server {
namespace {

using nlohmann::json;

OpenAiAdmission refuse(unsigned status, json error, Outcome outcome) {
    OpenAiAdmission a;
    a.http_status = status;
    a.error = std::move(error);
    a.outcome = outcome;
    return a;
}

std::string today_utc() {
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buf[16];
    std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
    return buf;
}

std::string compact_uuid() {
    std::string id = new_uuid();
    std::erase(id, '-');
    return id;
}

}  // namespace

OpenAiAdmission admit_openai(OpenAiKind kind, const std::string& body, WorkerPort& worker,
                             const std::string& correlation_id) {
    const Status status = worker.status();
    if (status != Status::healthy) {
        // As /execute: unhealthy is the device (CUDA_ERROR), loading and draining are BUSY.
        const char* code = status == Status::unhealthy ? "CUDA_ERROR" : "BUSY";
        return refuse(503, error_body(code, std::string("the worker is ") + status_name(status), true),
                      Outcome::unavailable);
    }
    const json doc = json::parse(body, nullptr, false);
    if (doc.is_discarded())
        return refuse(400, invalid_request_body("body", "json", "the request body is not valid JSON"),
                      Outcome::invalid_request);

    OpenAiRequest req;
    const auto errors = validate_openai(kind, doc, worker.request_limits(), req);
    if (!errors.empty()) return refuse(400, invalid_request_body(errors), Outcome::invalid_request);

    OpenAiAdmission a;
    if (kind == OpenAiKind::chat) {
        const ChatSetup& setup = worker.chat();
        if (!setup.family) return refuse(400, invalid_request_body("messages", "chat_template", setup.problem),
                                         Outcome::invalid_request);
        chat::RenderOptions opt;
        opt.bos_token = setup.bos_token;
        opt.eos_token = setup.eos_token;
        opt.reasoning_effort = req.reasoning_effort;
        opt.date = today_utc();
        try {
            a.segments = chat::render(*setup.family, req.messages, opt);
        } catch (const chat::TemplateError& e) {
            return refuse(400,
                          invalid_request_body("messages", "chat_template",
                                               std::string("the model's chat template refuses the conversation: ") + e.what()),
                          Outcome::invalid_request);
        }
    }
    const bool chat = kind == OpenAiKind::chat;
    req.exec.job_id = (chat ? "chatcmpl-" : "cmpl-") + compact_uuid();
    OpenAiIdentity id{req.exec.job_id, static_cast<int64_t>(std::time(nullptr)), worker.model_name(),
                      worker.system_fingerprint()};
    a.protocol = std::make_shared<OpenAiProtocol>(req, std::move(id));
    a.request = std::move(req.exec);
    a.ok = true;
    worker.log().info("openai_request", {{"correlation_id", correlation_id},
                                         {"job_id", a.request.job_id},
                                         {"api", chat ? "chat.completions" : "completions"},
                                         {"stream", req.stream}});
    return a;
}

}  // namespace orcd::server
