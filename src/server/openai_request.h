// The bodies of POST /v1/chat/completions and /v1/completions: every rule
// checked at once, like /execute's, into the engine's request plus the
// OpenAI-only settings. Fields OpenAI defines but the worker cannot honour
// (n > 1, tools, echo, logit_bias, ...) are refused by name, never ignored;
// `user` and unknown fields are ignored.
#pragma once

#include "chat/chat_template.h"
#include "request_validation.h"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace orcd::server {

enum class OpenAiKind { chat, completion };

struct OpenAiRequest {
    OpenAiKind kind = OpenAiKind::chat;
    ExecuteRequest exec;                 // sampling, stop, max_tokens, prompt (completions)
    std::vector<chat::Message> messages; // chat
    std::string reasoning_effort;        // chat, harmony templates
    bool stream = false;
    bool include_usage = false;
    bool logprobs = false;
    uint32_t top_logprobs = 0;
    float presence_penalty = 0.0f;
    float frequency_penalty = 0.0f;
};

std::vector<FieldError> validate_openai(OpenAiKind kind, const nlohmann::json& body, const RequestLimits& limits,
                                        OpenAiRequest& out);

constexpr size_t kMaxMessages = 1024;
constexpr uint32_t kMaxTopLogprobs = 20;

}  // namespace orcd::server
