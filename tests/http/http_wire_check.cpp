#include "http_wire_check.h"

#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/asio/buffer.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <optional>
#include <set>
#include <stdexcept>

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

const std::set<std::string>& error_codes() {
    // The C API's codes a request can end with, and the HTTP layer's own two.
    static const std::set<std::string> codes = {"INVALID_REQUEST", "BUSY",      "CUDA_ERROR", "INTERNAL",
                                                "VRAM_OOM",        "CANCELLED", "INFERENCE_TIMEOUT",
                                                "NOT_FOUND",       "METHOD_NOT_ALLOWED"};
    return codes;
}

// What every error answer obeys, whatever its shape.
std::string check_error_status(int status, const std::string& code, bool retriable, const http::fields& headers) {
    if (!error_codes().count(code)) return "unexpected error code " + code;
    if (code == "INVALID_REQUEST" && status != 400 && status != 408 && status != 413)
        return "INVALID_REQUEST with status " + std::to_string(status);
    if (code == "NOT_FOUND" && status != 404) return "NOT_FOUND with status " + std::to_string(status);
    if (code == "METHOD_NOT_ALLOWED" && status != 405) return "METHOD_NOT_ALLOWED with status " + std::to_string(status);
    if (status == 503 || status == 429) {
        if (!retriable) return "a " + std::to_string(status) + " that is not retriable";
        if (headers[http::field::retry_after] != "1") return "a " + std::to_string(status) + " without Retry-After: 1";
    }
    if (status == 405) {
        const auto allow = headers[http::field::allow];
        if (allow != "GET" && allow != "POST") return "a 405 without Allow";
    }
    return "";
}

// /execute's error shape: {code, message, retriable, field?, errors?}.
std::string check_execute_error(int status, const json& j, const http::fields& headers) {
    if (!is_string(j, "code") || !is_string(j, "message") || !j.contains("retriable") || !j["retriable"].is_boolean())
        return "an error body without code, message and retriable";
    const std::string code = j["code"];
    if (status == 429) return "a 429 in /execute's shape (BUSY is 503 there)";
    if (const auto e = check_error_status(status, code, j["retriable"] == true, headers); !e.empty()) return e;
    if (code == "INVALID_REQUEST") {
        if (!is_string(j, "field") || !j.contains("errors") || !j["errors"].is_array() || j["errors"].empty())
            return "INVALID_REQUEST without field and errors";
        for (const auto& e : j["errors"])
            if (!e.is_object() || !is_string(e, "field") || !is_string(e, "constraint") || !is_string(e, "message"))
                return "an errors[] entry without field, constraint and message";
        if (j["field"] != j["errors"][0]["field"]) return "field is not the first error's field";
    }
    return "";
}

// OpenAI's error object {message, type, param, code} (the value of "error").
std::string check_openai_error_object(const json& e) {
    if (!e.is_object() || !is_string(e, "message") || !is_string(e, "type") || !e.contains("param") ||
        !(e["param"].is_null() || e["param"].is_string()) || !is_string(e, "code"))
        return "an OpenAI error without message, type, param (string or null) and code";
    static const std::set<std::string> types = {"invalid_request_error", "rate_limit_error", "server_error"};
    if (!types.count(e["type"])) return "unexpected OpenAI error type " + e["type"].get<std::string>();
    if (!error_codes().count(e["code"])) return "unexpected error code " + e["code"].get<std::string>();
    return "";
}

// OpenAI's error shape: {"error": {...}}; BUSY is 429 (what its clients retry).
std::string check_openai_error(int status, const json& j, const http::fields& headers) {
    if (j.size() != 1) return "an OpenAI error body with more than \"error\"";
    const json& e = j["error"];
    if (const auto err = check_openai_error_object(e); !err.empty()) return err;
    const std::string code = e["code"], type = e["type"];
    const char* want = status == 429 ? "rate_limit_error" : status >= 500 ? "server_error" : "invalid_request_error";
    if (type != want) return "OpenAI error type " + type + " with status " + std::to_string(status);
    if ((code == "BUSY") != (status == 429)) return "BUSY must be 429 in OpenAI's shape, and 429 BUSY";
    return check_error_status(status, code, status == 429 || status == 503, headers);
}

