// A bounded mutation run against the real worker binary: requests for every
// endpoint (tests/http/http_seeds.h: /execute, /cancel, /health, /metrics and
// the OpenAI endpoints under /v1/), mutated by tests/http/http_mutator.h,
// each sent on its own loopback connection by a client that either
// half-closes after its bytes or holds the connection open. Every answer
// must be well-formed HTTP (tests/http/http_wire_check.h) or a closed
// connection, within the worker's timeouts; the worker must never crash and
// must answer /health after every batch. The counts are printed.
//
// env: ORCD_HTTP_MUTATIONS (default 3000), ORCD_HTTP_MUTATION_SEED (default 1).
#include "common/test_paths.h"
#include "http_client.h"
#include "worker_process.h"

#include "http_mutator.h"
#include "http_seeds.h"
#include "http_wire_check.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>

#include <poll.h>
#include <sys/socket.h>

namespace orcd::itest {
namespace {

using Clock = std::chrono::steady_clock;
using namespace orcd::httptest;

constexpr double kBodyTimeoutSec = 0.5;
// The worker's slowest answer to a client that holds its connection: the body
// timeout; past that (and some scheduling slack) the client half-closes.
constexpr auto kHoldWait = std::chrono::milliseconds(static_cast<int>(kBodyTimeoutSec * 1000) + 1000);
// After a half-close every answer, and the close, must come within this
// (a valid /execute runs at most --max-tokens-out 16 tokens).
constexpr auto kCloseWait = 5s;

uint64_t env_or(const char* name, uint64_t fallback) {
    const char* v = std::getenv(name);
    return v && *v ? std::strtoull(v, nullptr, 10) : fallback;
}

enum class Ending { closed, reset, hang };

struct Exchange {
    std::string bytes;  // everything the worker wrote
    Ending ending = Ending::closed;
    bool half_closed_late = false;  // the client held on, got nothing, then half-closed
    bool held_to_close = false;     // the client held on until the worker closed
    std::chrono::milliseconds first_byte{-1};
};

// Whole answers to stop waiting on: well-formed, and not an event stream,
// which ends only when the worker closes it (a slow job may pause between
// events longer than a client's moment of quiet).
bool whole_answers(const std::string& bytes) {
    const WireCheck wire = check_wire(bytes);
    return wire.ok() && !wire.responses.empty() && wire.responses.back().content_type != "text/event-stream";
}

// Reads what is there until deadline; false on timeout, true at EOF or reset.
bool read_until(int fd, Clock::time_point deadline, Exchange& x, Clock::time_point t0, bool stop_when_quiet) {
    char buf[65536];
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left <= 0ms) return false;
        // A client that holds on stops waiting once whole answers arrived
        // and nothing more comes for a moment (a keep-alive connection).
        const int wait = stop_when_quiet && !x.bytes.empty() ? std::min<int>(50, static_cast<int>(left.count()))
                                                              : static_cast<int>(left.count());
        pollfd p{fd, POLLIN, 0};
        const int r = ::poll(&p, 1, wait);
        if (r < 0 && errno == EINTR) continue;
        if (r == 0) {
            if (stop_when_quiet && !x.bytes.empty() && whole_answers(x.bytes)) return false;
            continue;
        }
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n > 0) {
            if (x.first_byte < 0ms)
                x.first_byte = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
            x.bytes.append(buf, static_cast<size_t>(n));
            continue;
        }
        if (n == 0) return true;
        if (errno == EINTR || errno == EAGAIN) continue;
        x.ending = Ending::reset;
        return true;
    }
}

