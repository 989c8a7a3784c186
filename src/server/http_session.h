// One client connection: reads requests (keep-alive), has the request
// handler decide them, writes the answers, and for a job (/execute,
// /v1/chat/completions, /v1/completions) claims the slot and becomes the
// job's StreamSink. Everything
// the session touches runs on its own strand; the inference thread reaches it
// only by posting there.
#pragma once

#include "context_port.h"
#include "request_handler.h"
#include "request_validation.h"
#include "server_context.h"
#include "stream_sink.h"

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>

namespace orcd::server {

class HttpSession : public StreamSink, public std::enable_shared_from_this<HttpSession> {
public:
    HttpSession(boost::asio::ip::tcp::socket&& socket, ServerContext& ctx);
    ~HttpSession() override;
    void start();

    // StreamSink (called from the inference thread)
    void reject(unsigned http_status, nlohmann::json body, bool retry_after) override;
    void send(std::string bytes) override;
    void close_stream() override;
    bool client_gone() const override { return gone_.load(); }
    void probe_client(std::function<void()> done) override;

private:
    void read_request();
    void on_header(boost::beast::error_code ec, size_t header_bytes);
    void read_body();
    void on_request(boost::beast::error_code ec);
    void try_claim_slot();

    // Plain responses; a reply that closes ends the connection after the write.
    void respond(const Reply& reply);
    void respond_json(unsigned status, const nlohmann::json& body, bool close = false, bool retry_after = false);

    // The job's answer: a queue of bytes (the head, then framed events)
    // written in order.
    void enqueue(std::string bytes);
    void write_next();
    void watch_client();
    void mark_gone();
    // Ends the connection after a final answer: half-close, then let the
    // client's EOF (or a short linger) close the socket, so the answer is not
    // lost to a reset.
    void end_connection();
    void drain(std::shared_ptr<std::array<char, 4096>> buf);
    void end_stream();
    void execute_finished();
    void close_now();

    ServerContext& ctx_;
    ContextPort port_;
    boost::beast::tcp_stream stream_;
    boost::beast::flat_buffer buffer_;
    std::optional<RequestParser> parser_;
    std::string correlation_id_;
    boost::asio::steady_timer body_timer_;
    bool body_timed_out_ = false;

    // job state (/execute and the OpenAI endpoints alike)
    bool executing_ = false;
    Admitted pending_;
    std::chrono::steady_clock::time_point received_{};
    std::chrono::steady_clock::time_point claim_deadline_{};
    bool probed_owner_ = false;
    boost::asio::steady_timer retry_timer_;
    uint64_t ticket_ = 0;
    std::string job_id_;
    std::deque<std::string> out_;
    std::string inflight_;
    bool writing_ = false;
    bool execute_counted_ = false;
    bool close_after_flush_ = false;
    bool finished_ = false;
    bool closed_ = false;
    std::atomic<bool> gone_{false};
    std::array<char, 512> watch_buf_{};
};

}  // namespace orcd::server