// A non-streaming chat.completion / text_completion object.
std::string check_completion(const json& j) {
    const bool chat = j["object"] == "chat.completion";
    if (!is_string(j, "id") || !j.contains("created") || !j["created"].is_number_integer() || !is_string(j, "model") ||
        !is_string(j, "system_fingerprint"))
        return "a completion without id, created, model and system_fingerprint";
    if (!j.contains("choices") || !j["choices"].is_array() || j["choices"].size() != 1)
        return "a completion without exactly one choice";
    const json& c = j["choices"][0];
    if (!c.is_object() || c.value("index", -1) != 0) return "a choice without index 0";
    if (!c.contains("finish_reason") || (c["finish_reason"] != "stop" && c["finish_reason"] != "length"))
        return "a choice without finish_reason stop or length";
    if (chat) {
        if (!c.contains("message") || !c["message"].is_object() || c["message"].value("role", "") != "assistant" ||
            !is_string(c["message"], "content"))
            return "a chat choice without an assistant message";
    } else if (!is_string(c, "text")) {
        return "a text choice without text";
    }
    const json u = j.value("usage", json());
    if (!u.is_object() || !u.contains("prompt_tokens") || !u.contains("completion_tokens") ||
        !u.contains("total_tokens") || !u["prompt_tokens"].is_number_unsigned() ||
        !u["completion_tokens"].is_number_unsigned() ||
        u["total_tokens"] != u["prompt_tokens"].get<uint64_t>() + u["completion_tokens"].get<uint64_t>())
        return "a completion without consistent usage";
    return "";
}

// GET /v1/models.
std::string check_model_list(const json& j) {
    if (!j.contains("data") || !j["data"].is_array()) return "a model list without data";
    for (const auto& m : j["data"])
        if (!m.is_object() || !is_string(m, "id") || m.value("object", "") != "model" ||
            !m.contains("context_length") || !m["context_length"].is_number_unsigned())
            return "a model entry without id, object and context_length";
    return "";
}

