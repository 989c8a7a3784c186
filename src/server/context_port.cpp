#include "context_port.h"

#include "health.h"

namespace orcd::server {

Status ContextPort::status() const { return ctx_.state.status(); }

RequestLimits ContextPort::request_limits() const {
    const ModelFacts& facts = ctx_.state.facts();
    return RequestLimits{ctx_.config.max_tokens_out, facts.vocab_size, facts.context_length};
}

nlohmann::json ContextPort::health() { return health_document(ctx_.state); }

std::string ContextPort::metrics_text() {
    const MemoryReading mem = ctx_.state.memory();
    return ctx_.metrics.render(mem.bytes_used, ctx_.state.busy(), ctx_.state.uptime_seconds(), mem.device_free_bytes,
                               mem.device_total_bytes);
}

bool ContextPort::cancel_job(const std::string& job_id) { return ctx_.state.cancel_job_id(job_id); }

void ContextPort::request_shutdown() { ctx_.request_shutdown("http"); }

void ContextPort::count_request(Outcome outcome) { ctx_.metrics.count_request(outcome); }

Logger& ContextPort::log() { return ctx_.log; }

}  // namespace orcd::server
