#include "http_wire_check.h"

#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/asio/buffer.hpp>

#include <nlohmann/json.hpp>

#include <set>

namespace orcd::httptest {
namespace {

namespace http = boost::beast::http;
namespace net = boost::asio;
using nlohmann::json;

bool printable_ascii(std::string_view s) {
    for (unsigned char c : s)
        if (c < 0x20 || c > 0x7E) return false;
    return true;
}

bool is_string(const json& j, const char* key) { return j.contains(key) && j[key].is_string(); }

// The JSON answers of docs/http-api.md.
std::string check_json_body(int status, const std::string& body, const http::fields& headers) {
    const json j = json::parse(body, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return "the body is not a JSON object";
    if (status < 400) return "";
    if (!is_string(j, "code") || !is_string(j, "message") || !j.contains("retriable") || !j["retriable"].is_boolean())
        return "an error body without code, message and retriable";
    const std::string code = j["code"];
    static const std::set<std::string> codes = {"INVALID_REQUEST", "BUSY", "CUDA_ERROR", "INTERNAL",
                                                "NOT_FOUND", "METHOD_NOT_ALLOWED", "VRAM_OOM"};
    if (!codes.count(code)) return "unexpected error code " + code;
    if (code == "INVALID_REQUEST") {
        if (status != 400 && status != 408 && status != 413) return "INVALID_REQUEST with status " + std::to_string(status);
        if (!is_string(j, "field") || !j.contains("errors") || !j["errors"].is_array() || j["errors"].empty())
            return "INVALID_REQUEST without field and errors";
        for (const auto& e : j["errors"])
            if (!e.is_object() || !is_string(e, "field") || !is_string(e, "constraint") || !is_string(e, "message"))
                return "an errors[] entry without field, constraint and message";
        if (j["field"] != j["errors"][0]["field"]) return "field is not the first error's field";
    }
    if (status == 503) {
        if (j["retriable"] != true) return "a 503 that is not retriable";
        if (headers[http::field::retry_after] != "1") return "a 503 without Retry-After: 1";
    }
    if (status == 405) {
        const auto allow = headers[http::field::allow];
        if (allow != "GET" && allow != "POST") return "a 405 without Allow";
    }
    return "";
}

std::string check_metrics_body(const std::string& body) {
    if (body.empty() || body.back() != '\n') return "metrics text does not end with a newline";
    size_t start = 0;
    while (start < body.size()) {
        const size_t end = body.find('\n', start);
        const std::string_view line(body.data() + start, end - start);
        if (line.empty() || !printable_ascii(line)) return "a metrics line that is empty or not printable ASCII";
        if (line[0] != '#' && line.find(' ') == std::string_view::npos) return "a metrics sample without a value";
        start = end + 1;
    }
    return "";
}

}  // namespace

WireCheck check_wire(std::string_view bytes, bool first_answers_head) {
    static const std::set<int> statuses = {100, 200, 202, 400, 404, 405, 408, 413, 500, 503};
    WireCheck out;
    auto fail = [&](const std::string& what) {
        out.error = "response " + std::to_string(out.responses.size() + 1) + ": " + what;
        return out;
    };
    while (!bytes.empty()) {
        http::response_parser<http::string_body> parser;
        parser.eager(true);
        parser.header_limit(64 * 1024);
        parser.body_limit(64 * 1024 * 1024);
        const bool head = first_answers_head && out.responses.empty();
        parser.skip(head);
        boost::beast::error_code ec;
        size_t used = 0;
        while (used < bytes.size() && !parser.is_done()) {
            const size_t n = parser.put(net::buffer(bytes.data() + used, bytes.size() - used), ec);
            if (ec == http::error::need_more) {
                ec = {};
                break;
            }
            if (ec) return fail("not HTTP: " + ec.message());
            used += n;
            if (n == 0) break;
        }
        if (!parser.is_done()) {
            // Only a close-delimited body (an event stream) ends at EOF.
            parser.put_eof(ec);
            if (ec || !parser.is_done()) return fail("cut off or incomplete (" + (ec ? ec.message() : "need more") + ")");
        }
        bytes.remove_prefix(used);
        const auto& res = parser.get();
        // An answer that closes cannot put the next one out of step: when
        // the server could not read the request as a HEAD (it was malformed),
        // its body runs to the close.
        if (head && !res.keep_alive()) bytes = {};
        WireResponse r;
        r.status = static_cast<int>(res.result_int());
        r.content_type = std::string(res[http::field::content_type]);
        r.body = res.body();
        const bool last = bytes.empty();
        if (res.version() != 11 && res.version() != 10) return fail("version " + std::to_string(res.version()));
        if (!statuses.count(r.status)) return fail("unexpected status " + std::to_string(r.status));
        if (r.status == 100) {  // the interim answer to Expect: 100-continue
            if (res.version() != 11) return fail("100 Continue to an HTTP/1.0 client");
            out.responses.push_back(std::move(r));
            continue;
        }
        const auto corr = res["X-Correlation-Id"];
        if (corr.empty() || corr.size() > 128 || !printable_ascii(corr)) return fail("bad X-Correlation-Id");
        if (r.content_type.empty()) return fail("no Content-Type");
        if (head) {
            // the headers only: no body to judge
        } else if (r.content_type == "text/event-stream") {
            if (r.status != 200) return fail("an event stream with status " + std::to_string(r.status));
            if (res.has_content_length() || res.chunked()) return fail("an event stream with a framed body");
            if (!last) return fail("bytes after an event stream");
        } else if (r.content_type == "application/json") {
            if (const auto e = check_json_body(r.status, r.body, res.base()); !e.empty()) return fail(e);
        } else if (r.content_type.rfind("text/plain; version=0.0.4", 0) == 0) {
            if (r.status != 200) return fail("metrics with status " + std::to_string(r.status));
            if (const auto e = check_metrics_body(r.body); !e.empty()) return fail(e);
        } else {
            return fail("unexpected Content-Type " + r.content_type);
        }
        if (!res.has_content_length() && r.content_type != "text/event-stream")
            return fail("a plain answer without Content-Length");
        if (!res.keep_alive() && !last) return fail("bytes after Connection: close");
        out.responses.push_back(std::move(r));
    }
    return out;
}

std::string check_event_stream(std::string_view body, bool complete) {
    static const std::set<std::string> types = {"started", "token", "end", "error"};
    size_t index = 0, tokens = 0;
    bool terminal = false;
    while (!body.empty()) {
        const size_t end = body.find("\n\n");
        if (end == std::string_view::npos) {
            if (complete) return "a cut event at the end of a complete stream";
            break;  // a client that left may see half an event
        }
        const std::string_view ev = body.substr(0, end);
        body.remove_prefix(end + 2);
        const std::string at = "event " + std::to_string(index) + ": ";
        if (ev.rfind("event: ", 0) != 0) return at + "no event: line";
        const size_t nl = ev.find('\n');
        if (nl == std::string_view::npos || ev.substr(nl + 1, 6) != "data: ") return at + "no data: line";
        const std::string type(ev.substr(7, nl - 7));
        const std::string_view data = ev.substr(nl + 7);
        if (data.find('\n') != std::string_view::npos) return at + "more than one data line";
        if (!types.count(type)) return at + "unknown type " + type;
        const json j = json::parse(data, nullptr, false);
        if (j.is_discarded() || !j.is_object()) return at + "data is not a JSON object";
        if (terminal) return at + "an event after the terminal event";
        if ((index == 0) != (type == "started")) return at + "started must come first, and only once";
        if (type == "token") {
            if (!j.contains("t") || !j["t"].is_string() || j["t"].get<std::string>().empty()) return at + "empty t";
            if (!j.contains("i") || j["i"] != tokens) return at + "i out of sequence";
            ++tokens;
        }
        if (type == "error" && (!is_string(j, "code") || !is_string(j, "message"))) return at + "error without code";
        if (type == "end" && !j.contains("stop_reason")) return at + "end without stop_reason";
        terminal = type == "end" || type == "error";
        ++index;
    }
    if (complete && !terminal) return "the stream has no terminal event";
    return "";
}

}  // namespace orcd::httptest
