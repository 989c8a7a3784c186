// The C API additions the OpenAI endpoints stand on, on the real model (CPU):
// jobs from prompt ids, per-step logprobs, presence/frequency penalties, the
// build commit, the chat template and token texts.
#include "common/chat_model.h"
#include "common/test_paths.h"

#include <orcd/orcd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

namespace {

class JobTokens : public ::testing::Test {
protected:
    void SetUp() override { load(orcd::test::stories_model()); }
    void TearDown() override { unload(); }
    void load(const std::string& path) {
        orcd_device_params dp = orcd_device_default_params();
        dp.kind = ORCD_DEVICE_CPU;
        ASSERT_EQ(orcd_device_open(&dp, &dev_), ORCD_OK) << orcd_last_error_detail();
        ASSERT_EQ(orcd_model_load(dev_, path.c_str(), nullptr, &model_), ORCD_OK) << orcd_last_error_detail();
    }
    void unload() {
        orcd_model_free(model_);
        orcd_device_close(dev_);
        model_ = nullptr;
        dev_ = nullptr;
    }
    // Runs a job to its end; returns the generated ids.
    std::vector<int32_t> run(orcd_job* job) {
        std::vector<int32_t> out;
        orcd_job_event ev{};
        do {
            const orcd_status st = orcd_job_next(job, &ev);
            if (st != ORCD_OK) {  // a failed job ends here: ev.done is never set
                ADD_FAILURE() << "orcd_job_next: " << orcd_last_error_detail();
                break;
            }
            out.push_back(ev.token);
        } while (!ev.done);
        orcd_job_free(job);
        return out;
    }
    orcd_job_params greedy(uint32_t max_tokens) {
        orcd_job_params p = orcd_job_default_params();
        p.temperature = 0;
        p.max_tokens = max_tokens;
        return p;
    }
    orcd_device* dev_ = nullptr;
    orcd_model* model_ = nullptr;
};

// llama.cpp's greedy continuations (testdata/golden), started from the ids.
TEST_F(JobTokens, AJobFromPromptIdsReproducesTheGoldenGreedyIds) {
    std::ifstream in(orcd::test::data_path("golden/stories260K-greedy.jsonl"));
    std::string line;
    int checked = 0;
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        const auto g = nlohmann::json::parse(line);
        const auto prompt_ids = g["prompt_ids"].get<std::vector<int32_t>>();
        const auto expected = g["ids"].get<std::vector<int32_t>>();
        const orcd_job_params p = greedy(32);
        orcd_job* job = nullptr;
        ASSERT_EQ(orcd_job_create_tokens(model_, prompt_ids.data(), prompt_ids.size(), &p, &job), ORCD_OK)
            << orcd_last_error_detail();
        const auto got = run(job);
        ASSERT_LE(got.size(), expected.size());
        EXPECT_TRUE(std::equal(got.begin(), got.end(), expected.begin())) << g["prompt"];
        ++checked;
    }
    EXPECT_EQ(checked, 8);
}

TEST_F(JobTokens, BadPromptIdsAreInvalidRequests) {
    const orcd_job_params p = greedy(4);
    orcd_job* job = nullptr;
    const int32_t out_of_range[] = {1, 512};
    EXPECT_EQ(orcd_job_create_tokens(model_, out_of_range, 2, &p, &job), ORCD_INVALID_REQUEST);
    EXPECT_NE(std::string(orcd_last_error_detail()).find("outside the vocabulary"), std::string::npos);
    const int32_t negative[] = {-1};
    EXPECT_EQ(orcd_job_create_tokens(model_, negative, 1, &p, &job), ORCD_INVALID_REQUEST);
    EXPECT_EQ(orcd_job_create_tokens(model_, nullptr, 0, &p, &job), ORCD_INVALID_REQUEST);
    EXPECT_EQ(job, nullptr);
    // The model is free again for a good job.
    const int32_t ok[] = {1, 400};
    ASSERT_EQ(orcd_job_create_tokens(model_, ok, 2, &p, &job), ORCD_OK);
    orcd_job_free(job);
}

TEST_F(JobTokens, LogprobsAreTheLogSoftmaxOfTheStepsLogits) {
    orcd_job_params p = greedy(6);
    p.logprobs = 1;
    p.top_logprobs = 5;
    orcd_job* job = nullptr;
    ASSERT_EQ(orcd_job_create(model_, "Once upon a time", 16, &p, &job), ORCD_OK);
    std::vector<float> logits(512);
    orcd_job_event ev{};
    do {
        ASSERT_EQ(orcd_job_next(job, &ev), ORCD_OK);
        ASSERT_EQ(orcd_job_last_logits(job, logits.data(), logits.size()), ORCD_OK);
        double m = *std::max_element(logits.begin(), logits.end()), z = 0;
        for (float l : logits) z += std::exp(double(l) - m);
        const double log_z = m + std::log(z);
        orcd_token_logprob chosen{}, top[ORCD_MAX_TOP_LOGPROBS];
        size_t n = 0;
        ASSERT_EQ(orcd_job_last_logprobs(job, &chosen, top, ORCD_MAX_TOP_LOGPROBS, &n), ORCD_OK);
        EXPECT_EQ(chosen.token, ev.token);
        EXPECT_NEAR(chosen.logprob, double(logits[size_t(ev.token)]) - log_z, 1e-5);
        ASSERT_EQ(n, 5u);
        EXPECT_EQ(top[0].token, ev.token);  // greedy picks the most likely
        for (size_t i = 0; i < n; ++i) {
            EXPECT_NEAR(top[i].logprob, double(logits[size_t(top[i].token)]) - log_z, 1e-5);
            if (i) {
                EXPECT_GE(top[i - 1].logprob, top[i].logprob);
            }
        }
        // Too small a buffer says how much is needed.
        EXPECT_EQ(orcd_job_last_logprobs(job, &chosen, top, 2, &n), ORCD_INVALID_REQUEST);
        EXPECT_EQ(n, 5u);
    } while (!ev.done);
    orcd_job_free(job);
}