// The JSON answers of docs/http-api.md, in /execute's shape or OpenAI's.
std::string check_json_body(int status, const std::string& body, const http::fields& headers) {
    const json j = json::parse(body, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return "the body is not a JSON object";
    const bool openai_error = j.contains("error");
    if (status < 400) {
        if (openai_error) return "an error body with status " + std::to_string(status);
        const std::string object = j.value("object", "");
        if (object == "chat.completion" || object == "text_completion") return check_completion(j);
        if (object == "list") return check_model_list(j);
        return "";
    }
    return openai_error ? check_openai_error(status, j, headers) : check_execute_error(status, j, headers);
}

// Takes the next event (ended by a blank line) off body; false when no
// whole one is left (what remains, if anything, is a cut event).
bool take_event(std::string_view& body, std::string_view& ev) {
    const size_t end = body.find("\n\n");
    if (end == std::string_view::npos) return false;
    ev = body.substr(0, end);
    body.remove_prefix(end + 2);
    return true;
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

std::vector<bool> request_heads(std::string_view bytes) {
    std::vector<bool> heads;
    while (!bytes.empty()) {
        http::request_parser<http::string_body> parser;
        parser.eager(true);
        parser.header_limit(1u << 20);
        parser.body_limit(64ull << 20);
        boost::beast::error_code ec;
        size_t used = 0;
        try {
            while (used < bytes.size() && !parser.is_done()) {
                const size_t n = parser.put(net::buffer(bytes.data() + used, bytes.size() - used), ec);
                if (ec || n == 0) break;
                used += n;
            }
        } catch (const std::length_error&) {
            break;  // a field Beast's container refuses (name or value too large): the server refuses it too
        }
        if (parser.is_header_done()) heads.push_back(parser.get().method() == http::verb::head);
        if (ec || !parser.is_done()) break;
        bytes.remove_prefix(used);
    }
    return heads;
}

WireCheck check_wire(std::string_view bytes, const std::vector<bool>& answers_head) {
    static const std::set<int> statuses = {100, 200, 202, 400, 404, 405, 408, 413, 429, 500, 503};
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
        // Which request this answer is to: 100 Continue answers come before
        // the final one of their request and are not counted.
        const size_t final_index = size_t(std::count_if(out.responses.begin(), out.responses.end(),
                                                        [](const WireResponse& r) { return r.status != 100; }));
        const bool head = final_index < answers_head.size() && answers_head[final_index];
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
    std::string_view ev;
    while (take_event(body, ev)) {
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
    // A client that left may see half an event; a complete stream has none.
    if (complete && !body.empty()) return "a cut event at the end of a complete stream";
    if (complete && !terminal) return "the stream has no terminal event";
    return "";
}

std::string check_openai_stream(std::string_view body, bool complete) {
    size_t index = 0;
    bool finished = false;  // a chunk carried finish_reason
    bool terminal = false;  // [DONE] or an error
    bool usage_sent = false;
    std::optional<bool> with_usage;  // every chunk has "usage", or none does
    std::string id, object;
    std::string_view ev;
    while (take_event(body, ev)) {
        const std::string at = "chunk " + std::to_string(index++) + ": ";
        if (terminal) return at + "a chunk after the terminal one";
        if (ev.rfind("data: ", 0) != 0) return at + "no data: line";
        const std::string_view data = ev.substr(6);
        if (data.find('\n') != std::string_view::npos) return at + "more than one line";
        if (data == "[DONE]") {
            if (!finished) return at + "[DONE] before a chunk with finish_reason";
            if (with_usage.value_or(false) && !usage_sent) return at + "[DONE] before the usage chunk";
            terminal = true;
            continue;
        }
        const json j = json::parse(data, nullptr, false);
        if (j.is_discarded() || !j.is_object()) return at + "data is not a JSON object";
        if (j.contains("error")) {  // a failure mid-stream: the last chunk, no [DONE]
            if (const auto e = check_openai_error_object(j["error"]); !e.empty()) return at + e;
            terminal = true;
            continue;
        }
        if (!is_string(j, "id") || !is_string(j, "object") || !is_string(j, "model") ||
            !is_string(j, "system_fingerprint") || !j.contains("created") || !j.contains("choices") ||
            !j["choices"].is_array())
            return at + "a chunk without id, object, created, model, system_fingerprint and choices";
        if (id.empty()) {
            id = j["id"];
            object = j["object"];
            if (object != "chat.completion.chunk" && object != "text_completion") return at + "object " + object;
        } else if (j["id"] != id || j["object"] != object) {
            return at + "id or object changed within the stream";
        }
        if (with_usage && *with_usage != j.contains("usage")) return at + "usage on some chunks only";
        with_usage = j.contains("usage");
        const bool chat = object == "chat.completion.chunk";
        const json& choices = j["choices"];
        if (choices.empty()) {  // include_usage's last chunk
            if (!finished || usage_sent) return at + "a chunk without choices that is not the usage chunk";
            if (!j.contains("usage") || !j["usage"].is_object() || !j["usage"].contains("total_tokens"))
                return at + "the usage chunk without usage";
            usage_sent = true;
            continue;
        }
        if (j.contains("usage") && !j["usage"].is_null()) return at + "usage on a chunk with choices";
        if (choices.size() != 1 || !choices[0].is_object() || choices[0].value("index", -1) != 0)
            return at + "not exactly one choice with index 0";
        if (finished) return at + "a choice after the finish_reason";
        const json& c = choices[0];
        if (!c.contains("finish_reason")) return at + "a choice without finish_reason";
        if (!c["finish_reason"].is_null()) {
            if (c["finish_reason"] != "stop" && c["finish_reason"] != "length") return at + "finish_reason not stop or length";
            finished = true;
        }
        if (chat) {
            if (!c.contains("delta") || !c["delta"].is_object()) return at + "a chat chunk without delta";
            const json& d = c["delta"];
            if (d.contains("content") && !d["content"].is_string()) return at + "delta.content not a string";
            // The first chunk names the role, as OpenAI's do; no later one does.
            if ((index == 1) != (d.value("role", "") == "assistant")) return at + "delta.role assistant not (only) first";
        } else if (!is_string(c, "text")) {
            return at + "a text chunk without text";
        }
    }
    if (complete && !body.empty()) return "a cut chunk at the end of a complete stream";
    if (complete && !terminal) return "the stream has no [DONE] and no error";
    return "";
}

std::string check_stream(std::string_view body, bool complete) {
    if (body.rfind("data: ", 0) == 0) return check_openai_stream(body, complete);
    return check_event_stream(body, complete);
}

}  // namespace orcd::httptest
