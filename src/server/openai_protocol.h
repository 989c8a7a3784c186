// OpenAI's framing of a job: chat.completion / text_completion objects, or
// their chunks as `data: {...}` SSE lines ending with `data: [DONE]`; errors
// as {"error": {"message", "type", "param", "code"}} with the worker's stable
// code in `code`, and BUSY as 429 with Retry-After (what OpenAI clients retry).
#pragma once

#include "job_protocol.h"
#include "openai_request.h"

#include <cstdint>
#include <string>
#include <vector>

namespace orcd::server {

// What every answer of one request repeats.
struct OpenAiIdentity {
    std::string id;                  // chatcmpl-... / cmpl-...
    int64_t created = 0;             // Unix seconds
    std::string model;
    std::string system_fingerprint;  // build commit and weight format
};

// The OpenAI error answer for an /execute-shaped error body and its status.
Rejection openai_rejection(unsigned http_status, const nlohmann::json& execute_body);
// {"error": {...}} for a code, message and the offending field (empty: null).
nlohmann::json openai_error_body(unsigned http_status, const std::string& code, const std::string& message,
                                 const std::string& param);

class OpenAiProtocol final : public JobProtocol {
public:
    OpenAiProtocol(const OpenAiRequest& req, OpenAiIdentity identity);

    void configure(orcd_job_params& params) const override;
    bool wants_logprobs() const override { return logprobs_; }
    Rejection reject(unsigned http_status, const nlohmann::json& execute_body) const override;
    std::string head(const std::string& correlation_id) override;
    std::string started(const JobStarted& s) override;
    std::string step(const JobStep& s) override;
    std::string ended(const JobEnded& e) override;
    std::string failed(orcd_status code, const std::string& message, const nlohmann::json& extra) override;

private:
    bool chat() const { return kind_ == OpenAiKind::chat; }
    // One choice's text and logprobs, in a chunk or the final object.
    nlohmann::json choice(const std::string& text, const nlohmann::json& finish_reason, bool final_object);
    nlohmann::json envelope(const char* object) const;
    nlohmann::json take_logprobs();
    nlohmann::json usage() const;
    std::string chunk(nlohmann::json c) const;
    std::string response(unsigned status, const nlohmann::json& body, bool retry_after) const;

    OpenAiKind kind_;
    bool stream_, include_usage_, logprobs_;
    uint32_t top_logprobs_;
    float presence_, frequency_;
    OpenAiIdentity id_;
    std::string correlation_id_;
    uint32_t prompt_tokens_ = 0, completion_tokens_ = 0;
    // A token's logprobs wait until the client has its text's first byte:
    // they go with the chunk (or answer) whose text reaches the token's
    // start, and a token whose text the client never gets (inside a matched
    // stop string, or an end token without text) is dropped at the end. A
    // token's start is counted in the bytes the job decodes (the tokens'
    // own bytes in order); the text sent is those bytes, cut at a stop
    // string, and never shorter where it repairs invalid UTF-8.
    struct PendingLogprobs {
        StepLogprobs step;
        uint64_t start_byte;   // in the decoded bytes
        uint64_t text_offset;  // completions' text_offset: code points before the token
    };
    std::string text_;                      // everything generated (non-streaming answer)
    std::vector<PendingLogprobs> pending_;  // logprobs not yet sent
    uint64_t decoded_bytes_ = 0;            // the tokens' bytes so far
    uint64_t decoded_code_points_ = 0;      // code points begun in them
    uint64_t sent_bytes_ = 0;               // text the client has (or the answer will carry)
};

}  // namespace orcd::server
