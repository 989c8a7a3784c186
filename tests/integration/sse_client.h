// Server-Sent Events on the client side: an incremental parser and an
// /execute stream that yields events as they arrive.
#pragma once

#include "http_client.h"

#include <nlohmann/json.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace orcd::itest {

struct SseEvent {
    std::string type;  // the `event:` field ("message" when absent)
    std::string data;  // the `data:` lines joined by '\n'
    nlohmann::json json() const { return nlohmann::json::parse(data); }
};

// Feed bytes as they come; complete events come out (split lines and CRLF
// line ends are handled).
class SseParser {
public:
    std::vector<SseEvent> feed(std::string_view bytes);
    // Bytes of an unfinished event (non-empty when a stream was cut).
    bool has_partial() const { return !line_.empty() || !data_.empty() || !type_.empty(); }

private:
    void line(std::string_view l, std::vector<SseEvent>& out);
    std::string line_;
    std::string type_;
    std::string data_;
    bool has_data_ = false;
};

class ExecuteStream {
public:
    ExecuteStream(uint16_t port, const nlohmann::json& body, const Headers& headers = {},
                  std::chrono::milliseconds head_timeout = 30s);
    const HttpResponse& head() const { return head_; }
    int status() const { return head_.status; }
    bool is_stream() const;
    // For an answer that is not a stream: its whole body.
    std::string read_body(std::chrono::milliseconds timeout = 30s);
    // The next event, or nullopt once the server closed the stream.
    std::optional<SseEvent> next(std::chrono::milliseconds timeout = 30s);
    // Everything up to the end of the stream.
    std::vector<SseEvent> rest(std::chrono::milliseconds timeout = 60s);
    // Drops the connection (RST when reset is set).
    void disconnect(bool reset = false) { conn_->close(reset); }
    bool ended_cleanly() const { return eof_ && !parser_.has_partial(); }

private:
    std::unique_ptr<Connection> conn_;
    HttpResponse head_;
    SseParser parser_;
    std::vector<SseEvent> queue_;
    size_t queue_pos_ = 0;
    bool eof_ = false;
};

struct StreamResult {
    HttpResponse head;               // status and headers
    std::vector<SseEvent> events;    // when head.status == 200
    bool ended_cleanly = false;      // the stream closed after a whole event
    nlohmann::json error_body;       // when head.status != 200
};

// POSTs /execute and reads the whole answer.
StreamResult execute(uint16_t port, const nlohmann::json& body, const Headers& headers = {},
                     std::chrono::milliseconds timeout = 120s);

}  // namespace orcd::itest
