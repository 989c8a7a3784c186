// The /execute request: every rule of the API checked at once, so a client
// learns all its mistakes from one 400. Messages name constraints only; the
// prompt's value is never copied into them.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace orcd::server {

struct ExecuteRequest {
    std::string job_id;
    std::string prompt;
    std::optional<uint32_t> max_tokens;  // absent: as many as fit, up to --max-tokens-out
    float temperature = 1.0f;
    float top_p = 1.0f;
    int32_t top_k = 0;
    float min_p = 0.0f;
    float repetition_penalty = 1.0f;
    int32_t repetition_last_n = 64;
    std::vector<std::string> stop;
    std::optional<uint64_t> seed;
    bool parse_special = false;  // control tokens written in the prompt are matched
};

struct FieldError {
    std::string field;
    std::string constraint;  // required, type, min_length, max_length, range, max_items, context, ...
    std::string message;
};

struct RequestLimits {
    uint32_t max_tokens_out = 2048;
    uint32_t vocab_size = 0;
    uint32_t context_length = 0;
};

// Fills out from body and returns every violation (empty when valid).
std::vector<FieldError> validate_execute(const nlohmann::json& body, const RequestLimits& limits,
                                         ExecuteRequest& out);

// The body of /cancel: {"job_id": ...} under the same job_id rule as
// /execute. Fills job_id and returns every violation (empty when valid).
std::vector<FieldError> validate_cancel(const nlohmann::json& body, std::string& job_id);

// The code points that begin in utf8: its bytes that are not continuation
// bytes. For valid UTF-8 text, its code points; a character split across
// pieces counts once, in the piece holding its lead byte.
size_t count_code_points(std::string_view utf8);

// A job id is 1..kMaxJobIdChars visible ASCII characters (0x21-0x7E): it
// travels into log lines, the `started` event and the orchestrator's own
// records, where control characters, spaces or escape sequences could
// forge or corrupt a line.
bool is_valid_job_id(std::string_view id);

constexpr size_t kMaxJobIdChars = 256;
constexpr size_t kMaxPromptChars = 32768;
constexpr size_t kMaxStopSequences = 4;
constexpr size_t kMaxStopChars = 128;

}  // namespace orcd::server
