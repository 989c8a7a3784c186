// The request handler driven from bytes (the HTTP fuzzer's harness), as a
// unit test: every seed request and every saved regression input under
// every worker status and client behaviour gets well-formed answers and
// admits only valid jobs; and the documented answers to particular inputs.
#include "http_exchange.h"
#include "http_seeds.h"
#include "http_wire_check.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace orcd::httptest {
namespace {

using nlohmann::json;
using server::Status;

std::string seed(const std::string& name) {
    for (const auto& s : http_seed_requests())
        if (s.name == name) return s.bytes;
    ADD_FAILURE() << "no seed " << name;
    return "";
}

// Serves input and checks everything the fuzzer checks; returns the answers.
std::vector<WireResponse> serve_checked(const std::string& input, Status status = Status::healthy,
                                        ClientMode mode = {}, std::vector<server::Admitted>* admitted = nullptr) {
    FakeWorker worker(status);
    const Served served = serve_bytes(input, worker, mode);
    const WireCheck wire = check_wire(served.wire, served.first_request_head);
    EXPECT_TRUE(wire.ok()) << wire.error << "\n--- wire ---\n" << served.wire;
    if (!wire.responses.empty() && wire.responses.back().content_type == "text/event-stream") {
        EXPECT_EQ(check_event_stream(wire.responses.back().body, false), "");
    }
    for (const auto& r : served.admitted)
        EXPECT_EQ(check_admitted(r, worker.request_limits()), "") << r.request.job_id;
    if (status != Status::healthy) {
        EXPECT_TRUE(served.admitted.empty()) << "admitted while not healthy";
    }
    if (admitted) *admitted = served.admitted;
    return wire.responses;
}

void replay_everywhere(const std::string& name, const std::string& bytes) {
    for (Status st : {Status::healthy, Status::loading, Status::draining, Status::unhealthy})
        for (size_t chunk : {size_t{0}, size_t{1}, size_t{7}})
            for (bool holds_open : {false, true}) {
                SCOPED_TRACE(name + " status=" + server::status_name(st) + " chunk=" + std::to_string(chunk) +
                             (holds_open ? " holds-open" : " half-closes"));
                serve_checked(bytes, st, ClientMode{chunk, holds_open});
            }
}

TEST(HttpFuzz, EverySeedIsAnsweredWellFormedUnderEveryStatus) {
    const auto seeds = http_seed_requests();
    EXPECT_GE(seeds.size(), 60u);
    for (const auto& s : seeds) replay_everywhere(s.name, s.bytes);
    replay_everywhere("shutdown", http_request_bytes("POST", "/shutdown", ""));
}

// Inputs the fuzzer once found, kept as files (see regressions/README.md).
TEST(HttpFuzz, SavedRegressionInputsStayFixed) {
    size_t n = 0;
    for (const auto& entry : std::filesystem::directory_iterator(ORCD_HTTP_REGRESSIONS_DIR)) {
        if (entry.path().extension() != ".http") continue;
        std::ifstream in(entry.path(), std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        replay_everywhere(entry.path().filename().string(), ss.str());
        ++n;
    }
    std::printf("http regressions replayed: %zu\n", n);
    EXPECT_GT(n, 0u);
}

TEST(HttpFuzz, SeedsGetTheirDocumentedAnswers) {
    auto status_of = [](const std::string& name, ClientMode mode = {}) {
        const auto r = serve_checked(seed(name), Status::healthy, mode);
        return r.empty() ? 0 : r.back().status;
    };
    EXPECT_EQ(status_of("health"), 200);
    EXPECT_EQ(status_of("metrics"), 200);
    EXPECT_EQ(status_of("execute_minimal"), 200);
    EXPECT_EQ(status_of("execute_chunked"), 200);
    EXPECT_EQ(status_of("execute_continue"), 200);
    EXPECT_EQ(status_of("cancel"), 202);
    EXPECT_EQ(status_of("execute_job_id_control"), 400);
    EXPECT_EQ(status_of("cancel_control"), 400);
    EXPECT_EQ(status_of("execute_too_large"), 413);
    EXPECT_EQ(status_of("unknown_path"), 404);
    EXPECT_EQ(status_of("execute_get"), 405);
    EXPECT_EQ(status_of("long_header"), 400);
    // A short body: 400 when the client half-closes, 408 when it waits.
    EXPECT_EQ(status_of("execute_short_body", {0, false}), 400);
    EXPECT_EQ(status_of("execute_short_body", {0, true}), 408);
    // An incomplete header from a client that waits: closed without an answer.
    EXPECT_TRUE(serve_checked(seed("incomplete_header"), Status::healthy, {0, true}).empty());
    EXPECT_EQ(serve_checked(seed("pipelined")).size(), 3u);
    const auto cont = serve_checked(seed("execute_continue"));
    ASSERT_EQ(cont.size(), 2u);
    EXPECT_EQ(cont[0].status, 100);
}

TEST(HttpFuzz, ControlCharactersInJobIdAreRefusedWithCharset) {
    const auto r = serve_checked(seed("execute_job_id_control"));
    ASSERT_EQ(r.size(), 1u);
    const json body = json::parse(r[0].body);
    EXPECT_EQ(body["field"], "job_id");
    EXPECT_EQ(body["errors"][0]["constraint"], "charset");
}

TEST(HttpFuzz, AdmittedRequestCarriesEveryField) {
    std::vector<server::Admitted> admitted;
    serve_checked(seed("execute_full"), Status::healthy, {}, &admitted);
    ASSERT_EQ(admitted.size(), 1u);
    const auto& r = admitted[0].request;
    EXPECT_EQ(r.job_id, "seed-1");
    EXPECT_EQ(r.max_tokens, 8u);
    EXPECT_FLOAT_EQ(r.temperature, 0.7f);
    EXPECT_EQ(r.top_k, 40);
    EXPECT_EQ(r.stop, (std::vector<std::string>{".", "\n"}));
    EXPECT_EQ(r.seed, UINT64_MAX);
    EXPECT_TRUE(r.parse_special);
}

TEST(HttpFuzz, NotHealthyAnswers503WithRetryAfter) {
    for (Status st : {Status::loading, Status::draining, Status::unhealthy}) {
        const auto r = serve_checked(seed("execute_minimal"), st);
        ASSERT_EQ(r.size(), 1u);
        EXPECT_EQ(r[0].status, 503);
        EXPECT_EQ(json::parse(r[0].body)["code"], st == Status::unhealthy ? "CUDA_ERROR" : "BUSY");
    }
}

// The checker itself must catch what it is meant to catch.
TEST(HttpWireCheck, RejectsMalformedAnswers) {
    const std::string ok_head = "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nX-Correlation-Id: c\r\n";
    const std::string body = R"({"code":"NOT_FOUND","message":"m","retriable":false})";
    const std::string ok = ok_head + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    EXPECT_TRUE(check_wire(ok).ok()) << check_wire(ok).error;
    EXPECT_FALSE(check_wire(ok.substr(0, ok.size() - 1)).ok()) << "a cut body";
    EXPECT_FALSE(check_wire(ok + "garbage").ok()) << "bytes that are not a response";
    EXPECT_FALSE(check_wire("HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: " +
                            std::to_string(body.size()) + "\r\n\r\n" + body)
                     .ok())
        << "no correlation id";
    EXPECT_FALSE(check_wire("HTTP/9.9 404 Not Found\r\nContent-Type: application/json\r\nX-Correlation-Id: c\r\n"
                            "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body)
                     .ok())
        << "version";
    const std::string busy = R"({"code":"BUSY","message":"m","retriable":true})";
    EXPECT_FALSE(check_wire("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                            "X-Correlation-Id: c\r\nContent-Length: " + std::to_string(busy.size()) + "\r\n\r\n" + busy)
                     .ok())
        << "503 without Retry-After";
    EXPECT_NE(check_event_stream("event: token\ndata: {\"t\":\"a\",\"i\":0}\n\n", false), "") << "no started";
    EXPECT_NE(check_event_stream("event: started\ndata: {}\n\n", true), "") << "no terminal";
    EXPECT_EQ(check_event_stream("event: started\ndata: {}\n\nevent: token\ndata: {\"t\":\"a\",\"i\":0}\n\n"
                                 "event: end\ndata: {\"stop_reason\":\"eos\"}\n\n",
                                 true),
              "");
}

}  // namespace
}  // namespace orcd::httptest
