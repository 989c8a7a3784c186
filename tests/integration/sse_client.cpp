#include "sse_client.h"

#include <stdexcept>

namespace orcd::itest {

std::vector<SseEvent> SseParser::feed(std::string_view bytes) {
    std::vector<SseEvent> out;
    for (char c : bytes) {
        if (c == '\n') {
            std::string_view l = line_;
            if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
            line(l, out);
            line_.clear();
        } else {
            line_.push_back(c);
        }
    }
    return out;
}

void SseParser::line(std::string_view l, std::vector<SseEvent>& out) {
    if (l.empty()) {
        if (has_data_ || !type_.empty()) out.push_back({type_.empty() ? "message" : type_, data_});
        type_.clear();
        data_.clear();
        has_data_ = false;
        return;
    }
    if (l.front() == ':') return;  // comment
    const size_t colon = l.find(':');
    std::string_view field = l.substr(0, colon);
    std::string_view value = colon == std::string_view::npos ? std::string_view() : l.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (field == "event") {
        type_ = value;
    } else if (field == "data") {
        if (has_data_) data_.push_back('\n');
        data_.append(value);
        has_data_ = true;
    }
}

ExecuteStream::ExecuteStream(uint16_t port, const nlohmann::json& body, const Headers& headers,
                             std::chrono::milliseconds head_timeout)
    : conn_(std::make_unique<Connection>(port, head_timeout)) {
    Headers all = headers;
    all.emplace_back("Content-Type", "application/json");
    conn_->send_all(build_request("POST", "/execute", body.dump(), all));
    head_ = conn_->read_head(head_timeout);
    if (is_stream()) queue_ = parser_.feed(conn_->take_pending());
}

bool ExecuteStream::is_stream() const {
    return head_.status == 200 && head_.header("content-type").rfind("text/event-stream", 0) == 0;
}

std::string ExecuteStream::read_body(std::chrono::milliseconds timeout) {
    std::string body = conn_->take_pending();
    const size_t len = head_.has_header("content-length") ? std::stoul(head_.header("content-length")) : SIZE_MAX;
    while (body.size() < len) {
        std::string chunk = conn_->recv_some(timeout);
        if (chunk.empty()) break;
        body += chunk;
    }
    return body;
}

std::optional<SseEvent> ExecuteStream::next(std::chrono::milliseconds timeout) {
    while (queue_pos_ >= queue_.size()) {
        if (eof_) return std::nullopt;
        queue_.clear();
        queue_pos_ = 0;
        std::string chunk = conn_->recv_some(timeout);
        if (chunk.empty()) {
            eof_ = true;
            continue;
        }
        queue_ = parser_.feed(chunk);
    }
    return queue_[queue_pos_++];
}

std::vector<SseEvent> ExecuteStream::rest(std::chrono::milliseconds timeout) {
    std::vector<SseEvent> out;
    while (auto ev = next(timeout)) out.push_back(std::move(*ev));
    return out;
}

StreamResult execute(uint16_t port, const nlohmann::json& body, const Headers& headers,
                     std::chrono::milliseconds timeout) {
    ExecuteStream s(port, body, headers, timeout);
    StreamResult r;
    r.head = s.head();
    if (s.is_stream()) {
        r.events = s.rest(timeout);
        r.ended_cleanly = s.ended_cleanly();
    } else {
        r.head.body = s.read_body(timeout);
        r.error_body = nlohmann::json::parse(r.head.body, nullptr, false);
    }
    return r;
}

}  // namespace orcd::itest
