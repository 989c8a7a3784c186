// One client connection: reads requests (keep-alive), routes them, writes
// JSON answers, and for /execute becomes the job's StreamSink. Everything
// the session touches runs on its own strand; the inference thread reaches it
// only by posting there.
#pragma once

#include "chat/chat_template.h"
#include "job_protocol.h"
#include "openai_request.h"
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
    using Request = boost::beast::http::request<boost::beast::http::string_body>;

    void read_request();
    void on_header(boost::beast::error_code ec);
    void read_body();
    void on_request(boost::beast::error_code ec);
    void route();

    void handle_health();
    void handle_metrics();
    void handle_execute();
    void handle_cancel();
    void handle_shutdown();
    void handle_chat_completions() { handle_openai(OpenAiKind::chat); }
    void handle_completions() { handle_openai(OpenAiKind::completion); }
    void handle_openai(OpenAiKind kind);
    void handle_models();
    void try_claim_slot();
    // A refusal before the job was queued, in the pending protocol's shape.
    void refuse_pending(unsigned status, const nlohmann::json& execute_body);

    // Plain responses; close ends the connection after the write.
    void respond(unsigned status, std::string body, const char* content_type, bool close,
                 bool retry_after = false, const char* allow = nullptr);
    void respond_json(unsigned status, const nlohmann::json& body, bool close = false, bool retry_after = false);

    // The /execute stream: a queue of framed events written in order.
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
    boost::beast::tcp_stream stream_;
    boost::beast::flat_buffer buffer_;
    std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
    std::string correlation_id_;

    // /execute state
    bool executing_ = false;
    ExecuteRequest pending_request_;
    std::optional<std::vector<chat::Segment>> pending_segments_;
    std::shared_ptr<JobProtocol> pending_protocol_;
    const char* pending_api_ = "execute";
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
