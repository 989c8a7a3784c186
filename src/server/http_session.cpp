#include "http_session.h"

#include "correlation.h"
#include "execute_protocol.h"
#include "execute_runner.h"
#include "health.h"
#include "http_responses.h"
#include "openai_endpoint.h"
#include "openai_protocol.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>

#include <cerrno>

#include <sys/socket.h>

namespace orcd::server {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using nlohmann::json;

constexpr auto kReadTimeout = std::chrono::seconds(30);   // a whole request, or an idle keep-alive
constexpr auto kWriteTimeout = std::chrono::seconds(30);  // one write to a client that stopped reading
constexpr auto kLinger = std::chrono::seconds(2);         // waiting for the client's EOF after ours
constexpr auto kClaimWait = std::chrono::seconds(1);      // waiting for a cancelled job to free the slot
constexpr size_t kBodyLimit = 1 << 20;

bool is_json_content_type(std::string_view value) {
    const auto semi = value.find(';');
    std::string_view media = value.substr(0, semi);
    while (!media.empty() && media.back() == ' ') media.remove_suffix(1);
    while (!media.empty() && media.front() == ' ') media.remove_prefix(1);
    return beast::iequals(media, "application/json");
}

}  // namespace

HttpSession::HttpSession(tcp::socket&& socket, ServerContext& ctx)
    : ctx_(ctx), stream_(std::move(socket)), retry_timer_(stream_.get_executor()) {}

HttpSession::~HttpSession() { execute_finished(); }

void HttpSession::start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read_request(); });
}

// ---- reading and routing ----------------------------------------------------

void HttpSession::read_request() {
    parser_.emplace();
    parser_->body_limit(kBodyLimit);
    parser_->header_limit(16 * 1024);
    correlation_id_.clear();
    stream_.expires_after(kReadTimeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = shared_from_this()](beast::error_code ec, size_t) { self->on_header(ec); });
}

void HttpSession::on_header(beast::error_code ec) {
    if (ec) return on_request(ec);
    const auto& req = parser_->get();
    correlation_id_ = correlation_id_for(req["X-Correlation-Id"]);
    if (beast::iequals(req[http::field::expect], "100-continue")) {
        auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_, req.version());
        stream_.expires_after(kWriteTimeout);
        http::async_write(stream_, *cont, [self = shared_from_this(), cont](beast::error_code wec, size_t) {
            if (wec) return self->close_now();
            self->read_body();
        });
        return;
    }
    read_body();
}

void HttpSession::read_body() {
    stream_.expires_after(kReadTimeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->on_request(ec); });
}

void HttpSession::on_request(beast::error_code ec) {
    if (correlation_id_.empty()) correlation_id_ = correlation_id_for("");
    if (ec == http::error::body_limit) {
        ctx_.metrics.count_request(Outcome::invalid_request);
        return respond_json(413, invalid_request_body("body", "max_size", "the request body exceeds 1 MiB"), true);
    }
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == net::error::operation_aborted ||
        ec == net::error::connection_reset || ec == net::error::eof)
        return close_now();
    if (ec) {
        return respond_json(400, invalid_request_body("request", "http", "malformed HTTP request: " + ec.message()),
                            true);
    }
    route();
}

void HttpSession::route() {
    const auto& req = parser_->get();
    std::string_view target = req.target();
    target = target.substr(0, target.find('?'));
    const auto method = req.method();

    struct Route {
        std::string_view path;
        http::verb verb;
        void (HttpSession::*handler)();
    };
    static constexpr Route routes[] = {
        {"/health", http::verb::get, &HttpSession::handle_health},
        {"/metrics", http::verb::get, &HttpSession::handle_metrics},
        {"/execute", http::verb::post, &HttpSession::handle_execute},
        {"/cancel", http::verb::post, &HttpSession::handle_cancel},
        {"/shutdown", http::verb::post, &HttpSession::handle_shutdown},
        {"/v1/chat/completions", http::verb::post, &HttpSession::handle_chat_completions},
        {"/v1/completions", http::verb::post, &HttpSession::handle_completions},
        {"/v1/models", http::verb::get, &HttpSession::handle_models},
    };
    for (const auto& r : routes) {
        if (r.path != target) continue;
        if (r.verb != method) {
            const char* allow = r.verb == http::verb::get ? "GET" : "POST";
            return respond(405,
                           error_body("METHOD_NOT_ALLOWED",
                                      std::string(target) + " accepts " + allow + " only", false)
                               .dump(),
                           "application/json", false, false, allow);
        }
        return (this->*r.handler)();
    }
    respond(404, error_body("NOT_FOUND", "no such endpoint", false).dump(), "application/json", false);
}

