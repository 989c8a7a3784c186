// What a well-formed answer of the worker looks like on the wire, checked
// with Beast's own response parser: the HTTP fuzzer, its unit test and the
// mutation run against the real binary all judge responses by these rules.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace orcd::httptest {

struct WireResponse {
    int status = 0;
    std::string content_type;
    std::string body;  // for an event stream: the events as far as they came
};

struct WireCheck {
    std::string error;                    // empty when everything was well-formed
    std::vector<WireResponse> responses;  // in order; 100 Continue included
    bool ok() const { return error.empty(); }
};

// Checks every byte a server wrote on one connection: a sequence of whole
// HTTP/1.x responses, each with a status the worker uses, X-Correlation-Id
// (1-128 printable ASCII characters), a Content-Type, and a body that
// matches it: a JSON error body in /execute's shape (code, message,
// retriable) or OpenAI's ({"error": {message, type, param, code}}, BUSY as
// 429); 503 and 429 with Retry-After; 405 with Allow; a completion object
// or model list in OpenAI's shape; Prometheus text. A `text/event-stream`
// answer must be the last one; its events are checked by the caller (it may
// have been cut by a client that left). Nothing may follow a response that
// said Connection: close. answers_head[k]: the k-th final answer (100
// Continue answers are not counted) is to a HEAD request, so it carries no
// body whatever its Content-Length says (unless it closes the connection:
// then nothing can follow it anyway); answers past its end are not. A 100
// Continue goes to HTTP/1.1 clients only.
WireCheck check_wire(std::string_view bytes, const std::vector<bool>& answers_head = {});

// Whether each request of the bytes a client sent on one connection is a
// HEAD, in order, as far as whole request headers parse: check_wire's
// answers_head when only the bytes sent are known (the mutation run against
// the real binary). Requests after one that does not parse are not counted
// (the server answers that one and closes).
std::vector<bool> request_heads(std::string_view bytes);

// The events of an /execute stream, when every event is whole: exactly the
// rules of docs/http-api.md (started first; token i = 0, 1, ... with
// non-empty t; one terminal end/error, last). complete = false allows a
// stream cut before its terminal event.
std::string check_event_stream(std::string_view body, bool complete);

// An OpenAI stream (/v1/chat/completions, /v1/completions with stream:
// true): `data: {chunk}` lines of one id and object, a chat stream's first
// chunk naming the role, one chunk with finish_reason, the usage chunk when
// every chunk carries "usage", then `data: [DONE]`; or a last `data:
// {"error": ...}` instead. complete = false allows a stream cut early.
std::string check_openai_stream(std::string_view body, bool complete);

// Either kind of stream, told apart by its first line.
std::string check_stream(std::string_view body, bool complete);

}  // namespace orcd::httptest
