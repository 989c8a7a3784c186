// HTTP behaviour around the endpoints: keep-alive, slow and half-open
// clients, Expect: 100-continue.
#include "http_client.h"
#include "stream_checks.h"
#include "worker_process.h"

#include <gtest/gtest.h>

#include <thread>

namespace orcd::itest {
namespace {

using nlohmann::json;

TEST(Http, KeepAliveServesSeveralRequestsOnOneConnection) {
    WorkerProcess w;
    Connection c(w.port());
    for (int i = 0; i < 3; ++i) {
        c.send_all(build_request("GET", "/health", "", {}, true));
        const HttpResponse r = c.read_response(10s);
        EXPECT_EQ(r.status, 200);
        EXPECT_EQ(r.json()["status"], "healthy");
    }
    c.send_all(build_request("POST", "/execute", "{}", {{"Content-Type", "application/json"}}, true));
    EXPECT_EQ(c.read_response(10s).status, 400);
    c.send_all(build_request("GET", "/metrics", "", {}, true));
    EXPECT_EQ(c.read_response(10s).status, 200);
}

TEST(Http, HalfSentRequestsDoNotStallOthers) {
    WorkerProcess w;
    // Clients that stop in the middle of a header or a body.
    std::vector<std::unique_ptr<Connection>> stalled;
    for (int i = 0; i < 20; ++i) {
        stalled.push_back(std::make_unique<Connection>(w.port()));
        stalled.back()->send_all(i % 2 ? "GET /health HTTP/1.1\r\nHost: x\r\n"
                                       : "POST /execute HTTP/1.1\r\nContent-Type: application/json\r\n"
                                         "Content-Length: 500\r\n\r\n{\"job_id\":");
    }
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(http_get(w.port(), "/health").status, 200);
    const StreamResult r = execute(w.port(), exec_body("through", kShortPrompt, {{"max_tokens", 4}}));
    EXPECT_EQ(terminal_type(r.events), "end");
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
}

// A body shorter than its Content-Length is answered 408 once
// --body-timeout-sec has passed, and the connection closes.
TEST(Http, LateBodyIsAnswered408AfterTheBodyTimeout) {
    WorkerProcess w(with_args({"--body-timeout-sec", "0.5"}));
    for (const char* path : {"/execute", "/cancel"}) {
        Connection c(w.port());
        const auto t0 = std::chrono::steady_clock::now();
        c.send_all(std::string("POST ") + path +
                   " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"job_id\":");
        const HttpResponse r = c.read_response(10s);
        const auto waited = std::chrono::steady_clock::now() - t0;
        EXPECT_EQ(r.status, 408) << path << ": " << r.body;
        EXPECT_EQ(r.json()["code"], "INVALID_REQUEST");
        EXPECT_EQ(r.json()["field"], "body");
        EXPECT_EQ(r.json()["errors"][0]["constraint"], "timeout");
        EXPECT_EQ(r.json()["retriable"], false);
        EXPECT_EQ(r.header("connection"), "close");
        EXPECT_GE(waited, 450ms) << path;
        EXPECT_LT(waited, 3s) << path;
        EXPECT_EQ(c.recv_some(5s), "") << "the connection stays open after the 408";
    }
    EXPECT_EQ(http_get(w.port(), "/health").json()["busy"], false);
}

// The default body timeout is short (5 s), not the 30 s of an idle connection.
TEST(Http, DefaultBodyTimeoutIsFiveSeconds) {
    WorkerProcess w;
    Connection c(w.port());
    const auto t0 = std::chrono::steady_clock::now();
    c.send_all("POST /execute HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n{");
    const HttpResponse r = c.read_response(20s);
    const auto waited = std::chrono::steady_clock::now() - t0;
    EXPECT_EQ(r.status, 408) << r.body;
    EXPECT_GE(waited, 4900ms);
    EXPECT_LT(waited, 8s);
}

// A body that completes just in time is served normally.
TEST(Http, SlowBodyWithinTheTimeoutIsServed) {
    WorkerProcess w(with_args({"--body-timeout-sec", "2"}));
    Connection c(w.port());
    const std::string body = exec_body("slow-body", kShortPrompt, {{"max_tokens", 2}}).dump();
    c.send_all("POST /execute HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
               std::to_string(body.size()) + "\r\n\r\n" + body.substr(0, 5));
    std::this_thread::sleep_for(300ms);
    c.send_all(body.substr(5));
    EXPECT_EQ(c.read_head(10s).status, 200);
}

// A HEAD answer has no body (its Content-Length says what a GET would get):
// a body would be read as the start of the next answer on the connection.
TEST(Http, HeadAnswerHasNoBodyAndTheConnectionStaysInStep) {
    WorkerProcess w;
    Connection c(w.port());
    c.send_all("HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    const HttpResponse head = c.read_head(10s);
    EXPECT_EQ(head.status, 405);
    EXPECT_EQ(head.header("allow"), "GET");
    EXPECT_NE(head.header("content-length"), "0");
    EXPECT_EQ(c.take_pending(), "");
    c.send_all(build_request("GET", "/health", "", {}, true));
    const HttpResponse next = c.read_response(10s);
    EXPECT_EQ(next.status, 200) << "the HEAD answer's body was read as the next answer";
    EXPECT_EQ(next.json()["status"], "healthy");
}

// HTTP/1.0 has no interim answers: Expect: 100-continue is ignored.
TEST(Http, Http10ClientGetsNoContinue) {
    WorkerProcess w;
    Connection c(w.port());
    const std::string body = R"({"job_id":"x"})";
    c.send_all("POST /cancel HTTP/1.0\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: " +
               std::to_string(body.size()) + "\r\n\r\n" + body);
    const HttpResponse r = c.read_response(10s);
    EXPECT_EQ(r.status, 202) << r.body;
}

TEST(Http, ExpectContinueIsHonoured) {
    WorkerProcess w;
    Connection c(w.port());
    const std::string body = exec_body("cont", kShortPrompt, {{"max_tokens", 3}}).dump();
    c.send_all("POST /execute HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n"
               "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n");
    const HttpResponse interim = c.read_head(5s);
    EXPECT_EQ(interim.status, 100);
    c.send_all(body);
    const HttpResponse head = c.read_head(10s);
    EXPECT_EQ(head.status, 200);
}

}  // namespace
}  // namespace orcd::itest