// ---- plain endpoints ----------------------------------------------------------

void HttpSession::handle_health() { respond_json(200, health_document(ctx_.state)); }

void HttpSession::handle_metrics() {
    const MemoryReading mem = ctx_.state.memory();
    respond(200, ctx_.metrics.render(mem.bytes_used, ctx_.state.busy(), ctx_.state.uptime_seconds()),
            "text/plain; version=0.0.4; charset=utf-8", false);
}

void HttpSession::handle_cancel() {
    const json body = json::parse(parser_->get().body(), nullptr, false);
    if (body.is_discarded() || !body.is_object() || !body.contains("job_id") || !body["job_id"].is_string())
        return respond_json(400, invalid_request_body("job_id", "required", "job_id (a string) is required"));
    const std::string job_id = body["job_id"].get<std::string>();
    const bool running = ctx_.state.cancel_job_id(job_id);
    ctx_.log.info("cancel_requested", {{"job_id", job_id}, {"correlation_id", correlation_id_}, {"running", running}});
    respond_json(202, {{"job_id", job_id}, {"status", "cancel_requested"}, {"running", running}});
}

void HttpSession::handle_shutdown() {
    respond_json(202, {{"status", "draining"}});
    ctx_.request_shutdown("http");
}

// ---- /execute -------------------------------------------------------------------

void HttpSession::handle_execute() {
    received_ = std::chrono::steady_clock::now();
    const auto& req = parser_->get();
    const Status status = ctx_.state.status();
    if (status != Status::healthy) {
        // Unhealthy means the device or the model's residency failed: say so
        // (CUDA_ERROR); loading and draining are plain BUSY. Both retriable.
        const char* code = status == Status::unhealthy ? "CUDA_ERROR" : "BUSY";
        ctx_.metrics.count_request(Outcome::unavailable);
        ctx_.log.info("execute_rejected", {{"correlation_id", correlation_id_},
                                           {"http_status", 503},
                                           {"code", code},
                                           {"status", status_name(status)}});
        return respond_json(503, error_body(code, std::string("the worker is ") + status_name(status), true), false,
                            true);
    }
    if (!is_json_content_type(req[http::field::content_type])) {
        ctx_.metrics.count_request(Outcome::invalid_request);
        return respond_json(
            400, invalid_request_body("Content-Type", "content_type", "Content-Type must be application/json"));
    }
    const json body = json::parse(req.body(), nullptr, false);
    if (body.is_discarded()) {
        ctx_.metrics.count_request(Outcome::invalid_request);
        return respond_json(400, invalid_request_body("body", "json", "the request body is not valid JSON"));
    }
    const ModelFacts& facts = ctx_.state.facts();
    const RequestLimits limits{ctx_.config.max_tokens_out, facts.vocab_size, facts.context_length};
    pending_request_ = ExecuteRequest{};
    const auto errors = validate_execute(body, limits, pending_request_);
    if (!errors.empty()) {
        ctx_.metrics.count_request(Outcome::invalid_request);
        json fields = json::array();
        for (const auto& e : errors) fields.push_back(e.field);
        ctx_.log.info("execute_rejected", {{"correlation_id", correlation_id_},
                                           {"job_id", body.is_object() && body.contains("job_id") &&
                                                              body["job_id"].is_string()
                                                          ? body["job_id"]
                                                          : json()},
                                           {"http_status", 400},
                                           {"fields", fields}});
        return respond_json(400, invalid_request_body(errors));
    }
    pending_segments_.reset();
    pending_protocol_ = std::make_shared<ExecuteProtocol>(pending_request_.job_id);
    pending_api_ = "execute";
    claim_deadline_ = received_ + kClaimWait;
    probed_owner_ = false;
    try_claim_slot();
}

// ---- /v1/chat/completions, /v1/completions, /v1/models ---------------------------

