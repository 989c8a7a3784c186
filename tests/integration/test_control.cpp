// Controlling jobs from outside: one job at a time (503 BUSY), /cancel,
// clients that disconnect, and the inference timeout. Each test gets its own
// worker because each changes its state.
#include "http_client.h"
#include "stream_checks.h"
#include "worker_process.h"

#include <gtest/gtest.h>

#include <thread>

namespace orcd::itest {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

json long_job(const std::string& id) {
    return exec_body(id, kShortPrompt, {{"temperature", 0}, {"max_tokens", kLongMaxTokens}});
}

// Opens a long job's stream and reads until `tokens` token events arrived.
std::unique_ptr<ExecuteStream> start_long_job(uint16_t port, const std::string& id, int tokens = 5) {
    auto s = std::make_unique<ExecuteStream>(port, long_job(id));
    EXPECT_EQ(s->status(), 200) << s->read_body();
    auto first = s->next(30s);
    EXPECT_TRUE(first && first->type == "started");
    for (int seen = 0; seen < tokens;) {
        auto ev = s->next(30s);
        if (!ev) {
            ADD_FAILURE() << "stream ended early";
            break;
        }
        if (ev->type == "token") ++seen;
        if (ev->type == "end" || ev->type == "error") {
            ADD_FAILURE() << "job ended early: " << ev->data;
            break;
        }
    }
    return s;
}

TEST(Control, SecondExecuteWhileBusyIs503) {
    WorkerProcess w;
    auto running = start_long_job(w.port(), "first");
    const HttpResponse r = http_post_json(w.port(), "/execute", exec_body("second", kShortPrompt).dump());
    EXPECT_EQ(r.status, 503) << r.body;
    const json body = r.json();
    EXPECT_EQ(body["code"], "BUSY");
    EXPECT_EQ(body["retriable"], true);
    EXPECT_FALSE(r.header("retry-after").empty());
    EXPECT_TRUE(r.has_header("x-correlation-id"));
    EXPECT_EQ(http_get(w.port(), "/health").json()["busy"], true);
    // The first job is unharmed.
    http_post_json(w.port(), "/cancel", json{{"job_id", "first"}}.dump());
    auto rest = running->rest(30s);
    ASSERT_FALSE(rest.empty());
    EXPECT_EQ(rest.back().type, "error");
}

TEST(Control, CancelStopsTheJobWithin100ms) {
    WorkerProcess w;
    auto s = start_long_job(w.port(), "to-cancel");
    const auto t0 = Clock::now();
    const HttpResponse c = http_post_json(w.port(), "/cancel", json{{"job_id", "to-cancel"}}.dump());
    EXPECT_EQ(c.status, 202) << c.body;
    std::optional<SseEvent> last;
    while (auto ev = s->next(10s)) last = ev;
    const double latency = ms_since(t0);
    ASSERT_TRUE(last.has_value());
    ASSERT_EQ(last->type, "error") << last->data;
    const json err = last->json();
    EXPECT_EQ(err["code"], "CANCELLED");
    EXPECT_EQ(err["retriable"], false);
    EXPECT_EQ(err["message"], "the job was cancelled");  // said once
    RecordProperty("cancel_latency_ms", std::to_string(latency));
    std::printf("cancel latency: %.2f ms\n", latency);
    EXPECT_LE(latency, 100.0);
    EXPECT_TRUE(s->ended_cleanly());
    EXPECT_EQ(http_get(w.port(), "/health").json()["busy"], false);
}

TEST(Control, CancelIsIdempotentAndIgnoresUnknownJobs) {
    WorkerProcess w;
    const HttpResponse unknown = http_post_json(w.port(), "/cancel", json{{"job_id", "nobody"}}.dump());
    EXPECT_EQ(unknown.status, 202);
    EXPECT_EQ(unknown.json()["running"], false);
    auto s = start_long_job(w.port(), "twice");
    EXPECT_EQ(http_post_json(w.port(), "/cancel", json{{"job_id", "twice"}}.dump()).status, 202);
    EXPECT_EQ(http_post_json(w.port(), "/cancel", json{{"job_id", "twice"}}.dump()).status, 202);
    const auto events = s->rest(10s);
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.back().json()["code"], "CANCELLED");
    size_t terminals = 0;
    for (const auto& e : events) terminals += e.type == "end" || e.type == "error";
    EXPECT_EQ(terminals, 1u);
    EXPECT_EQ(http_post_json(w.port(), "/cancel", json{{"job_id", "twice"}}.dump()).status, 202);
}

