// Server-Sent Events framing: "event: <type>\ndata: <json>\n\n". The event
// types of /execute are started, token, end and error; nothing else.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace orcd::server {

// Serialises one event. Throws nlohmann::json::type_error when data holds
// invalid UTF-8: a broken character must never reach a client.
std::string sse_event(std::string_view type, const nlohmann::json& data);

// The status line and headers that open a stream. The body is delimited by
// the connection's close, so every HTTP/1.x client reads it as it comes.
std::string sse_response_head(std::string_view correlation_id);

}  // namespace orcd::server
