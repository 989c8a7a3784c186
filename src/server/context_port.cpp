#include "context_port.h"

#include "health.h"

namespace orcd::server {

using nlohmann::json;

Status ContextPort::status() const { return ctx_.state.status(); }

RequestLimits ContextPort::request_limits() const {
    const ModelFacts& facts = ctx_.state.facts();
    return RequestLimits{ctx_.config.max_tokens_out, facts.vocab_size, facts.context_length};
}

json ContextPort::health() { return health_document(ctx_.state); }

std::string ContextPort::metrics_text() {
    const MemoryReading mem = ctx_.state.memory();
    return ctx_.metrics.render(mem.bytes_used, ctx_.state.busy(), ctx_.state.uptime_seconds(), mem.device_free_bytes,
                               mem.device_total_bytes);
}

std::optional<json> ContextPort::models() {
    if (!ctx_.state.model()) return std::nullopt;
    const ModelFacts& f = ctx_.state.facts();
    json model = {{"id", f.name},
                  {"object", "model"},
                  {"created", 0},
                  {"owned_by", "worker-orcd"},
                  {"context_length", f.context_length},
                  {"architecture", f.architecture},
                  {"weight_format", f.weight_format},
                  {"chat_template", f.chat.family ? json(chat::family_name(*f.chat.family)) : json()}};
    return json{{"object", "list"}, {"data", json::array({std::move(model)})}};
}

std::string ContextPort::model_name() const { return ctx_.state.facts().name; }

// "orcd-<commit>-<weight format>": the build and the weights an answer came from.
std::string ContextPort::system_fingerprint() const {
    return std::string("orcd-") + orcd_build_commit() + "-" + ctx_.state.facts().weight_format;
}

const ChatSetup& ContextPort::chat() const { return ctx_.state.facts().chat; }

bool ContextPort::cancel_job(const std::string& job_id) { return ctx_.state.cancel_job_id(job_id); }

void ContextPort::request_shutdown() { ctx_.request_shutdown("http"); }

void ContextPort::count_request(Outcome outcome) { ctx_.metrics.count_request(outcome); }

Logger& ContextPort::log() { return ctx_.log; }

}  // namespace orcd::server
