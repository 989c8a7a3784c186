// X-Correlation-Id: echoed when acceptable, generated otherwise, on every
// response, in the `started` event and in the request's log lines.
#include "http_client.h"
#include "stream_checks.h"
#include "worker_process.h"

#include <gtest/gtest.h>

#include <regex>

namespace orcd::itest {
namespace {

using nlohmann::json;

bool looks_like_uuid(const std::string& s) {
    static const std::regex re("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$");
    return std::regex_match(s, re);
}

class Correlation : public SharedWorkerSuite<Correlation> {};

TEST_F(Correlation, EchoedOnEveryKindOfResponse) {
    const Headers h = {{"X-Correlation-Id", "orch-42:attempt/1"}};
    EXPECT_EQ(http_get(worker_->port(), "/health", h).header("x-correlation-id"), "orch-42:attempt/1");
    EXPECT_EQ(http_get(worker_->port(), "/metrics", h).header("x-correlation-id"), "orch-42:attempt/1");
    EXPECT_EQ(http_get(worker_->port(), "/missing", h).header("x-correlation-id"), "orch-42:attempt/1");
    EXPECT_EQ(http_post_json(worker_->port(), "/execute", "{}", h).header("x-correlation-id"), "orch-42:attempt/1");
    EXPECT_EQ(http_post_json(worker_->port(), "/cancel", json{{"job_id", "x"}}.dump(), h).header("x-correlation-id"),
              "orch-42:attempt/1");
}

TEST_F(Correlation, EchoedIntoTheStreamAndTheLog) {
    const std::string id = "corr-" + std::string(100, 'z');
    const StreamResult r = execute(worker_->port(), exec_body("corr-job", kShortPrompt, {{"max_tokens", 3}}),
                                   {{"X-Correlation-Id", id}});
    ASSERT_EQ(r.head.status, 200);
    EXPECT_EQ(r.head.header("x-correlation-id"), id);
    EXPECT_EQ(r.events.front().json()["correlation_id"], id);
    EXPECT_TRUE(worker_->wait_for_event("execute_start", {{"job_id", "corr-job"}, {"correlation_id", id}}, 5s));
    EXPECT_TRUE(worker_->wait_for_event("execute_end", {{"job_id", "corr-job"}, {"correlation_id", id}}, 5s));
}

TEST_F(Correlation, GeneratedWhenAbsent) {
    const HttpResponse a = http_get(worker_->port(), "/health");
    const HttpResponse b = http_get(worker_->port(), "/health");
    EXPECT_TRUE(looks_like_uuid(a.header("x-correlation-id"))) << a.header("x-correlation-id");
    EXPECT_NE(a.header("x-correlation-id"), b.header("x-correlation-id"));
    const StreamResult r = execute(worker_->port(), exec_body("gen-job", kShortPrompt, {{"max_tokens", 2}}));
    const std::string id = r.head.header("x-correlation-id");
    EXPECT_TRUE(looks_like_uuid(id)) << id;
    EXPECT_EQ(r.events.front().json()["correlation_id"], id);
}

TEST_F(Correlation, ReplacedWhenUnacceptable) {
    // Too long (129 characters), and a non-printable character.
    for (const std::string& bad : {std::string(129, 'a'), std::string("bad\x01id")}) {
        const HttpResponse r = http_get(worker_->port(), "/health", {{"X-Correlation-Id", bad}});
        EXPECT_TRUE(looks_like_uuid(r.header("x-correlation-id"))) << r.header("x-correlation-id");
    }
    const HttpResponse longest = http_get(worker_->port(), "/health", {{"X-Correlation-Id", std::string(128, 'a')}});
    EXPECT_EQ(longest.header("x-correlation-id"), std::string(128, 'a'));
}

}  // namespace
}  // namespace orcd::itest
