#include "http_stream.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <stdexcept>

namespace orcd::bench {
namespace {

using nlohmann::json;

std::string lower(std::string s) {
    for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// The value of a field line: after "name:", one optional space dropped.
std::string field_value(const std::string& line, size_t colon) {
    size_t at = colon + 1;
    if (at < line.size() && line[at] == ' ') ++at;
    return line.substr(at);
}

uint32_t count_of(const json& j, const char* key, const char* nested_in = nullptr, const char* nested_key = nullptr) {
    if (const auto it = j.find(key); it != j.end() && it->is_number()) return it->get<uint32_t>();
    if (nested_in)
        if (const auto n = j.find(nested_in); n != j.end() && n->is_object())
            if (const auto it = n->find(nested_key); it != n->end() && it->is_number()) return it->get<uint32_t>();
    return 0;
}

}  // namespace

void HttpEventStream::feed(const char* data, size_t n) {
    raw_.append(data, n);
    if (!head_done_) {
        const size_t end = raw_.find("\r\n\r\n");
        if (end == std::string::npos) {
            if (raw_.size() > 65536) throw std::runtime_error("no end of the HTTP head in 64 KiB");
            return;
        }
        parse_head();
    }
    if (chunked_) {
        dechunk();
    } else {
        body_ += raw_;
        raw_.clear();
    }
    // SSE lines may end in CRLF; JSON data never holds a raw CR.
    body_.erase(std::remove(body_.begin(), body_.end(), '\r'), body_.end());
}

void HttpEventStream::parse_head() {
    const size_t end = raw_.find("\r\n\r\n");
    const std::string head = raw_.substr(0, end);
    raw_.erase(0, end + 4);
    if (std::sscanf(head.c_str(), "HTTP/%*d.%*d %d", &status_) != 1)
        throw std::runtime_error("not an HTTP response: " + head.substr(0, 200));
    const std::string h = lower(head);
    chunked_ = h.find("\r\ntransfer-encoding: chunked") != std::string::npos;
    head_done_ = true;
}

void HttpEventStream::dechunk() {
    while (!body_done_) {
        if (!in_chunk_) {
            const size_t eol = raw_.find("\r\n");
            if (eol == std::string::npos) return;
            const std::string line = raw_.substr(0, eol);
            size_t size = 0;
            if (std::sscanf(line.c_str(), "%zx", &size) != 1)
                throw std::runtime_error("bad chunk size line '" + line.substr(0, 40) + "'");
            raw_.erase(0, eol + 2);
            if (size == 0) {
                body_done_ = true;  // trailers, if any, are of no interest
                return;
            }
            chunk_left_ = size;
            in_chunk_ = true;
        }
        const size_t take = std::min(chunk_left_, raw_.size());
        body_.append(raw_, 0, take);
        raw_.erase(0, take);
        chunk_left_ -= take;
        if (chunk_left_ > 0 || raw_.size() < 2) return;  // more data, or the chunk's CRLF, to come
        if (raw_.compare(0, 2, "\r\n") != 0) throw std::runtime_error("a chunk does not end with CRLF");
        raw_.erase(0, 2);
        in_chunk_ = false;
    }
}

bool HttpEventStream::next_event(std::string& type, std::string& data) {
    const size_t end = body_.find("\n\n");
    if (end == std::string::npos) return false;
    const std::string block = body_.substr(0, end);
    body_.erase(0, end + 2);
    type.clear();
    data.clear();
    size_t at = 0;
    while (at <= block.size()) {
        size_t nl = block.find('\n', at);
        if (nl == std::string::npos) nl = block.size();
        const std::string line = block.substr(at, nl - at);
        at = nl + 1;
        const size_t colon = line.find(':');
        if (colon == std::string::npos || colon == 0) continue;  // comments (":...") and bare names
        const std::string name = line.substr(0, colon);
        if (name == "event") type = field_value(line, colon);
        else if (name == "data") data += field_value(line, colon);
        else {
            // llama-server writes a failure as an "error: {...}" line.
            type = name;
            data = field_value(line, colon);
        }
    }
    return true;
}

StreamEvent interpret_event(Dialect d, const std::string& type, const std::string& data) {
    StreamEvent ev;
    if (type == "error") {
        ev.kind = StreamEvent::Error;
        ev.message = data;
        return ev;
    }
    if (d == Dialect::Execute) {
        const json j = json::parse(data, nullptr, false);
        if (type == "token") {
            ev.kind = StreamEvent::Token;
        } else if (type == "started") {
            ev.kind = StreamEvent::Started;
            if (j.is_object()) ev.prompt_tokens = count_of(j, "prompt_tokens");
        } else if (type == "end") {
            ev.kind = StreamEvent::End;
            if (j.is_object()) {
                ev.tokens_out = count_of(j, "tokens_out");
                ev.stop_reason = j.value("stop_reason", std::string());
            }
        }
        return ev;
    }
    const json j = json::parse(data, nullptr, false);
    if (!j.is_object()) return ev;  // e.g. an OpenAI-style "[DONE]"
    if (j.contains("error")) {
        ev.kind = StreamEvent::Error;
        ev.message = j["error"].dump();
        return ev;
    }
    if (j.value("stop", false)) {
        ev.kind = StreamEvent::End;
        ev.tokens_out = count_of(j, "tokens_predicted", "timings", "predicted_n");
        ev.prompt_tokens = count_of(j, "tokens_evaluated", "timings", "prompt_n");
        ev.stop_reason = j.value("stop_type", std::string());
        return ev;
    }
    const auto content = j.find("content");
    if (content != j.end() && content->is_string() && !content->get_ref<const std::string&>().empty())
        ev.kind = StreamEvent::Token;
    return ev;
}

}  // namespace orcd::bench