void HttpSession::handle_openai(OpenAiKind kind) {
    received_ = std::chrono::steady_clock::now();
    const auto refuse = [&](unsigned status, const json& body, Outcome outcome) {
        ctx_.metrics.count_request(outcome);
        ctx_.log.info("execute_rejected", {{"correlation_id", correlation_id_},
                                           {"api", kind == OpenAiKind::chat ? "chat.completions" : "completions"},
                                           {"http_status", status},
                                           {"code", body.value("code", "")},
                                           {"field", body.value("field", "")}});
        const Rejection r = openai_rejection(status, body);
        respond_json(r.http_status, r.body, false, r.retry_after);
    };
    if (!is_json_content_type(parser_->get()[http::field::content_type]))
        return refuse(400, invalid_request_body("Content-Type", "content_type", "Content-Type must be application/json"),
                      Outcome::invalid_request);
    OpenAiAdmission a = admit_openai(kind, parser_->get().body(), ctx_, correlation_id_);
    if (!a.ok) return refuse(a.http_status, a.error, a.outcome);
    pending_request_ = std::move(a.request);
    pending_segments_ = std::move(a.segments);
    pending_protocol_ = std::move(a.protocol);
    pending_api_ = kind == OpenAiKind::chat ? "chat.completions" : "completions";
    claim_deadline_ = received_ + kClaimWait;
    probed_owner_ = false;
    try_claim_slot();
}

void HttpSession::handle_models() {
    if (!ctx_.state.model()) {
        const Rejection r = openai_rejection(503, error_body("BUSY", "the worker is loading", true));
        return respond_json(r.http_status, r.body, false, r.retry_after);
    }
    respond_json(200, models_document(ctx_.state));
}

void HttpSession::refuse_pending(unsigned status, const json& execute_body) {
    const Rejection r = pending_protocol_->reject(status, execute_body);
    respond_json(r.http_status, r.body, false, r.retry_after);
}

void HttpSession::try_claim_slot() {
    const auto ticket = ctx_.state.try_acquire(pending_request_.job_id);
    if (!ticket) {
        // A job that was cancelled (or lost its client) frees the slot within
        // a token; waiting for that is better than a needless 503.
        if (ctx_.state.slot_cancelling() && std::chrono::steady_clock::now() < claim_deadline_) {
            retry_timer_.expires_after(std::chrono::milliseconds(2));
            retry_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
                if (!ec) self->try_claim_slot();
            });
            return;
        }
        if (!probed_owner_) {
            probed_owner_ = true;
            if (auto owner = ctx_.state.owner()) {
                owner->probe_client([self = shared_from_this()] {
                    net::post(self->stream_.get_executor(), [self] { self->try_claim_slot(); });
                });
                return;
            }
        }
        ctx_.metrics.count_request(Outcome::busy);
        ctx_.log.info("execute_rejected", {{"correlation_id", correlation_id_},
                                           {"job_id", pending_request_.job_id},
                                           {"api", pending_api_},
                                           {"http_status", 503},
                                           {"code", "BUSY"}});
        return refuse_pending(503, error_body("BUSY", "another job is running", true));
    }
    if (ctx_.state.status() != Status::healthy) {  // draining began while this request waited
        ctx_.state.release(*ticket);
        ctx_.metrics.count_request(Outcome::unavailable);
        return refuse_pending(503, error_body("BUSY", "the worker is draining", true));
    }
    ticket_ = *ticket;
    ctx_.state.set_owner(ticket_, weak_from_this());
    job_id_ = pending_request_.job_id;
    executing_ = true;
    ++ctx_.open_executes;
    stream_.expires_never();
    watch_client();
    ExecuteTask task;
    task.ticket = ticket_;
    task.request = std::move(pending_request_);
    task.segments = std::move(pending_segments_);
    task.protocol = std::move(pending_protocol_);
    task.api = pending_api_;
    task.correlation_id = correlation_id_;
    task.sink = shared_from_this();
    task.received = received_;
    ctx_.runner.submit(std::move(task));
}

void HttpSession::watch_client() {
    // While a job runs the client has nothing more to send: a completed read
    // with an error means it closed or reset the connection.
    stream_.socket().async_read_some(net::buffer(watch_buf_), [self = shared_from_this()](beast::error_code ec, size_t) {
        if (!ec) return self->watch_client();
        if (self->finished_) return self->close_now();
        self->mark_gone();
    });
}

void HttpSession::probe_client(std::function<void()> done) {
    net::post(stream_.get_executor(), [self = shared_from_this(), done = std::move(done)] {
        if (!self->closed_ && !self->finished_) {
            // A peek reads nothing away from the pending watcher read.
            char c;
            const ssize_t n = ::recv(self->stream_.socket().native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) self->mark_gone();
        }
        done();
    });
}

