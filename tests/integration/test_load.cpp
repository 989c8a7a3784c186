// A bounded load test: 50 clients x 20 requests against one worker. Every
// request gets either a complete, well-formed stream of its own job or a
// clean 503 BUSY; nothing hangs, nothing interleaves.
#include "http_client.h"
#include "stream_checks.h"
#include "worker_process.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <random>
#include <thread>

namespace orcd::itest {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

TEST(Load, FiftyClientsTwentyRequestsEach) {
    constexpr int kClients = 50;
    constexpr int kRequests = 20;
    WorkerProcess w;
    std::atomic<int> completed{0}, busy{0};
    std::mutex failures_mu;
    std::vector<std::string> failures;
    auto fail = [&](const std::string& what) {
        std::lock_guard lock(failures_mu);
        if (failures.size() < 20) failures.push_back(what);
    };

    const auto t0 = Clock::now();
    std::vector<std::thread> clients;
    for (int c = 0; c < kClients; ++c) {
        clients.emplace_back([&, c] {
            std::mt19937 rng(static_cast<unsigned>(c));
            for (int k = 0; k < kRequests; ++k) {
                // A little think time spreads the requests, so many find the
                // worker idle and stream, while others still collide.
                std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 40));
                const std::string id = "load-" + std::to_string(c) + "-" + std::to_string(k);
                try {
                    const StreamResult r = execute(
                        w.port(), exec_body(id, kShortPrompt, {{"temperature", 0.5}, {"max_tokens", 16}, {"seed", k}}),
                        {}, 30s);
                    if (r.head.status == 503) {
                        if (r.error_body.value("code", "") != "BUSY" || r.error_body.value("retriable", false) != true ||
                            r.head.header("retry-after").empty())
                            fail(id + ": unclean 503 " + r.head.body);
                        ++busy;
                        continue;
                    }
                    if (r.head.status != 200) {
                        fail(id + ": status " + std::to_string(r.head.status) + " " + r.head.body);
                        continue;
                    }
                    const auto ok = well_formed(r.events);
                    if (!ok) fail(id + ": " + ok.message());
                    else if (r.events.front().json()["job_id"] != id) fail(id + ": stream of another job");
                    else if (terminal_type(r.events) != "end") fail(id + ": " + r.events.back().data);
                    else if (terminal_data(r.events)["tokens_out"] != 16) fail(id + ": wrong token count");
                    else if (!r.ended_cleanly) fail(id + ": stream cut inside an event");
                    else ++completed;
                } catch (const std::exception& e) {
                    fail(id + ": " + e.what());
                }
            }
        });
    }
    for (auto& t : clients) t.join();
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    std::printf("load: %d completed, %d busy in %.1f s\n", completed.load(), busy.load(), seconds);

    for (const auto& f : failures) ADD_FAILURE() << f;
    EXPECT_EQ(completed + busy, kClients * kRequests);
    EXPECT_GT(completed.load(), 0);
    EXPECT_LT(seconds, 90.0);
    // The worker is idle and healthy afterwards.
    const auto h = http_get(w.port(), "/health").json();
    EXPECT_EQ(h["status"], "healthy");
    EXPECT_EQ(h["busy"], false);
}

}  // namespace
}  // namespace orcd::itest
