// One request, decided without I/O: how the parser is set up, what a failed
// read answers, and what a parsed request answers (a plain reply, or a job
// from /execute, /v1/chat/completions or /v1/completions that passed
// validation and now needs the job slot). HttpSession does the socket work
// around these functions; the HTTP fuzzer calls the same functions on bytes
// from memory.
//
// Answers under /v1/ are in OpenAI's error shape ({"error": {...}}, BUSY as
// 429), everything else in /execute's ({code, message, retriable}).
#pragma once

#include "chat/chat_template.h"
#include "job_protocol.h"
#include "request_validation.h"
#include "worker_port.h"

#include <boost/beast/core/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace orcd::server {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpReply = boost::beast::http::response<boost::beast::http::string_body>;
using RequestParser = boost::beast::http::request_parser<boost::beast::http::string_body>;

constexpr size_t kBodyLimit = 1 << 20;
// The largest request header (request line and fields) the worker reads.
constexpr size_t kHeaderLimit = 16 * 1024;

// A plain answer (not a stream).
struct Reply {
    unsigned status = 200;
    std::string body;
    std::string content_type = "application/json";
    bool close = false;        // end the connection after it
    bool retry_after = false;  // Retry-After: 1 (every 503 and 429)
    std::string allow;         // the Allow header of a 405
};

// A job that passed validation: the session claims the job slot and hands
// it to the inference thread.
struct Admitted {
    ExecuteRequest request;
    // A rendered chat template: the job starts from these segments' ids
    // instead of request.prompt.
    std::optional<std::vector<chat::Segment>> segments;
    // How the endpoint frames the answer (and its refusals).
    std::shared_ptr<JobProtocol> protocol;
    const char* api = "execute";  // for the logs: execute, chat.completions, completions
};

using Decision = std::variant<Reply, Admitted>;

// The limits every request is read under.
void configure_parser(RequestParser& parser);

// The answer to a header of header_bytes (what reading it consumed) when it
// is over kHeaderLimit: 400, and the connection closes. The parser's own
// limit is far above it (see configure_parser), so this decides alone.
std::optional<Reply> reply_to_header_size(size_t header_bytes);

// The answer to a read that failed with ec; nullopt when the connection is
// simply closed (the client left, or was idle past the read timeout).
// target: the request's, when its header was read (it picks the shape).
std::optional<Reply> reply_to_read_error(boost::beast::error_code ec, WorkerPort& worker,
                                         std::string_view target = {});

// The answer to a request whose body did not arrive within the body timeout.
Reply body_timeout_reply(double timeout_sec, WorkerPort& worker, std::string_view target = {});

// Routes a parsed request and runs its endpoint.
Decision decide(const HttpRequest& req, const std::string& correlation_id, WorkerPort& worker);

// The refusals of a job that passed validation but found no free slot
// (/execute: 503 BUSY; OpenAI: 429), in its endpoint's shape.
Reply busy_reply(const Admitted& job);
Reply draining_reply(const Admitted& job);

// True when the client waits for 100 Continue before sending its body
// (never for HTTP/1.0, which has no interim answers).
bool expects_continue(const HttpRequest& req);

// The response on the wire. keep_alive is what the request allows; a reply
// that closes overrides it. The answer to a HEAD request carries the
// headers (Content-Length included) but no body.
HttpReply make_response(const Reply& reply, unsigned version, bool keep_alive, const std::string& correlation_id,
                        bool head_request);

}  // namespace orcd::server
