// How one kind of endpoint frames a job: /execute's SSE events, or OpenAI's
// chunks and completion objects. The inference thread walks every job the
// same way (execute_runner.cpp) and asks the protocol for the bytes of each
// moment; rejections before the stream are built in /execute's shape and
// translated here, so one set of checks serves every endpoint.
#pragma once

#include <orcd/orcd.h>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace orcd::server {

struct Rejection {
    unsigned http_status = 400;
    nlohmann::json body;
    bool retry_after = false;
};

struct JobStarted {
    std::string correlation_id;
    std::string model;
    uint64_t seed = 0;
    uint32_t prompt_tokens = 0;
};

// A token's alternatives, when the protocol asked for logprobs.
struct TokenChoice {
    int32_t token = -1;
    float logprob = 0;
    std::string text;   // the token's text, UTF-8 repaired
    std::string bytes;  // the raw bytes it decodes to
};
struct StepLogprobs {
    TokenChoice chosen;
    std::vector<TokenChoice> top;
};

struct JobStep {
    std::string text;  // complete UTF-8, possibly empty
    bool has_logprobs = false;
    StepLogprobs logprobs;
};

struct JobEnded {
    orcd_job_stats stats{};
    std::string stop_sequence;  // the matched stop string, if any
};

class JobProtocol {
public:
    virtual ~JobProtocol() = default;
    // Adds the protocol's own settings to the engine parameters.
    virtual void configure(orcd_job_params& params) const { (void)params; }
    virtual bool wants_logprobs() const { return false; }
    // Turns an /execute-shaped error answer ({code, message, retriable,
    // field?}) with its status into this protocol's answer.
    virtual Rejection reject(unsigned http_status, const nlohmann::json& execute_body) const = 0;
    // The bytes that open the response, then those of each moment. An empty
    // string sends nothing. Throws nlohmann::json::exception on text that is
    // not valid UTF-8.
    virtual std::string head(const std::string& correlation_id) = 0;
    virtual std::string started(const JobStarted& s) = 0;
    virtual std::string step(const JobStep& s) = 0;
    virtual std::string ended(const JobEnded& e) = 0;
    // A failure after the job started; `extra` carries fields such as vram_used.
    virtual std::string failed(orcd_status code, const std::string& message, const nlohmann::json& extra) = 0;
};

}  // namespace orcd::server
