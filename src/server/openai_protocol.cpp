#include "openai_protocol.h"

#include "request_validation.h"
#include "sse.h"

#include <cmath>

namespace orcd::server {
namespace {

using nlohmann::json;

const char* error_type(unsigned status) {
    if (status == 429) return "rate_limit_error";
    return status >= 500 ? "server_error" : "invalid_request_error";
}

const char* reason_phrase(unsigned status) {
    switch (status) {
        case 200: return "OK";
        case 400: return "Bad Request";
        case 429: return "Too Many Requests";
        case 500: return "Internal Server Error";
        case 503: return "Service Unavailable";
        default: return "Error";
    }
}

// JSON has no -inf: a probability that underflowed reads as OpenAI's floor.
double finite_logprob(float lp) { return std::isfinite(lp) ? double(lp) : -9999.0; }

json bytes_array(const std::string& bytes) {
    json a = json::array();
    for (unsigned char c : bytes) a.push_back(int(c));
    return a;
}

json chat_token(const TokenChoice& t) {
    return {{"token", t.text}, {"logprob", finite_logprob(t.logprob)}, {"bytes", bytes_array(t.bytes)}};
}

}  // namespace

json openai_error_body(unsigned http_status, const std::string& code, const std::string& message,
                       const std::string& param) {
    return {{"error",
             {{"message", message},
              {"type", error_type(http_status)},
              {"param", param.empty() ? json() : json(param)},
              {"code", code}}}};
}

Rejection openai_rejection(unsigned http_status, const json& execute_body) {
    const std::string code = execute_body.value("code", "INTERNAL");
    // BUSY (another job holds the slot) is a rate limit to OpenAI clients:
    // 429 is what their retry logic waits on.
    const unsigned status = code == "BUSY" ? 429 : http_status;
    return {status, openai_error_body(status, code, execute_body.value("message", ""), execute_body.value("field", "")),
            status == 429 || status == 503};
}

OpenAiProtocol::OpenAiProtocol(const OpenAiRequest& req, OpenAiIdentity identity)
    : kind_(req.kind),
      stream_(req.stream),
      include_usage_(req.include_usage),
      logprobs_(req.logprobs),
      top_logprobs_(req.top_logprobs),
      presence_(req.presence_penalty),
      frequency_(req.frequency_penalty),
      id_(std::move(identity)) {}

void OpenAiProtocol::configure(orcd_job_params& params) const {
    params.presence_penalty = presence_;
    params.frequency_penalty = frequency_;
    params.logprobs = logprobs_ ? 1 : 0;
    params.top_logprobs = static_cast<int32_t>(top_logprobs_);
}

Rejection OpenAiProtocol::reject(unsigned http_status, const json& execute_body) const {
    return openai_rejection(http_status, execute_body);
}

std::string OpenAiProtocol::head(const std::string& correlation_id) {
    correlation_id_ = correlation_id;
    return stream_ ? sse_response_head(correlation_id) : std::string();
}

json OpenAiProtocol::envelope(const char* object) const {
    return {{"id", id_.id},
            {"object", object},
            {"created", id_.created},
            {"model", id_.model},
            {"system_fingerprint", id_.system_fingerprint}};
}

json OpenAiProtocol::usage() const {
    return {{"prompt_tokens", prompt_tokens_},
            {"completion_tokens", completion_tokens_},
            {"total_tokens", prompt_tokens_ + completion_tokens_}};
}

// The logprobs of the tokens whose text the client has by now (their start
// is below sent_bytes_), in the endpoint's format; the others stay pending.
json OpenAiProtocol::take_logprobs() {
    if (!logprobs_) return nullptr;
    size_t n = 0;
    while (n < pending_.size() && pending_[n].start_byte < sent_bytes_) ++n;
    json out;
    if (chat()) {
        json content = json::array();
        for (size_t i = 0; i < n; ++i) {
            const StepLogprobs& s = pending_[i].step;
            json t = chat_token(s.chosen);
            t["top_logprobs"] = json::array();
            for (const TokenChoice& c : s.top) t["top_logprobs"].push_back(chat_token(c));
            content.push_back(std::move(t));
        }
        out = {{"content", std::move(content)}};
    } else {
        out = {{"tokens", json::array()}, {"token_logprobs", json::array()}, {"top_logprobs", json::array()},
               {"text_offset", json::array()}};
        for (size_t i = 0; i < n; ++i) {
            const StepLogprobs& s = pending_[i].step;
            out["tokens"].push_back(s.chosen.text);
            out["token_logprobs"].push_back(finite_logprob(s.chosen.logprob));
            json top = json::object();
            for (const TokenChoice& c : s.top) top[c.text] = finite_logprob(c.logprob);
            out["top_logprobs"].push_back(std::move(top));
            out["text_offset"].push_back(pending_[i].text_offset);
        }
    }
    pending_.erase(pending_.begin(), pending_.begin() + std::ptrdiff_t(n));
    return out;
}

json OpenAiProtocol::choice(const std::string& text, const json& finish_reason, bool final_object) {
    json c = {{"index", 0}};
    if (chat()) {
        if (final_object) c["message"] = {{"role", "assistant"}, {"content", text}};
        else c["delta"] = text.empty() ? json::object() : json{{"content", text}};
    } else {
        c["text"] = text;
    }
    c["logprobs"] = take_logprobs();
    c["finish_reason"] = finish_reason;
    return c;
}

std::string OpenAiProtocol::chunk(json c) const {
    if (include_usage_ && !c.contains("usage")) c["usage"] = nullptr;
    return "data: " + c.dump() + "\n\n";
}

std::string OpenAiProtocol::response(unsigned status, const json& body, bool retry_after) const {
    const std::string payload = body.dump();
    std::string out = "HTTP/1.1 " + std::to_string(status) + " " + reason_phrase(status) +
                      "\r\nServer: worker-orcd\r\nContent-Type: application/json\r\nConnection: close\r\n"
                      "X-Correlation-Id: " + correlation_id_ + "\r\n";
    if (retry_after) out += "Retry-After: 1\r\n";
    out += "Content-Length: " + std::to_string(payload.size()) + "\r\n\r\n" + payload;
    return out;
}

std::string OpenAiProtocol::started(const JobStarted& s) {
    prompt_tokens_ = s.prompt_tokens;
    if (!stream_ || !chat()) return {};
    // The first chat chunk names the role, as OpenAI's do.
    json c = envelope("chat.completion.chunk");
    json first = {{"index", 0}, {"delta", {{"role", "assistant"}, {"content", ""}}}, {"logprobs", nullptr},
                  {"finish_reason", nullptr}};
    c["choices"] = json::array({first});
    return chunk(std::move(c));
}

std::string OpenAiProtocol::step(const JobStep& s) {
    ++completion_tokens_;
    if (s.has_logprobs) {
        pending_.push_back({s.logprobs, decoded_bytes_, decoded_code_points_});
        decoded_bytes_ += s.logprobs.chosen.bytes.size();
        decoded_code_points_ += count_code_points(s.logprobs.chosen.bytes);
    }
    sent_bytes_ += s.text.size();
    if (!stream_) {
        text_ += s.text;
        return {};
    }
    if (s.text.empty()) return {};  // held back (a split character or a possible stop string)
    json c = envelope(chat() ? "chat.completion.chunk" : "text_completion");
    c["choices"] = json::array({choice(s.text, nullptr, false)});
    return chunk(std::move(c));
}

std::string OpenAiProtocol::ended(const JobEnded& e) {
    prompt_tokens_ = e.stats.prompt_tokens;
    completion_tokens_ = e.stats.tokens_out;
    const char* finish = e.stats.stop_reason == ORCD_STOP_MAX_TOKENS ? "length" : "stop";
    if (!stream_) {
        json body = envelope(chat() ? "chat.completion" : "text_completion");
        body["choices"] = json::array({choice(text_, finish, true)});
        body["usage"] = usage();
        pending_.clear();  // tokens whose text was never sent (a stop string, an end token)
        return response(200, body, false);
    }
    json last = envelope(chat() ? "chat.completion.chunk" : "text_completion");
    last["choices"] = json::array({choice("", finish, false)});
    pending_.clear();
    std::string out = chunk(std::move(last));
    if (include_usage_) {
        json u = envelope(chat() ? "chat.completion.chunk" : "text_completion");
        u["choices"] = json::array();
        u["usage"] = usage();
        out += chunk(std::move(u));
    }
    return out + "data: [DONE]\n\n";
}

std::string OpenAiProtocol::failed(orcd_status code, const std::string& message, const json& extra) {
    const unsigned status = code == ORCD_INVALID_REQUEST ? 400 : orcd_error_retriable(code) ? 503 : 500;
    json body = openai_error_body(status, orcd_error_name(code), message, "");
    body["error"].update(extra);
    if (!stream_) return response(status, body, status == 503);
    // Mid-stream there is no status to change: the error is the last event.
    return "data: " + body.dump() + "\n\n";
}

}  // namespace orcd::server
