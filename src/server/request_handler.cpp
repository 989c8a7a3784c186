#include "request_handler.h"

#include "execute_protocol.h"
#include "http_responses.h"
#include "openai_endpoint.h"
#include "openai_protocol.h"

#include "common/hex.h"

#include <boost/asio/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/verb.hpp>

#include <cstdio>

namespace orcd::server {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using nlohmann::json;

Reply json_reply(unsigned status, const json& body, bool close = false, bool retry_after = false) {
    Reply r;
    r.status = status;
    r.body = body.dump();
    r.close = close;
    r.retry_after = retry_after;
    return r;
}

// A header over kHeaderLimit is refused before it is routed: /execute's shape.
Reply header_too_large_reply() {
    return json_reply(400, invalid_request_body("request", "max_size", "the request header exceeds 16 KiB"), true);
}

Reply rejection_reply(const Rejection& r, bool close = false) {
    return json_reply(r.http_status, r.body, close, r.retry_after);
}

// The path of a target, without its query.
std::string_view path_of(std::string_view target) { return target.substr(0, target.find('?')); }

// OpenAI clients read errors as {"error": {...}}: every answer under /v1/
// takes that shape, whichever check produced it.
bool is_openai_path(std::string_view target) {
    const std::string_view path = path_of(target);
    return path == "/v1" || path.rfind("/v1/", 0) == 0;
}

// An error answer, built in /execute's shape, in the shape its path asks for.
Reply error_reply(std::string_view target, unsigned status, const json& execute_body, bool close = false) {
    if (is_openai_path(target)) return rejection_reply(openai_rejection(status, execute_body), close);
    return json_reply(status, execute_body, close, status == 503);
}

bool is_json_content_type(std::string_view value) {
    const auto semi = value.find(';');
    std::string_view media = value.substr(0, semi);
    while (!media.empty() && media.back() == ' ') media.remove_suffix(1);
    while (!media.empty() && media.front() == ' ') media.remove_prefix(1);
    return beast::iequals(media, "application/json");
}

json field_names(const std::vector<FieldError>& errors) {
    json fields = json::array();
    for (const auto& e : errors) fields.push_back(e.field);
    return fields;
}

Reply health(WorkerPort& worker) { return json_reply(200, worker.health()); }

Reply metrics(WorkerPort& worker) {
    Reply r;
    r.body = worker.metrics_text();
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    return r;
}

Reply cancel(const HttpRequest& req, const std::string& correlation_id, WorkerPort& worker) {
    const json body = json::parse(req.body(), nullptr, false);
    std::string job_id;
    if (body.is_discarded())
        return json_reply(400, invalid_request_body("body", "json", "the request body is not valid JSON"));
    if (const auto errors = validate_cancel(body, job_id); !errors.empty())
        return json_reply(400, invalid_request_body(errors));
    const bool running = worker.cancel_job(job_id);
    worker.log().info("cancel_requested", {{"job_id", job_id}, {"correlation_id", correlation_id}, {"running", running}});
    return json_reply(202, {{"job_id", job_id}, {"status", "cancel_requested"}, {"running", running}});
}

Reply shutdown(WorkerPort& worker) {
    worker.request_shutdown();
    return json_reply(202, {{"status", "draining"}});
}

Decision execute(const HttpRequest& req, const std::string& correlation_id, WorkerPort& worker) {
    const Status status = worker.status();
    if (status != Status::healthy) {
        // Unhealthy means the device or the model's residency failed: say so
        // (CUDA_ERROR); loading and draining are plain BUSY. Both retriable.
        const char* code = status == Status::unhealthy ? "CUDA_ERROR" : "BUSY";
        worker.count_request(Outcome::unavailable);
        worker.log().info("execute_rejected", {{"correlation_id", correlation_id},
                                               {"http_status", 503},
                                               {"code", code},
                                               {"status", status_name(status)}});
        return json_reply(503, error_body(code, std::string("the worker is ") + status_name(status), true), false,
                          true);
    }
    if (!is_json_content_type(req[http::field::content_type])) {
        worker.count_request(Outcome::invalid_request);
        return json_reply(
            400, invalid_request_body("Content-Type", "content_type", "Content-Type must be application/json"));
    }
    const json body = json::parse(req.body(), nullptr, false);
    if (body.is_discarded()) {
        worker.count_request(Outcome::invalid_request);
        return json_reply(400, invalid_request_body("body", "json", "the request body is not valid JSON"));
    }
    Admitted admitted;
    const auto errors = validate_execute(body, worker.request_limits(), admitted.request);
    if (!errors.empty()) {
        worker.count_request(Outcome::invalid_request);
        // Only a job id that passed its own rule is logged: a rejected one may
        // hold anything.
        const bool job_id_ok = body.is_object() && body.contains("job_id") && body["job_id"].is_string() &&
                               is_valid_job_id(body["job_id"].get_ref<const std::string&>());
        worker.log().info("execute_rejected", {{"correlation_id", correlation_id},
                                               {"job_id", job_id_ok ? body["job_id"] : json()},
                                               {"http_status", 400},
                                               {"fields", field_names(errors)}});
        return json_reply(400, invalid_request_body(errors));
    }
    admitted.protocol = std::make_shared<ExecuteProtocol>(admitted.request.job_id);
    admitted.api = "execute";
    return admitted;
}

Decision openai(OpenAiKind kind, const HttpRequest& req, const std::string& correlation_id, WorkerPort& worker) {
    const char* api = kind == OpenAiKind::chat ? "chat.completions" : "completions";
    const auto refuse = [&](unsigned status, const json& body, Outcome outcome) {
        worker.count_request(outcome);
        const Rejection r = openai_rejection(status, body);
        worker.log().info("execute_rejected", {{"correlation_id", correlation_id},
                                               {"api", api},
                                               {"http_status", r.http_status},
                                               {"code", body.value("code", "")},
                                               {"field", body.value("field", "")}});
        return rejection_reply(r);
    };
    if (!is_json_content_type(req[http::field::content_type]))
        return refuse(400, invalid_request_body("Content-Type", "content_type", "Content-Type must be application/json"),
                      Outcome::invalid_request);
    OpenAiAdmission a = admit_openai(kind, req.body(), worker, correlation_id);
    if (!a.ok) return refuse(a.http_status, a.error, a.outcome);
    Admitted admitted;
    admitted.request = std::move(a.request);
    admitted.segments = std::move(a.segments);
    admitted.protocol = std::move(a.protocol);
    admitted.api = api;
    return admitted;
}

Reply models(const HttpRequest& req, WorkerPort& worker) {
    if (auto doc = worker.models()) return json_reply(200, *doc);
    return error_reply(req.target(), 503, error_body("BUSY", "the worker is loading", true));
}

// A path segment with its %XX escapes decoded (the SDKs escape ids); a
// malformed escape stays as it is.
std::string percent_decoded(std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        const int byte = s[i] == '%' && i + 2 < s.size() ? hex_byte(s[i + 1], s[i + 2]) : -1;
        if (byte >= 0) {
            out += char(byte);
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

// GET /v1/models/{id} (the SDKs' models.retrieve): the loaded model's entry
// of the list when the id is its id, else 404 as OpenAI answers.
Reply model_by_id(const HttpRequest& req, std::string_view escaped_id, WorkerPort& worker) {
    const std::string id = percent_decoded(escaped_id);
    const auto doc = worker.models();
    if (!doc) return error_reply(req.target(), 503, error_body("BUSY", "the worker is loading", true));
    for (const json& m : (*doc)["data"])
        if (m.value("id", "") == id) return json_reply(200, m);
    return error_reply(req.target(), 404,
                       // The id is not echoed: decoded, it may be any bytes.
                       error_body("NOT_FOUND", "no model of that id: this worker serves '" +
                                                   (*doc)["data"][0].value("id", "") + "'",
                                  false));
}

}  // namespace

void configure_parser(RequestParser& parser) {
    parser.body_limit(kBodyLimit);
    // Beast applies its header limit to the request line and to the fields
    // apart, and where it notices depends on how the bytes were split into
    // reads: a header just over the limit passed in one read and failed in
    // many. Its limit sits far above ours so that it never decides near ours;
    // reply_to_header_size applies ours to the whole header, whatever the reads.
    parser.header_limit(4 * kHeaderLimit);
}

std::optional<Reply> reply_to_header_size(size_t header_bytes) {
    if (header_bytes <= kHeaderLimit) return std::nullopt;
    return header_too_large_reply();
}

std::optional<Reply> reply_to_read_error(beast::error_code ec, WorkerPort& worker, std::string_view target) {
    if (ec == http::error::body_limit) {
        worker.count_request(Outcome::invalid_request);
        return error_reply(target, 413, invalid_request_body("body", "max_size", "the request body exceeds 1 MiB"),
                           true);
    }
    if (ec == http::error::header_limit) return header_too_large_reply();  // far over ours
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == net::error::operation_aborted ||
        ec == net::error::connection_reset || ec == net::error::eof)
        return std::nullopt;
    return error_reply(target, 400, invalid_request_body("request", "http", "malformed HTTP request: " + ec.message()),
                       true);
}

Reply body_timeout_reply(double timeout_sec, WorkerPort& worker, std::string_view target) {
    worker.count_request(Outcome::invalid_request);
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%g", timeout_sec);
    return error_reply(target, 408,
                       invalid_request_body("body", "timeout",
                                            std::string("the request body did not arrive within ") + seconds + " s"),
                       true);
}

Decision decide(const HttpRequest& req, const std::string& correlation_id, WorkerPort& worker) {
    const std::string_view target = path_of(req.target());
    const auto method = req.method();

    enum class Endpoint { health, metrics, execute, cancel, shutdown, chat, completions, models };
    struct Route {
        std::string_view path;
        http::verb verb;
        Endpoint endpoint;
    };
    static constexpr Route routes[] = {
        {"/health", http::verb::get, Endpoint::health},
        {"/metrics", http::verb::get, Endpoint::metrics},
        {"/execute", http::verb::post, Endpoint::execute},
        {"/cancel", http::verb::post, Endpoint::cancel},
        {"/shutdown", http::verb::post, Endpoint::shutdown},
        {"/v1/chat/completions", http::verb::post, Endpoint::chat},
        {"/v1/completions", http::verb::post, Endpoint::completions},
        {"/v1/models", http::verb::get, Endpoint::models},
    };
    for (const auto& r : routes) {
        if (r.path != target) continue;
        if (r.verb != method) {
            const char* allow = r.verb == http::verb::get ? "GET" : "POST";
            Reply reply = error_reply(target, 405, error_body("METHOD_NOT_ALLOWED",
                                                              std::string(target) + " accepts " + allow + " only", false));
            reply.allow = allow;
            return reply;
        }
        switch (r.endpoint) {
            case Endpoint::health: return health(worker);
            case Endpoint::metrics: return metrics(worker);
            case Endpoint::execute: return execute(req, correlation_id, worker);
            case Endpoint::cancel: return cancel(req, correlation_id, worker);
            case Endpoint::shutdown: return shutdown(worker);
            case Endpoint::chat: return openai(OpenAiKind::chat, req, correlation_id, worker);
            case Endpoint::completions: return openai(OpenAiKind::completion, req, correlation_id, worker);
            case Endpoint::models: return models(req, worker);
        }
    }
    // One model's entry: /v1/models/{id}, the id one path segment.
    constexpr std::string_view kModelPrefix = "/v1/models/";
    if (target.rfind(kModelPrefix, 0) == 0 && target.size() > kModelPrefix.size() &&
        target.find('/', kModelPrefix.size()) == std::string_view::npos) {
        if (method != http::verb::get) {
            Reply reply = error_reply(target, 405, error_body("METHOD_NOT_ALLOWED",
                                                              std::string(kModelPrefix) + "{id} accepts GET only", false));
            reply.allow = "GET";
            return reply;
        }
        return model_by_id(req, target.substr(kModelPrefix.size()), worker);
    }
    return error_reply(target, 404, error_body("NOT_FOUND", "no such endpoint", false));
}

Reply busy_reply(const Admitted& job) {
    return rejection_reply(job.protocol->reject(503, error_body("BUSY", "another job is running", true)));
}

Reply draining_reply(const Admitted& job) {
    return rejection_reply(job.protocol->reject(503, error_body("BUSY", "the worker is draining", true)));
}

bool expects_continue(const HttpRequest& req) {
    return req.version() >= 11 && beast::iequals(req[http::field::expect], "100-continue");
}

HttpReply make_response(const Reply& reply, unsigned version, bool keep_alive, const std::string& correlation_id,
                        bool head_request) {
    HttpReply res(static_cast<http::status>(reply.status), version);
    res.set(http::field::server, "worker-orcd");
    res.set(http::field::content_type, reply.content_type);
    res.set("X-Correlation-Id", correlation_id);
    if (reply.retry_after) res.set(http::field::retry_after, "1");
    if (!reply.allow.empty()) res.set(http::field::allow, reply.allow);
    res.body() = reply.body;
    res.keep_alive(keep_alive && !reply.close);
    res.prepare_payload();
    if (head_request) res.body().clear();  // Content-Length stays: the size a GET would have had
    return res;
}

}  // namespace orcd::server