Exchange exchange(uint16_t port, const std::string& request, bool hold_open) {
    Exchange x;
    Connection c(port, 5s);
    const int fd = c.native_handle();
    const auto t0 = Clock::now();
    size_t off = 0;
    while (off < request.size()) {  // the worker may answer and close before reading everything
        const ssize_t n = ::send(fd, request.data() + off, request.size() - off, MSG_NOSIGNAL);
        if (n <= 0) break;
        off += static_cast<size_t>(n);
    }
    bool done = false;
    if (hold_open) {
        done = read_until(fd, Clock::now() + kHoldWait, x, t0, true);
        x.half_closed_late = !done && x.bytes.empty();
        x.held_to_close = done;
    }
    if (!done) {
        c.half_close();
        if (!read_until(fd, Clock::now() + kCloseWait, x, t0, false)) x.ending = Ending::hang;
    }
    return x;
}

struct Tally {
    std::mutex mu;
    std::map<int, uint64_t> statuses;  // of the last answer on each connection
    uint64_t cases = 0, no_answer = 0, resets = 0, held_then_half_closed = 0, streams = 0, complete_streams = 0;
    uint64_t openai_streams = 0, openai_answers = 0;  // OpenAI-shaped: streams, and JSON answers
    std::chrono::milliseconds slowest_answer{0};
    std::vector<std::string> failures;
    void fail(const std::string& what) {
        if (failures.size() < 10) failures.push_back(what);
    }
};

std::string printable(const std::string& s, size_t max = 300) {
    std::string out;
    for (unsigned char c : s.substr(0, max)) {
        if (c >= 0x20 && c < 0x7F) out.push_back(static_cast<char>(c));
        else { char b[8]; std::snprintf(b, sizeof b, "\\x%02x", c); out += b; }
    }
    return out + (s.size() > max ? "..." : "");
}

void judge(const std::string& request, const Exchange& x, Tally& t) {
    std::lock_guard lock(t.mu);
    ++t.cases;
    if (x.ending == Ending::hang) return t.fail("no close within the timeouts for: " + printable(request));
    if (x.ending == Ending::reset) ++t.resets;
    if (x.half_closed_late) ++t.held_then_half_closed;
    if (x.bytes.empty()) {
        ++t.no_answer;
        return;
    }
    t.slowest_answer = std::max(t.slowest_answer, x.first_byte);
    const WireCheck wire = check_wire(x.bytes, request_heads(request));
    if (!wire.ok()) {
        // A reset may cut the last answer; everything before it must still be whole.
        if (x.ending != Ending::reset) t.fail(wire.error + "\n  request: " + printable(request) + "\n  answer: " + printable(x.bytes));
        return;
    }
    if (wire.responses.empty()) return;
    const WireResponse& last = wire.responses.back();
    ++t.statuses[last.status];
    if (last.content_type == "application/json" &&
        (last.body.rfind("{\"error\":", 0) == 0 || last.body.find("\"object\":\"") != std::string::npos))
        ++t.openai_answers;
    if (last.status == 500) t.fail("500 for: " + printable(request) + "\n  answer: " + printable(x.bytes));
    if (last.content_type == "text/event-stream") {
        ++t.streams;
        // A client that held on until the worker closed read the stream to
        // its terminal event; one that half-closed (at once, or after the
        // hold wait) has left, and the worker stops sending.
        const std::string e = check_stream(last.body, x.held_to_close && x.ending == Ending::closed);
        if (!e.empty()) t.fail("stream: " + e + "\n  request: " + printable(request) + "\n  answer: " + printable(x.bytes));
        else if (check_stream(last.body, true).empty()) ++t.complete_streams;
        if (last.body.rfind("data: ", 0) == 0) ++t.openai_streams;
    }
}