TEST_F(JobTokens, LogprobsMustBeAskedForAndAreBounded) {
    orcd_job_params p = greedy(2);
    orcd_job* job = nullptr;
    ASSERT_EQ(orcd_job_create(model_, "Hi", 2, &p, &job), ORCD_OK);
    orcd_job_event ev{};
    ASSERT_EQ(orcd_job_next(job, &ev), ORCD_OK);
    orcd_token_logprob chosen{};
    size_t n = 0;
    EXPECT_EQ(orcd_job_last_logprobs(job, &chosen, nullptr, 0, &n), ORCD_INVALID_REQUEST);
    orcd_job_free(job);
    p.logprobs = 1;
    p.top_logprobs = ORCD_MAX_TOP_LOGPROBS + 1;
    EXPECT_EQ(orcd_job_create(model_, "Hi", 2, &p, &job), ORCD_INVALID_REQUEST);
    p.top_logprobs = 0;
    p.presence_penalty = 2.5f;
    EXPECT_EQ(orcd_job_create(model_, "Hi", 2, &p, &job), ORCD_INVALID_REQUEST);
}

TEST_F(JobTokens, AFrequencyPenaltyChangesGreedyOutputAndZeroChangesNothing) {
    orcd_job* job = nullptr;
    orcd_job_params p = greedy(48);
    ASSERT_EQ(orcd_job_create(model_, "Once upon a time", 16, &p, &job), ORCD_OK);
    const auto plain = run(job);
    p.frequency_penalty = 0.0f;
    p.presence_penalty = 0.0f;
    ASSERT_EQ(orcd_job_create(model_, "Once upon a time", 16, &p, &job), ORCD_OK);
    EXPECT_EQ(run(job), plain);
    p.frequency_penalty = 2.0f;
    ASSERT_EQ(orcd_job_create(model_, "Once upon a time", 16, &p, &job), ORCD_OK);
    EXPECT_NE(run(job), plain);
}

// A temperature above 0 but below kGreedyBelowTemperature is greedy: the
// same ids as 0, whatever the seed. 1e-40 divided 259 / T to +inf, and the
// job failed after its first token.
TEST_F(JobTokens, ATinyTemperatureIsGreedy) {
    orcd_job* job = nullptr;
    orcd_job_params p = greedy(24);
    ASSERT_EQ(orcd_job_create(model_, "Once upon a time", 16, &p, &job), ORCD_OK);
    const auto plain = run(job);
    for (const float t : {1e-40f, 1e-30f, 9.9e-6f}) {
        for (const uint64_t seed : {1u, 2u}) {
            p.temperature = t;
            p.seed = seed;
            p.has_seed = 1;
            ASSERT_EQ(orcd_job_create(model_, "Once upon a time", 16, &p, &job), ORCD_OK);
            EXPECT_EQ(run(job), plain) << t << " seed " << seed;
        }
    }
}

TEST_F(JobTokens, BuildCommitIsAShortHashOrUnknown) {
    const std::string c = orcd_build_commit();
    EXPECT_TRUE(c == "unknown" || std::regex_match(c, std::regex("[0-9a-f]{12}(-dirty)?"))) << c;
}

TEST_F(JobTokens, ChatTemplateAndTokenTexts) {
    const char* text = "x";
    size_t len = 7;
    ASSERT_EQ(orcd_model_meta_str(model_, "tokenizer.chat_template", &text, &len), ORCD_OK);
    EXPECT_EQ(text, nullptr);  // stories260K has none
    EXPECT_EQ(len, 0u);
    char buf[64];
    size_t n = 0;
    ASSERT_EQ(orcd_token_text(model_, 1, buf, sizeof buf, &n), ORCD_OK);
    EXPECT_EQ(std::string(buf, n), "<s>");
    ASSERT_EQ(orcd_token_piece(model_, 1, buf, sizeof buf, &n), ORCD_OK);
    EXPECT_EQ(n, 0u);  // a control token decodes to nothing
    EXPECT_EQ(orcd_token_text(model_, 512, buf, sizeof buf, &n), ORCD_INVALID_REQUEST);

    const std::string path = orcd::test::temp_dir() + "/chat.gguf";
    orcd::test::write_with_chat_template(orcd::test::stories_model(), path, orcd::test::chatml_template());
    unload();
    load(path);
    ASSERT_EQ(orcd_model_meta_str(model_, "tokenizer.chat_template", &text, &len), ORCD_OK);
    ASSERT_NE(text, nullptr);
    EXPECT_EQ(std::string(text, len), orcd::test::chatml_template());
}

}  // namespace
