// Assertions about /execute streams shared by the integration tests.
#pragma once

#include "sse_client.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace orcd::itest {

// `started` first; then `token` events whose `i` run 0..n-1 with non-empty
// `t`; exactly one terminal event (`end` or `error`), last; no other types;
// every data line is a JSON object.
::testing::AssertionResult well_formed(const std::vector<SseEvent>& events);

// The concatenated `t` of the token events.
std::string generated_text(const std::vector<SseEvent>& events);
// Number of token events.
size_t token_count(const std::vector<SseEvent>& events);
// The terminal event's JSON (null when there is none).
nlohmann::json terminal_data(const std::vector<SseEvent>& events);
std::string terminal_type(const std::vector<SseEvent>& events);

bool is_valid_utf8(std::string_view s);

// An /execute body with the given job id and prompt, plus extra fields.
nlohmann::json exec_body(const std::string& job_id, const std::string& prompt,
                         const nlohmann::json& extra = nlohmann::json::object());

// A prompt for which a long generation stays in the context: generating
// max_tokens 2000 takes the CPU backend a second or more.
inline const char* kShortPrompt = "Once upon a time";
constexpr int kLongMaxTokens = 2000;

}  // namespace orcd::itest