void disconnect_frees_the_worker(bool reset) {
    WorkerProcess w;
    auto s = start_long_job(w.port(), "leaver");
    const auto t0 = Clock::now();
    s->disconnect(reset);
    // The job is aborted: the worker reads idle again within 100 ms.
    double freed_ms = -1;
    while (ms_since(t0) < 5000) {
        if (http_get(w.port(), "/health").json()["busy"] == false) {
            freed_ms = ms_since(t0);
            break;
        }
    }
    ASSERT_GE(freed_ms, 0) << "the job kept running after its client left";
    std::printf("disconnect -> idle: %.2f ms\n", freed_ms);
    EXPECT_LE(freed_ms, 100.0);
    // The next request is served at once.
    const StreamResult next = execute(w.port(), exec_body("next", kShortPrompt, {{"temperature", 0}, {"max_tokens", 8}}));
    ASSERT_EQ(next.head.status, 200) << next.head.body;
    EXPECT_TRUE(well_formed(next.events));
    EXPECT_EQ(terminal_type(next.events), "end");
    EXPECT_TRUE(w.wait_for_event("execute_end", {{"job_id", "leaver"}, {"outcome", "client_gone"}}, 5s))
        << "execute_end should say the client left";
}

TEST(Control, DisconnectAbortsTheJob) { disconnect_frees_the_worker(false); }
TEST(Control, ResetAbortsTheJob) { disconnect_frees_the_worker(true); }

TEST(Control, NextRequestRightAfterDisconnectIsServed) {
    WorkerProcess w;
    auto s = start_long_job(w.port(), "leaver");
    s->disconnect();
    // No pause at all: the worker must not answer BUSY for a job whose client is gone.
    const StreamResult next = execute(w.port(), exec_body("next", kShortPrompt, {{"temperature", 0}, {"max_tokens", 8}}));
    ASSERT_EQ(next.head.status, 200) << next.head.body;
    EXPECT_TRUE(well_formed(next.events));
}

TEST(Control, InferenceTimeoutEndsTheJob) {
    WorkerProcess w(with_args({"--inference-timeout-sec", "0.2"}));
    const auto t0 = Clock::now();
    const StreamResult r = execute(w.port(), long_job("slow"));
    const double elapsed = ms_since(t0);
    ASSERT_EQ(r.head.status, 200) << r.head.body;
    ASSERT_TRUE(well_formed(r.events));
    ASSERT_EQ(terminal_type(r.events), "error") << r.events.back().data << " (a 2000-token job finished within 0.2 s?)";
    const json err = terminal_data(r.events);
    EXPECT_EQ(err["code"], "INFERENCE_TIMEOUT");
    EXPECT_EQ(err["retriable"], true);
    EXPECT_EQ(err["message"], "the job ran past its inference timeout of 0.2 s");
    EXPECT_LT(token_count(r.events), static_cast<size_t>(kLongMaxTokens));
    EXPECT_GE(elapsed, 200.0);
    // The worker keeps serving.
    const StreamResult next = execute(w.port(), exec_body("after", kShortPrompt, {{"temperature", 0}, {"max_tokens", 4}}));
    EXPECT_EQ(terminal_type(next.events), "end");
    EXPECT_TRUE(w.wait_for_event("execute_end", {{"job_id", "slow"}, {"code", "INFERENCE_TIMEOUT"}}, 5s));
}

TEST(Control, ClientThatNeverReadsDoesNotStallTheWorker) {
    WorkerProcess w;
    // Ask for a long job and never read the stream.
    Connection lazy(w.port());
    lazy.send_all(build_request("POST", "/execute", long_job("lazy").dump(), {{"Content-Type", "application/json"}}));
    ASSERT_TRUE(w.wait_for_event("execute_start", {{"job_id", "lazy"}}, 30s));
    // Meanwhile the worker answers, and the job runs to its end on its own.
    const auto t0 = Clock::now();
    bool idle = false;
    while (!idle && ms_since(t0) < 60000) {
        const HttpResponse h = http_get(w.port(), "/health");
        ASSERT_EQ(h.status, 200);
        idle = h.json()["busy"] == false;
        if (!idle) std::this_thread::sleep_for(20ms);
    }
    EXPECT_TRUE(idle);
    EXPECT_TRUE(w.wait_for_event("execute_end", {{"job_id", "lazy"}, {"outcome", "completed"}}, 5s));
}

}  // namespace
}  // namespace orcd::itest
