// GET /health: the documented fields, and answers within 10 ms (p99) while a
// job is decoding.
#include "http_client.h"
#include "stream_checks.h"
#include "worker_process.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <thread>

namespace orcd::itest {
namespace {

TEST(Health, ReportsTheModelAndWorker) {
    WorkerProcess w;
    const HttpResponse r = http_get(w.port(), "/health");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.header("content-type"), "application/json");
    const auto h = r.json();
    EXPECT_EQ(h["status"], "healthy");
    EXPECT_EQ(h["worker_id"], w.worker_id());
    EXPECT_EQ(h["architecture"], "llama");
    EXPECT_EQ(h["resident"], true);
    EXPECT_EQ(h["quant_kind"], "F32");
    EXPECT_EQ(h["tokenizer_kind"], "spm");
    EXPECT_EQ(h["vocab_size"], 512);
    EXPECT_EQ(h["context_length"], 2048);
    EXPECT_EQ(h["device"], testing_on_gpu() ? "cuda:" + device_args()[1] : "cpu");
    EXPECT_EQ(h["busy"], false);
    ASSERT_TRUE(h.contains("model") && h["model"].is_string());
    EXPECT_FALSE(h["model"].get<std::string>().empty());
    ASSERT_TRUE(h["vram_bytes_used"].is_number_unsigned());
    EXPECT_GT(h["vram_bytes_used"].get<uint64_t>(), 1000000u) << "stories260K's F32 weights alone exceed 1 MB";
    ASSERT_TRUE(h["uptime_seconds"].is_number());
    EXPECT_GE(h["uptime_seconds"].get<double>(), 0.0);
    // GPU-only fields: present exactly when the worker runs on a GPU.
    for (const char* f : {"sm", "gpu_name", "cuda_runtime_version"}) {
        EXPECT_EQ(h.contains(f), testing_on_gpu()) << f;
        if (h.contains(f)) {
            EXPECT_TRUE(h[f].is_string() && !h[f].get<std::string>().empty()) << f;
        }
    }
}

TEST(Health, ContextLengthFollowsCtxSize) {
    WorkerProcess w(with_args({"--ctx-size", "256"}));
    EXPECT_EQ(http_get(w.port(), "/health").json()["context_length"], 256);
}

// On the CPU backend the decode leaves one core to the server and to this
// test's two client threads (--cpu-threads): with every core in the
// decoding team, p99 went past 10 ms in about half the runs on 2 cores,
// the polls waiting for a core, not for the worker.
TEST(Health, AnswersWithinTenMillisecondsWhileDecoding) {
    const unsigned cores = std::thread::hardware_concurrency();
    WorkerProcess w(testing_on_gpu() ? WorkerOptions{}
                                     : with_args({"--cpu-threads", std::to_string(cores > 1 ? cores - 1 : 1)}));
    std::atomic<bool> stop{false};
    std::atomic<int> jobs{0};
    // Keeps the worker decoding: one long job after another.
    std::thread load([&] {
        for (int n = 0; !stop.load(); ++n) {
            try {
                ExecuteStream s(w.port(), exec_body("load-" + std::to_string(n), kShortPrompt,
                                                    {{"max_tokens", kLongMaxTokens}, {"temperature", 0}}));
                if (!s.is_stream()) continue;
                ++jobs;
                while (!stop.load() && s.next(30s)) {
                }
            } catch (const std::exception&) {
            }
        }
    });
    std::vector<double> busy_ms;
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (busy_ms.size() < 100 && std::chrono::steady_clock::now() < deadline) {
        const auto t0 = std::chrono::steady_clock::now();
        const HttpResponse r = http_get(w.port(), "/health");
        const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        ASSERT_EQ(r.status, 200);
        // Only polls answered while a job ran count.
        if (r.json()["busy"] == true) busy_ms.push_back(ms);
        std::this_thread::sleep_for(2ms);
    }
    stop = true;
    load.join();
    ASSERT_EQ(busy_ms.size(), 100u) << "too few polls landed while a job was decoding";
    std::sort(busy_ms.begin(), busy_ms.end());
    const double p99 = busy_ms[98];
    RecordProperty("health_p99_ms", std::to_string(p99));
    std::printf("/health while decoding: p50 %.3f ms, p99 %.3f ms, max %.3f ms over %zu polls\n", busy_ms[49], p99,
                busy_ms.back(), busy_ms.size());
    EXPECT_LE(p99, 10.0);
    EXPECT_GE(jobs.load(), 1);
}

}  // namespace
}  // namespace orcd::itest
