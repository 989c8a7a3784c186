// Draining: /shutdown, SIGTERM and SIGINT stop new work (503), let the
// running job finish within --shutdown-timeout-sec, cancel it after that, and
// exit 0.
#include "http_client.h"
#include "stream_checks.h"
#include "worker_process.h"

#include <gtest/gtest.h>

#include <csignal>

namespace orcd::itest {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

TEST(Shutdown, EndpointExitsZero) {
    WorkerProcess w;
    const HttpResponse r = http_post_json(w.port(), "/shutdown", "");
    EXPECT_EQ(r.status, 202) << r.body;
    const auto code = w.wait_exit(5s);
    ASSERT_TRUE(code.has_value()) << "still running 5 s after /shutdown";
    EXPECT_EQ(*code, 0);
    EXPECT_NE(w.log().find("\"event\":\"shutdown\""), std::string::npos);
}

void expect_signal_exits_zero(int sig) {
    WorkerProcess w;
    w.send_signal(sig);
    const auto code = w.wait_exit(5s);
    ASSERT_TRUE(code.has_value()) << "still running 5 s after the signal";
    EXPECT_EQ(*code, 0);
    EXPECT_NE(w.log().find(sig == SIGTERM ? "\"reason\":\"SIGTERM\"" : "\"reason\":\"SIGINT\""), std::string::npos);
}

TEST(Shutdown, SigtermExitsZero) { expect_signal_exits_zero(SIGTERM); }
TEST(Shutdown, SigintExitsZero) { expect_signal_exits_zero(SIGINT); }

TEST(Shutdown, RunningJobFinishesAndNewWorkIsRefused) {
    WorkerProcess w(with_args({"--shutdown-timeout-sec", "60"}));
    ExecuteStream s(w.port(), exec_body("last", kShortPrompt, {{"temperature", 0}, {"max_tokens", 400}}));
    ASSERT_EQ(s.status(), 200);
    auto first = s.next();
    ASSERT_TRUE(first && first->type == "started");
    w.send_signal(SIGTERM);
    ASSERT_TRUE(w.wait_for_log("\"event\":\"shutdown\"", 5s));
    // Draining: new work is refused with a retriable 503.
    const HttpResponse refused = http_post_json(w.port(), "/execute", exec_body("late", kShortPrompt).dump());
    EXPECT_EQ(refused.status, 503) << refused.body;
    EXPECT_EQ(refused.json()["code"], "BUSY");
    EXPECT_EQ(refused.json()["retriable"], true);
    EXPECT_EQ(http_get(w.port(), "/health").json()["status"], "draining");
    // The running job completes normally.
    std::vector<SseEvent> events = {*first};
    for (auto& e : s.rest(60s)) events.push_back(e);
    ASSERT_TRUE(well_formed(events));
    EXPECT_EQ(terminal_type(events), "end") << events.back().data;
    EXPECT_EQ(terminal_data(events)["tokens_out"], 400);
    const auto code = w.wait_exit(10s);
    ASSERT_TRUE(code.has_value());
    EXPECT_EQ(*code, 0);
}

TEST(Shutdown, JobPastTheTimeoutIsCancelled) {
    WorkerProcess w(with_args({"--shutdown-timeout-sec", "0.3"}));
    ExecuteStream s(w.port(), exec_body("long", kShortPrompt, {{"temperature", 0}, {"max_tokens", kLongMaxTokens}}));
    ASSERT_EQ(s.status(), 200);
    ASSERT_TRUE(s.next().has_value());
    const auto t0 = Clock::now();
    ASSERT_EQ(http_post_json(w.port(), "/shutdown", "").status, 202);
    const auto events = s.rest(30s);
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.back().type, "error") << events.back().data;
    EXPECT_EQ(events.back().json()["code"], "CANCELLED");
    const auto code = w.wait_exit(5s);
    const double elapsed = ms_since(t0);
    ASSERT_TRUE(code.has_value()) << "still running 5 s after the shutdown";
    EXPECT_EQ(*code, 0);
    // 0.3 s of grace, then cancel (<= 100 ms) and release: well inside 2 s.
    EXPECT_LT(elapsed, 2000.0);
    EXPECT_GE(elapsed, 250.0) << "the job was cancelled before its grace period";
}

}  // namespace
}  // namespace orcd::itest