void HttpSession::mark_gone() {
    if (!gone_.exchange(true) && !finished_) {
        ctx_.state.cancel_ticket(ticket_);
        ctx_.log.info("client_gone", {{"job_id", job_id_},
                                      {"correlation_id", correlation_id_}});
    }
    close_now();
}

// ---- StreamSink -------------------------------------------------------------------

void HttpSession::reject(unsigned http_status, json body, bool retry_after) {
    net::post(stream_.get_executor(), [self = shared_from_this(), http_status, body = std::move(body), retry_after] {
        self->finished_ = true;
        if (self->closed_) return self->execute_finished();
        self->respond_json(http_status, body, true, retry_after);
    });
}

void HttpSession::send(std::string bytes) {
    net::post(stream_.get_executor(),
              [self = shared_from_this(), bytes = std::move(bytes)]() mutable { self->enqueue(std::move(bytes)); });
}

void HttpSession::close_stream() {
    net::post(stream_.get_executor(), [self = shared_from_this()] {
        self->close_after_flush_ = true;
        if (!self->writing_ && self->out_.empty()) self->end_stream();
    });
}

void HttpSession::enqueue(std::string bytes) {
    if (closed_) return;
    out_.push_back(std::move(bytes));
    if (!writing_) write_next();
}

void HttpSession::write_next() {
    // Everything queued goes out in one write: fewer syscalls when the
    // client reads slower than tokens arrive.
    inflight_.clear();
    for (auto& s : out_) inflight_ += s;
    out_.clear();
    writing_ = true;
    stream_.expires_after(kWriteTimeout);
    net::async_write(stream_, net::buffer(inflight_), [self = shared_from_this()](beast::error_code ec, size_t) {
        self->writing_ = false;
        if (ec) return self->mark_gone();
        if (!self->out_.empty()) return self->write_next();
        self->stream_.expires_never();
        if (self->close_after_flush_) self->end_stream();
    });
}

void HttpSession::end_stream() {
    finished_ = true;
    execute_finished();
    end_connection();
}

void HttpSession::execute_finished() {
    if (executing_ && !execute_counted_) {
        execute_counted_ = true;
        --ctx_.open_executes;
    }
}

// ---- writing plain responses and closing ------------------------------------------

void HttpSession::respond_json(unsigned status, const json& body, bool close, bool retry_after) {
    respond(status, body.dump(), "application/json", close, retry_after);
}

void HttpSession::respond(unsigned status, std::string body, const char* content_type, bool close, bool retry_after,
                          const char* allow) {
    if (closed_) return;
    const unsigned version = parser_ ? parser_->get().version() : 11;
    auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(status), version);
    res->set(http::field::server, "worker-orcd");
    res->set(http::field::content_type, content_type);
    res->set("X-Correlation-Id", correlation_id_.empty() ? correlation_id_for("") : correlation_id_);
    if (retry_after) res->set(http::field::retry_after, "1");
    if (allow) res->set(http::field::allow, allow);
    res->body() = std::move(body);
    res->keep_alive(!close && parser_ && parser_->is_header_done() && parser_->get().keep_alive());
    res->prepare_payload();
    stream_.expires_after(kWriteTimeout);
    http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code ec, size_t) {
        if (ec) return self->close_now();
        if (!res->keep_alive()) return self->end_connection();
        self->read_request();
    });
}

void HttpSession::end_connection() {
    if (closed_) return;
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (executing_) {
        // The watcher's pending read sees the client's EOF and closes; the
        // timer bounds a client that never closes.
        retry_timer_.expires_after(kLinger);
        retry_timer_.async_wait([self = shared_from_this()](beast::error_code tec) {
            if (!tec) self->close_now();
        });
        return;
    }
    stream_.expires_after(kLinger);
    drain(std::make_shared<std::array<char, 4096>>());
}

void HttpSession::drain(std::shared_ptr<std::array<char, 4096>> buf) {
    // Reading what the client still sends (e.g. the rest of an oversized
    // body) keeps close() from resetting the connection under our answer.
    stream_.async_read_some(net::buffer(*buf), [self = shared_from_this(), buf](beast::error_code ec, size_t) {
        if (ec) return self->close_now();
        self->drain(buf);
    });
}

void HttpSession::close_now() {
    if (closed_) return;
    closed_ = true;
    retry_timer_.cancel();
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
    if (finished_ || !executing_) execute_finished();
}

}  // namespace orcd::server
