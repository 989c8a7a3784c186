// GET /metrics: Prometheus text whose counters move by exactly what happened.
#include "http_client.h"
#include "stream_checks.h"
#include "worker_process.h"

#include <gtest/gtest.h>

#include <map>
#include <sstream>

namespace orcd::itest {
namespace {

using nlohmann::json;

// "name{labels}" -> value, for every sample line.
std::map<std::string, double> scrape(uint16_t port) {
    const HttpResponse r = http_get(port, "/metrics");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("content-type").rfind("text/plain", 0), 0u) << r.header("content-type");
    std::map<std::string, double> out;
    std::istringstream in(r.body);
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        const size_t sp = line.rfind(' ');
        out[line.substr(0, sp)] = std::stod(line.substr(sp + 1));
    }
    return out;
}

// cudaMemGetInfo's view of the device, for leak hunting beside the tracked
// bytes: present on a GPU, absent on the CPU backend (it has no device).
TEST(Metrics, DeviceMemoryGaugesOnlyOnAGpu) {
    WorkerProcess w;
    const auto m = scrape(w.port());
    if (testing_on_gpu()) {
        ASSERT_TRUE(m.count("worker_device_memory_total_bytes"));
        ASSERT_TRUE(m.count("worker_device_memory_free_bytes"));
        EXPECT_GT(m.at("worker_device_memory_total_bytes"), m.at("worker_device_memory_free_bytes"));
        EXPECT_GT(m.at("worker_device_memory_total_bytes") - m.at("worker_device_memory_free_bytes"),
                  m.at("worker_vram_bytes") * 0.99);
    } else {
        EXPECT_FALSE(m.count("worker_device_memory_total_bytes"));
        EXPECT_FALSE(m.count("worker_device_memory_free_bytes"));
    }
}

TEST(Metrics, ExposesEveryFamily) {
    WorkerProcess w;
    const auto m = scrape(w.port());
    for (const char* name :
         {"worker_requests_total{outcome=\"completed\"}", "worker_tokens_generated_total", "worker_prompt_tokens_total",
          "worker_time_to_first_token_seconds_count", "worker_time_to_first_token_seconds_bucket{le=\"+Inf\"}",
          "worker_inference_duration_seconds_count", "worker_inference_duration_seconds_sum", "worker_vram_bytes",
          "worker_busy", "worker_uptime_seconds"})
        EXPECT_TRUE(m.count(name)) << name;
    EXPECT_EQ(m.at("worker_busy"), 0);
    EXPECT_GT(m.at("worker_vram_bytes"), 0);
}

TEST(Metrics, CountersMoveByTheRightAmounts) {
    WorkerProcess w;
    const auto before = scrape(w.port());

    // Two completed jobs of 7 and 11 tokens.
    uint64_t prompt_tokens = 0;
    for (int n : {7, 11}) {
        const StreamResult r = execute(w.port(), exec_body("m" + std::to_string(n), kShortPrompt,
                                                           {{"temperature", 0}, {"max_tokens", n}}));
        ASSERT_EQ(terminal_type(r.events), "end");
        prompt_tokens += r.events.front().json()["prompt_tokens"].get<uint64_t>();
    }
    // One invalid request.
    ASSERT_EQ(http_post_json(w.port(), "/execute", json{{"job_id", "bad"}}.dump()).status, 400);
    // One cancelled job.
    {
        ExecuteStream s(w.port(), exec_body("c", kShortPrompt, {{"temperature", 0}, {"max_tokens", kLongMaxTokens}}));
        // Cancel after the first token, so the job has a time to first token.
        for (auto ev = s.next(); ev && ev->type != "token"; ev = s.next()) {
        }
        http_post_json(w.port(), "/cancel", json{{"job_id", "c"}}.dump());
        const auto rest = s.rest();
        ASSERT_EQ(rest.back().json()["code"], "CANCELLED");
    }

    const auto after = scrape(w.port());
    auto delta = [&](const std::string& k) { return after.at(k) - before.at(k); };
    EXPECT_EQ(delta("worker_requests_total{outcome=\"completed\"}"), 2);
    EXPECT_EQ(delta("worker_requests_total{outcome=\"invalid_request\"}"), 1);
    EXPECT_EQ(delta("worker_requests_total{outcome=\"cancelled\"}"), 1);
    EXPECT_EQ(delta("worker_requests_total{outcome=\"busy\"}"), 0);
    // The cancelled job's tokens count too: what was generated, was generated.
    EXPECT_GE(delta("worker_tokens_generated_total"), 18);
    EXPECT_EQ(delta("worker_inference_duration_seconds_count"), 3);
    EXPECT_EQ(delta("worker_time_to_first_token_seconds_count"), 3);
    EXPECT_EQ(delta("worker_prompt_tokens_total"), prompt_tokens + 5);
    EXPECT_GT(after.at("worker_uptime_seconds"), before.at("worker_uptime_seconds"));
    EXPECT_EQ(after.at("worker_busy"), 0);
}

TEST(Metrics, TokensMatchTheStreamExactly) {
    WorkerProcess w;
    const auto before = scrape(w.port());
    const StreamResult r =
        execute(w.port(), exec_body("exact", kShortPrompt, {{"temperature", 0}, {"max_tokens", 13}}));
    ASSERT_EQ(terminal_type(r.events), "end");
    const auto after = scrape(w.port());
    EXPECT_EQ(after.at("worker_tokens_generated_total") - before.at("worker_tokens_generated_total"), 13);
    EXPECT_EQ(after.at("worker_prompt_tokens_total") - before.at("worker_prompt_tokens_total"),
              r.events.front().json()["prompt_tokens"].get<double>());
}

TEST(Metrics, BusyRequestsAreCounted) {
    WorkerProcess w;
    const auto before = scrape(w.port());
    ExecuteStream s(w.port(), exec_body("long", kShortPrompt, {{"temperature", 0}, {"max_tokens", kLongMaxTokens}}));
    ASSERT_TRUE(s.next().has_value());
    ASSERT_EQ(http_post_json(w.port(), "/execute", exec_body("b", kShortPrompt).dump()).status, 503);
    EXPECT_EQ(scrape(w.port()).at("worker_busy"), 1);
    http_post_json(w.port(), "/cancel", json{{"job_id", "long"}}.dump());
    s.rest();
    const auto after = scrape(w.port());
    EXPECT_EQ(after.at("worker_requests_total{outcome=\"busy\"}") - before.at("worker_requests_total{outcome=\"busy\"}"), 1);
}

}  // namespace
}  // namespace orcd::itest
