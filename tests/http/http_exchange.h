// The worker's request handling driven from bytes in memory: the parser,
// router and validator of src/server exactly as HttpSession calls them, with
// a fake worker (fixed model facts, a ChatML chat template, no engine, no
// device) behind WorkerPort.
// The HTTP fuzzer and its unit test use it; nothing here opens a socket.
#pragma once

#include "http_wire_check.h"
#include "request_handler.h"
#include "worker_port.h"

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace orcd::httptest {

// Facts of the stories260K model, so limits match the real worker's tests.
class FakeWorker final : public server::WorkerPort {
public:
    explicit FakeWorker(server::Status status = server::Status::healthy);
    ~FakeWorker() override;
    FakeWorker(const FakeWorker&) = delete;
    FakeWorker& operator=(const FakeWorker&) = delete;

    server::Status status() const override { return status_; }
    server::RequestLimits request_limits() const override { return limits_; }
    nlohmann::json health() override;
    std::string metrics_text() override;
    std::optional<nlohmann::json> models() override;
    std::string model_name() const override { return "llama"; }
    std::string system_fingerprint() const override { return "orcd-0000000-F32"; }
    const server::ChatSetup& chat() const override { return chat_; }
    bool cancel_job(const std::string& job_id) override;
    void request_shutdown() override { ++shutdowns; }
    void count_request(server::Outcome outcome) override { metrics_.count_request(outcome); }
    server::Logger& log() override { return log_; }

    std::vector<std::string> cancelled;  // job ids /cancel asked for
    int shutdowns = 0;

private:
    server::Status status_;
    server::RequestLimits limits_{2048, 512, 2048};
    server::ChatSetup chat_;
    std::FILE* sink_;  // the log goes nowhere, through the real Logger
    server::Logger log_;
    server::Metrics metrics_;
};

// How the client behaves around the bytes it sends.
struct ClientMode {
    size_t read_chunk = 0;     // bytes the server gets per read (0 = all at once)
    bool holds_open = false;   // after its bytes the client waits (true) or half-closes (false)
};

struct Served {
    std::string wire;                                 // what the server wrote, in order
    std::vector<server::Admitted> admitted;           // jobs that passed validation
    std::vector<std::string> targets;                 // each final answer's request target ("": unread)
    std::vector<bool> answers_head;                   // per final answer: its request was a HEAD
};

// Serves the requests in input as one connection would: header, then body
// (100 Continue when asked), then the answer; further requests while the
// answers keep the connection alive, at most max_requests. An admitted job
// (/execute or an OpenAI endpoint) is answered as a one-token job framed by
// its endpoint's protocol, and ends the exchange. A client that holds the connection open after a short body
// gets the body-timeout answer.
Served serve_bytes(std::string_view input, FakeWorker& worker, ClientMode mode = {}, size_t max_requests = 16);

// Empty when the job obeys every rule of docs/http-api.md for limits,
// checked independently of the validators; else what it breaks.
std::string check_admitted(const server::Admitted& job, const server::RequestLimits& limits);

// Empty when every error answer has the shape its request's path asks for:
// OpenAI's under /v1/, /execute's elsewhere (and for a request whose header
// could not be read); else which one does not.
std::string check_error_shapes(const Served& served, const WireCheck& wire);

}  // namespace orcd::httptest