TEST(HttpMutation, MutatedRequestsGetWellFormedAnswersAndTheWorkerKeepsServing) {
    const uint64_t total = env_or("ORCD_HTTP_MUTATIONS", 3000);
    const uint64_t seed = env_or("ORCD_HTTP_MUTATION_SEED", 1);
    constexpr uint64_t kBatch = 250;
    constexpr int kClients = 8;
    // ChatML stands for stories260K's missing chat template, so chat requests
    // reach the job slot as the other jobs do.
    WorkerProcess w(with_args({"--max-tokens-out", "16", "--body-timeout-sec", std::to_string(kBodyTimeoutSec),
                               "--inference-timeout-sec", "5", "--chat-template-file",
                               test::data_path("chat/templates/chatml.jinja")}));
    std::vector<std::string> corpus;
    for (const auto& s : http_seed_requests()) corpus.push_back(s.bytes);
    HttpMutator mutator(corpus, seed);

    Tally tally;
    uint64_t health_checks = 0;
    const auto t0 = Clock::now();
    for (uint64_t done = 0; done < total; done += kBatch) {
        const uint64_t n = std::min(kBatch, total - done);
        std::vector<std::string> cases(n);
        for (auto& c : cases) c = mutator.next();
        std::atomic<uint64_t> next{0};
        std::vector<std::thread> clients;
        for (int k = 0; k < kClients; ++k) {
            clients.emplace_back([&] {
                for (uint64_t i; (i = next++) < n;) {
                    const bool hold_open = (done + i) % 4 == 0;
                    try {
                        judge(cases[i], exchange(w.port(), cases[i], hold_open), tally);
                    } catch (const std::exception& e) {
                        std::lock_guard lock(tally.mu);
                        tally.fail(std::string(e.what()) + " for: " + printable(cases[i]));
                    }
                }
            });
        }
        for (auto& c : clients) c.join();
        ASSERT_FALSE(w.wait_exit(0ms).has_value()) << "the worker died during batch " << done / kBatch;
        const HttpResponse h = http_get(w.port(), "/health");
        ASSERT_EQ(h.status, 200) << "after batch " << done / kBatch;
        ASSERT_EQ(h.json()["status"], "healthy") << h.body;
        ++health_checks;
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();

    std::printf("http mutation: %llu cases (seed %llu) in %.1f s, %llu /health checks after batches all healthy\n",
                static_cast<unsigned long long>(tally.cases), static_cast<unsigned long long>(seed), seconds,
                static_cast<unsigned long long>(health_checks));
    std::printf("http mutation: answers by status:");
    for (const auto& [status, count] : tally.statuses)
        std::printf(" %d:%llu", status, static_cast<unsigned long long>(count));
    std::printf("\nhttp mutation: closed without an answer %llu, reset %llu, held then half-closed %llu, "
                "event streams %llu (%llu complete, %llu OpenAI), OpenAI JSON answers %llu, slowest first byte %lld ms, "
                "failures %zu\n",
                static_cast<unsigned long long>(tally.no_answer), static_cast<unsigned long long>(tally.resets),
                static_cast<unsigned long long>(tally.held_then_half_closed),
                static_cast<unsigned long long>(tally.streams), static_cast<unsigned long long>(tally.complete_streams),
                static_cast<unsigned long long>(tally.openai_streams),
                static_cast<unsigned long long>(tally.openai_answers),
                static_cast<long long>(tally.slowest_answer.count()), tally.failures.size());
    for (const auto& f : tally.failures) ADD_FAILURE() << f;
    EXPECT_EQ(tally.cases, total);
    // The run must have reached the interesting places, not only the parser's front door.
    EXPECT_GT(tally.statuses[200], 0u);
    EXPECT_GT(tally.statuses[400], 0u);
    EXPECT_GT(tally.streams, 0u);
    EXPECT_GT(tally.openai_streams, 0u);
    EXPECT_GT(tally.openai_answers, 0u);
    EXPECT_EQ(tally.statuses[500], 0u);
    // Nothing it sent made the worker fail inside: no INTERNAL outcome.
    const std::string metrics = http_get(w.port(), "/metrics").body;
    EXPECT_NE(metrics.find("worker_requests_total{outcome=\"internal\"} 0\n"), std::string::npos) << metrics;
}

}  // namespace
}  // namespace orcd::itest
