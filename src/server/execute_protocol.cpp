#include "execute_protocol.h"

#include "sse.h"
#include "json_log.h"

namespace orcd::server {

using nlohmann::json;

const char* stop_reason_name(orcd_stop_reason r) {
    switch (r) {
        case ORCD_STOP_MAX_TOKENS: return "max_tokens";
        case ORCD_STOP_EOS: return "eos";
        case ORCD_STOP_SEQUENCE: return "stop_sequence";
        case ORCD_STOP_NONE: break;
    }
    return "none";
}

Rejection ExecuteProtocol::reject(unsigned http_status, const json& execute_body) const {
    return {http_status, execute_body, http_status == 503};
}

std::string ExecuteProtocol::head(const std::string& correlation_id) { return sse_response_head(correlation_id); }

std::string ExecuteProtocol::started(const JobStarted& s) {
    return sse_event("started", {{"job_id", job_id_},
                                 {"correlation_id", s.correlation_id},
                                 {"model", s.model},
                                 {"seed", s.seed},
                                 {"prompt_tokens", s.prompt_tokens},
                                 {"started_at", utc_timestamp()}});
}

std::string ExecuteProtocol::step(const JobStep& s) {
    if (s.text.empty()) return {};
    std::string out = sse_event("token", {{"t", s.text}, {"i", events_}});
    ++events_;
    return out;
}

std::string ExecuteProtocol::ended(const JobEnded& e) {
    const orcd_job_stats& st = e.stats;
    json end = {{"tokens_out", st.tokens_out},
                {"stop_reason", stop_reason_name(st.stop_reason)},
                {"prefill_time_ms", st.prefill_ms},
                {"decode_time_ms", st.decode_ms},
                {"tokens_per_sec", st.decode_ms > 0 ? st.tokens_out * 1000.0 / st.decode_ms : 0.0}};
    if (!e.stop_sequence.empty()) end["stop_sequence_matched"] = e.stop_sequence;
    return sse_event("end", end);
}

std::string ExecuteProtocol::failed(orcd_status code, const std::string& message, const json& extra) {
    json err = {{"code", orcd_error_name(code)}, {"message", message}, {"retriable", orcd_error_retriable(code) != 0}};
    err.update(extra);
    return sse_event("error", err);
}

}  // namespace orcd::server
