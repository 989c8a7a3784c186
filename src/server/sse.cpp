#include "sse.h"

namespace orcd::server {

std::string sse_event(std::string_view type, const nlohmann::json& data) {
    std::string out = "event: ";
    out.append(type);
    out.append("\ndata: ");
    out.append(data.dump());
    out.append("\n\n");
    return out;
}

std::string sse_response_head(std::string_view correlation_id) {
    std::string out =
        "HTTP/1.1 200 OK\r\n"
        "Content-Type: text/event-stream\r\n"
        "Cache-Control: no-cache\r\n"
        "Connection: close\r\n"
        "X-Accel-Buffering: no\r\n"
        "X-Correlation-Id: ";
    out.append(correlation_id);
    out.append("\r\n\r\n");
    return out;
}

}  // namespace orcd::server
