// Failures that cannot be provoked from outside, made to happen through the
// test-only fault-injection hook (ORCD_FAULT_INJECT, present only in builds
// with ORCD_FAULT_INJECTION): each must surface as its row of the error
// table, and a failure inside a job must leave the worker serving.
#include "http_client.h"
#include "stream_checks.h"
#include "worker_process.h"

#include "common/test_paths.h"

#include <gtest/gtest.h>

namespace orcd::itest {
namespace {

using nlohmann::json;

WorkerOptions with_fault(const std::string& spec) {
    WorkerOptions o;
    o.env = {{"ORCD_FAULT_INJECT", spec}};
    return o;
}

void expect_next_request_served(uint16_t port) {
    const StreamResult r = execute(port, exec_body("after-fault", kShortPrompt, {{"temperature", 0}, {"max_tokens", 4}}));
    ASSERT_EQ(r.head.status, 200) << r.head.body;
    EXPECT_TRUE(well_formed(r.events));
    EXPECT_EQ(terminal_type(r.events), "end");
}

TEST(Faults, TokenizerFailureIsInternalAndTheWorkerKeepsServing) {
    WorkerProcess w(with_fault("tokenizer@1"));
    const HttpResponse r = http_post_json(w.port(), "/execute", exec_body("tok", kShortPrompt).dump());
    EXPECT_EQ(r.status, 500) << r.body;
    EXPECT_EQ(r.json()["code"], "INTERNAL");
    EXPECT_EQ(r.json()["retriable"], false);
    EXPECT_TRUE(w.wait_for_event("execute_rejected", {{"job_id", "tok"}, {"code", "INTERNAL"}}, 5s));
    expect_next_request_served(w.port());
}

// `point@everyN` keeps failing, every N-th event from the first job on (what
// scripts/soak.sh arms for a long run); the jobs between are served.
TEST(Faults, EveryNthTokenizerFailureRecurs) {
    WorkerProcess w(with_fault("tokenizer@every3"));
    std::vector<int> statuses;
    for (int i = 1; i <= 7; ++i) {
        const StreamResult r =
            execute(w.port(), exec_body("every-" + std::to_string(i), kShortPrompt, {{"max_tokens", 2}}));
        statuses.push_back(r.head.status);
        if (r.head.status == 500) EXPECT_EQ(r.error_body["code"], "INTERNAL");
        else EXPECT_EQ(terminal_type(r.events), "end");
    }
    EXPECT_EQ(statuses, (std::vector<int>{200, 200, 500, 200, 200, 500, 200}));
}

TEST(Faults, LostResidencyMakesTheWorkerUnhealthyAndRefusesWithCudaError) {
    // Check 1 runs right after load; check 2 is the one before the first job.
    WorkerProcess w(with_fault("residency@2"));
    const HttpResponse r = http_post_json(w.port(), "/execute", exec_body("res", kShortPrompt).dump());
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_EQ(r.json()["code"], "CUDA_ERROR");
    EXPECT_EQ(r.json()["retriable"], true);
    const json health = json::parse(http_get(w.port(), "/health").body);
    EXPECT_EQ(health["status"], "unhealthy") << health;
    EXPECT_EQ(health["resident"], false) << health;
    const HttpResponse again = http_post_json(w.port(), "/execute", exec_body("res2", kShortPrompt).dump());
    EXPECT_EQ(again.status, 503) << again.body;
    EXPECT_EQ(again.json()["code"], "CUDA_ERROR");
}

TEST(Faults, UnreadableModelFileExitsOne) {
    const ProcessResult r = run_worker_to_exit(
        {"--model", orcd::test::stories_model(), "--port", std::to_string(free_port()), "--device", "cpu"}, 20s,
        {{"ORCD_FAULT_INJECT", "file_read@1"}});
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("MODEL_LOAD_FAILED"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("\"event\":\"error\""), std::string::npos) << r.output;
}

TEST(Faults, JobAllocationFailureIsVramOom) {
    if (!testing_on_gpu()) GTEST_SKIP() << "needs the CUDA backend (ORCD_ITEST_DEVICE=cuda)";
    WorkerProcess w(with_fault("job_alloc@1"));
    const StreamResult r = execute(w.port(), exec_body("oom", kShortPrompt, {{"max_tokens", 8}}));
    if (r.head.status == 200) {
        ASSERT_TRUE(well_formed(r.events));
        const json err = terminal_data(r.events);
        EXPECT_EQ(err["code"], "VRAM_OOM");
        EXPECT_EQ(err["retriable"], true);
        EXPECT_TRUE(err.contains("vram_used") && err.contains("vram_available")) << err;
    } else {
        // The allocation may come at job creation, before the stream.
        EXPECT_EQ(r.head.status, 503) << r.head.body;
        EXPECT_EQ(r.error_body["code"], "VRAM_OOM");
        EXPECT_EQ(r.error_body["retriable"], true);
    }
    expect_next_request_served(w.port());
}

TEST(Faults, KernelLaunchFailureInAJobIsCudaErrorAndTheWorkerKeepsServing) {
    if (!testing_on_gpu()) GTEST_SKIP() << "needs the CUDA backend (ORCD_ITEST_DEVICE=cuda)";
    // The third kernel launch after the first job starts: inside prefill.
    WorkerProcess w(with_fault("kernel_launch@job3"));
    const StreamResult r = execute(w.port(), exec_body("launch", kShortPrompt, {{"max_tokens", 8}}));
    ASSERT_EQ(r.head.status, 200) << r.head.body;
    ASSERT_TRUE(well_formed(r.events));
    const json err = terminal_data(r.events);
    EXPECT_EQ(terminal_type(r.events), "error");
    EXPECT_EQ(err["code"], "CUDA_ERROR");
    EXPECT_EQ(err["retriable"], true);
    EXPECT_TRUE(w.wait_for_event("execute_end", {{"job_id", "launch"}, {"code", "CUDA_ERROR"}}, 5s));
    expect_next_request_served(w.port());
}

TEST(Faults, DeviceAllocationFailureAtLoadExitsOne) {
    if (!testing_on_gpu()) GTEST_SKIP() << "needs the CUDA backend (ORCD_ITEST_DEVICE=cuda)";
    std::vector<std::string> args = {"--model", orcd::test::stories_model(), "--port", std::to_string(free_port())};
    for (const auto& a : device_args()) args.push_back(a);
    const ProcessResult r = run_worker_to_exit(args, 60s, {{"ORCD_FAULT_INJECT", "device_alloc@1"}});
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_EQ(r.output.find("\"event\":\"ready\""), std::string::npos) << r.output;
}

}  // namespace
}  // namespace orcd::itest
