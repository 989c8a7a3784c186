// One generation request, walked step by step: validate -> tokenize ->
// prefill -> decode loop (sample, detokenize, stop checks) -> end.
#pragma once

#include "engine/engine.h"
#include "engine/logprobs.h"
#include "engine/sampler.h"
#include "engine/stop_matcher.h"
#include "tokenizer/tokenizer.h"

#include <orcd/orcd.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace orcd {

struct JobParams {
    uint32_t max_tokens = 2048;
    SamplingConfig sampling;
    std::optional<uint64_t> seed;  // generated when absent
    std::vector<std::string> stop;
    double timeout_seconds = 0;    // 0 = no deadline
    bool logprobs = false;         // keep each step's chosen-token log-probability
    uint32_t top_logprobs = 0;     // ... and the most likely tokens (<= kMaxTopLogprobs)
    bool parse_special = false;    // control tokens written in the prompt are matched
};

constexpr uint32_t kMaxTopLogprobs = 20;

struct JobEvent {
    int32_t token = -1;
    uint32_t index = 0;
    std::string text;  // complete UTF-8, possibly empty
    bool done = false;
    orcd_stop_reason stop_reason = ORCD_STOP_NONE;
};

class Job {
public:
    // Takes the model's job slot (BUSY when taken), validates the parameters
    // and the capacity (INVALID_REQUEST), and tokenizes the prompt (BOS added).
    Job(Model& model, std::string_view prompt, const JobParams& params);
    // The same from prompt ids the caller tokenized (e.g. a rendered chat
    // template); ids outside the vocabulary are INVALID_REQUEST.
    Job(Model& model, std::span<const int32_t> prompt_ids, const JobParams& params);
    ~Job();
    Job(const Job&) = delete;
    Job& operator=(const Job&) = delete;

    // The next step of the stream; throws orcd::Error (CANCELLED,
    // INFERENCE_TIMEOUT, VRAM_OOM, CUDA_ERROR, INTERNAL) which ends the job.
    JobEvent next();
    void cancel() { cancelled_.store(true, std::memory_order_relaxed); }
    const orcd_job_stats& stats() const { return stats_; }
    const std::vector<int32_t>& prompt_tokens() const { return prompt_; }
    void last_logits(std::span<float> out);
    // The latest step's log-probabilities (params.logprobs); INVALID_REQUEST
    // when they were not asked for or no step ran yet.
    TokenLogprob last_logprob(std::vector<TokenLogprob>& top) const;

private:
    template <typename Tokenize>
    Job(Model& model, const JobParams& params, Tokenize&& tokenize);
    void check_interrupts() const;
    void prefill();
    JobEvent finish(JobEvent ev, orcd_stop_reason reason);

    using Clock = std::chrono::steady_clock;

    Model& model_;
    JobParams params_;
    std::vector<int32_t> prompt_;
    std::vector<int32_t> history_;  // prompt + output: the repetition window
    StreamDecoder decoder_;
    StopMatcher stop_;
    uint64_t seed_ = 0;
    uint32_t produced_ = 0;
    bool started_ = false;
    bool done_ = false;
    std::atomic<bool> cancelled_{false};
    Clock::time_point created_;
    std::optional<Clock::time_point> deadline_;
    Clock::time_point decode_start_;
    orcd_job_stats stats_{};
    TokenLogprob logprob_;
    std::vector<TokenLogprob> top_;
};

}  // namespace orcd
