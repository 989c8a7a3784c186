#include "http_session.h"

#include "correlation.h"
#include "execute_runner.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include <cerrno>

#include <sys/socket.h>

namespace orcd::server {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using nlohmann::json;

constexpr auto kReadTimeout = std::chrono::seconds(30);   // a request's header, or an idle keep-alive
constexpr auto kWriteTimeout = std::chrono::seconds(30);  // one write to a client that stopped reading
constexpr auto kLinger = std::chrono::seconds(2);         // waiting for the client's EOF after ours
constexpr auto kClaimWait = std::chrono::seconds(1);      // waiting for a cancelled job to free the slot

}  // namespace

HttpSession::HttpSession(tcp::socket&& socket, ServerContext& ctx)
    : ctx_(ctx), port_(ctx), stream_(std::move(socket)), body_timer_(stream_.get_executor()),
      retry_timer_(stream_.get_executor()) {}

HttpSession::~HttpSession() { execute_finished(); }

void HttpSession::start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read_request(); });
}

// ---- reading and routing ----------------------------------------------------

void HttpSession::read_request() {
    parser_.emplace();
    configure_parser(*parser_);
    correlation_id_.clear();
    stream_.expires_after(kReadTimeout);
    http::async_read_header(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t n) {
        self->on_header(ec, n);
    });
}

void HttpSession::on_header(beast::error_code ec, size_t header_bytes) {
    if (ec) return on_request(ec);
    const auto& req = parser_->get();
    correlation_id_ = correlation_id_for(req["X-Correlation-Id"]);
    if (auto reply = reply_to_header_size(header_bytes)) return respond(*reply);
    if (expects_continue(req)) {
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
    // The body has its own, short deadline (--body-timeout-sec): a client that
    // announced more bytes than it sends gets a 408 instead of holding the
    // connection. The timer cancels the read; on_request tells the two apart.
    stream_.expires_never();
    body_timed_out_ = false;
    body_timer_.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(ctx_.config.body_timeout_sec)));
    body_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
        if (ec) return;
        self->body_timed_out_ = true;
        beast::error_code cancel_ec;
        self->stream_.socket().cancel(cancel_ec);
    });
    http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
        self->body_timer_.cancel();
        self->on_request(ec);
    });
}

void HttpSession::on_request(beast::error_code ec) {
    if (correlation_id_.empty()) correlation_id_ = correlation_id_for("");
    // Once the request line is in, its target picks the shape of an error
    // answer: the parser stores it before the fields, so a header refused
    // for its Content-Length (over 1 MiB) is answered in its path's shape
    // too. Before the request line the target is empty: /execute's shape.
    const std::string_view target = parser_->get().target();
    if (ec && body_timed_out_) return respond(body_timeout_reply(ctx_.config.body_timeout_sec, port_, target));
    if (ec) {
        if (auto reply = reply_to_read_error(ec, port_, target)) return respond(*reply);
        return close_now();
    }
    received_ = std::chrono::steady_clock::now();
    Decision decision = decide(parser_->get(), correlation_id_, port_);
    if (const Reply* reply = std::get_if<Reply>(&decision)) return respond(*reply);
    pending_ = std::move(std::get<Admitted>(decision));
    claim_deadline_ = received_ + kClaimWait;
    probed_owner_ = false;
    try_claim_slot();
}

void HttpSession::try_claim_slot() {
    const auto ticket = ctx_.state.try_acquire(pending_.request.job_id);
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
        const Reply reply = busy_reply(pending_);
        ctx_.log.info("execute_rejected", {{"correlation_id", correlation_id_},
                                           {"job_id", pending_.request.job_id},
                                           {"api", pending_.api},
                                           {"http_status", reply.status},
                                           {"code", "BUSY"}});
        return respond(reply);
    }
    if (ctx_.state.status() != Status::healthy) {  // draining began while this request waited
        ctx_.state.release(*ticket);
        ctx_.metrics.count_request(Outcome::unavailable);
        return respond(draining_reply(pending_));
    }
    ticket_ = *ticket;
    ctx_.state.set_owner(ticket_, weak_from_this());
    job_id_ = pending_.request.job_id;
    executing_ = true;
    ++ctx_.open_executes;
    stream_.expires_never();
    watch_client();
    ExecuteTask task;
    task.ticket = ticket_;
    task.request = std::move(pending_.request);
    task.segments = std::move(pending_.segments);
    task.protocol = std::move(pending_.protocol);
    task.api = pending_.api;
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
    Reply reply;
    reply.status = status;
    reply.body = body.dump();
    reply.close = close;
    reply.retry_after = retry_after;
    respond(reply);
}

void HttpSession::respond(const Reply& reply) {
    if (closed_) return;
    const unsigned version = parser_ ? parser_->get().version() : 11;
    const bool header = parser_ && parser_->is_header_done();
    const bool keep_alive = header && parser_->get().keep_alive();
    const bool head = header && parser_->get().method() == http::verb::head;
    auto res = std::make_shared<HttpReply>(make_response(
        reply, version, keep_alive, correlation_id_.empty() ? correlation_id_for("") : correlation_id_, head));
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
    body_timer_.cancel();
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
    if (finished_ || !executing_) execute_finished();
}

}  // namespace orcd::server
