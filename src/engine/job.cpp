#include "engine/job.h"

#include "common/error.h"
#include "common/fault_injection.h"

#include <cmath>
#include <cstdio>
#include <random>

namespace orcd {

namespace {

void validate(const JobParams& p, const Model& m) {
    const SamplingConfig& s = p.sampling;
    auto bad = [](const std::string& why) { fail(ORCD_INVALID_REQUEST, why); };
    if (p.max_tokens == 0) bad("max_tokens must be at least 1");
    if (!std::isfinite(s.temperature) || s.temperature < 0) bad("temperature must be a finite number >= 0");
    if (!(s.top_p >= 0 && s.top_p <= 1)) bad("top_p must be in [0, 1]");
    if (s.top_k < 0) bad("top_k must be >= 0");
    if (!(s.min_p >= 0 && s.min_p <= 1)) bad("min_p must be in [0, 1]");
    if (!std::isfinite(s.repetition_penalty) || s.repetition_penalty <= 0) bad("repetition_penalty must be > 0");
    if (s.repetition_last_n < 0) bad("repetition_last_n must be >= 0");
    if (p.stop.size() > ORCD_MAX_STOP_SEQUENCES) bad("at most 4 stop sequences");
    for (const std::string& s2 : p.stop)
        if (s2.empty()) bad("stop sequences must not be empty");
    if (!(p.timeout_seconds >= 0)) bad("timeout must be >= 0");
    if (!(s.presence_penalty >= -2 && s.presence_penalty <= 2)) bad("presence_penalty must be in [-2, 2]");
    if (!(s.frequency_penalty >= -2 && s.frequency_penalty <= 2)) bad("frequency_penalty must be in [-2, 2]");
    if (p.top_logprobs > kMaxTopLogprobs) bad("top_logprobs must be at most " + std::to_string(kMaxTopLogprobs));
    (void)m;
}

uint64_t fresh_seed() {
    std::random_device rd;
    return (uint64_t(rd()) << 32) ^ rd();
}

uint64_t fnv1a(const float* data, size_t n) {
    uint64_t h = 1469598103934665603ull;
    const auto* b = reinterpret_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n * sizeof(float); ++i) h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

// "0.2 s", "300 s": the shortest text that reads back as the value.
std::string seconds_text(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g s", s);
    return buf;
}

double ms_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

Job::Job(Model& model, std::string_view prompt, const JobParams& params)
    : Job(model, params, [&] {
          if (fault::should_fail(fault::Point::Tokenizer)) fail(ORCD_INTERNAL, "tokenizer failure (injected)");
          return model.tokenizer().encode(prompt, /*add_bos=*/true, params.parse_special);
      }) {}

Job::Job(Model& model, std::span<const int32_t> prompt_ids, const JobParams& params)
    : Job(model, params, [&] {
          const size_t n_vocab = model.tokenizer().vocab_size();
          for (const int32_t id : prompt_ids)
              if (id < 0 || size_t(id) >= n_vocab)
                  fail(ORCD_INVALID_REQUEST, "prompt token " + std::to_string(id) + " is outside the vocabulary of " +
                                                 std::to_string(n_vocab) + " tokens");
          return std::vector<int32_t>(prompt_ids.begin(), prompt_ids.end());
      }) {}

template <typename Tokenize>
Job::Job(Model& model, const JobParams& params, Tokenize&& tokenize)
    : model_(model), params_(params), decoder_(model.tokenizer()), stop_(params.stop), created_(Clock::now()) {
    validate(params_, model_);
    if (params_.sampling.temperature < kGreedyBelowTemperature) params_.sampling.temperature = 0.0f;
    if (!model_.try_acquire()) fail(ORCD_BUSY, "another job is running on this model");
    fault::job_started();
    try {
        prompt_ = tokenize();
        if (prompt_.empty()) fail(ORCD_INVALID_REQUEST, "the prompt encodes to no tokens");
        const uint64_t need = uint64_t(prompt_.size()) + params_.max_tokens;
        if (need > model_.kv().capacity())
            fail(ORCD_INVALID_REQUEST, "prompt (" + std::to_string(prompt_.size()) + " tokens) + max_tokens (" +
                                           std::to_string(params_.max_tokens) + ") exceeds the context of " +
                                           std::to_string(model_.kv().capacity()) + " tokens");
    } catch (...) {
        model_.release();
        throw;
    }
    seed_ = params_.seed ? *params_.seed : fresh_seed();
    if (params_.timeout_seconds > 0)
        deadline_ = created_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(params_.timeout_seconds));
    history_ = prompt_;
    stats_.seed = seed_;
    stats_.prompt_tokens = uint32_t(prompt_.size());
    stats_.stop_sequence_index = -1;
}

Job::~Job() {
    try {
        model_.backend().end_job();
    } catch (...) {
        // A failing release must not take the process down; the next job's
        // reset reclaims the memory.
    }
    model_.release();
}

void Job::check_interrupts() const {
    if (cancelled_.load(std::memory_order_relaxed)) fail(ORCD_CANCELLED, "the job was cancelled");
    if (deadline_ && Clock::now() > *deadline_)
        fail(ORCD_INFERENCE_TIMEOUT, "the job ran past its inference timeout of " + seconds_text(params_.timeout_seconds));
}

void Job::prefill() {
    Backend& be = model_.backend();
    KvCache& kv = model_.kv();
    kv.reset();
    be.begin_job();
    for (size_t at = 0; at < prompt_.size(); at += model_.max_batch()) {
        check_interrupts();
        const uint32_t n = uint32_t(std::min<size_t>(model_.max_batch(), prompt_.size() - at));
        be.forward(&prompt_[at], n, kv.append(n));
    }
}

// The walk of one step. The first call prefills the prompt; each call then
// samples one token from the latest logits, turns it into text and decides
// whether the job ends; later calls first feed the previous token back.
JobEvent Job::next() {
    if (done_) fail(ORCD_INVALID_REQUEST, "the job has already ended");
    check_interrupts();
    Backend& be = model_.backend();
    if (!started_) {
        const auto t = Clock::now();
        prefill();
        started_ = true;
        stats_.prefill_ms = ms_since(t);
        decode_start_ = Clock::now();
    } else {
        be.forward(&history_.back(), 1, model_.kv().append(1));
    }

    JobEvent ev;
    ev.index = produced_;
    // Unless this is the last token the job may produce, the next call
    // forwards it: the backend may start that step already.
    ev.token = produced_ + 1 < params_.max_tokens
                   ? be.sample_then_step(params_.sampling, history_, seed_, produced_, model_.kv().position())
                   : be.sample(params_.sampling, history_, seed_, produced_);
    if (produced_ == 0) stats_.time_to_first_token_ms = ms_since(created_);
    if (params_.logprobs) logprob_ = be.logprobs(ev.token, params_.top_logprobs, top_);
    history_.push_back(ev.token);
    ++produced_;
    stats_.tokens_out = produced_;

    if (model_.tokenizer().is_end_of_generation(ev.token)) {
        ev.text = stop_.push(decoder_.finish());
        ev.text += stop_.flush();
        return finish(std::move(ev), ORCD_STOP_EOS);
    }
    ev.text = stop_.push(decoder_.push(ev.token));
    if (stop_.matched() >= 0) {
        stats_.stop_sequence_index = stop_.matched();
        return finish(std::move(ev), ORCD_STOP_SEQUENCE);
    }
    if (produced_ >= params_.max_tokens) {
        ev.text += stop_.push(decoder_.finish());
        if (stop_.matched() >= 0) {
            stats_.stop_sequence_index = stop_.matched();
            return finish(std::move(ev), ORCD_STOP_SEQUENCE);
        }
        ev.text += stop_.flush();
        return finish(std::move(ev), ORCD_STOP_MAX_TOKENS);
    }
    return ev;
}

JobEvent Job::finish(JobEvent ev, orcd_stop_reason reason) {
    done_ = true;
    ev.done = true;
    ev.stop_reason = reason;
    stats_.stop_reason = reason;
    stats_.decode_ms = ms_since(decode_start_);
    std::vector<float> logits(model_.config().n_vocab);
    model_.backend().read_logits(logits);
    stats_.final_logits_hash = fnv1a(logits.data(), logits.size());
    return ev;
}

TokenLogprob Job::last_logprob(std::vector<TokenLogprob>& top) const {
    if (!params_.logprobs) fail(ORCD_INVALID_REQUEST, "the job was created without logprobs");
    if (produced_ == 0) fail(ORCD_INVALID_REQUEST, "the job has not run a step yet");
    top = top_;
    return logprob_;
}

void Job::last_logits(std::span<float> out) {
    if (!started_) fail(ORCD_INVALID_REQUEST, "the job has not run a step yet");
    if (out.size() < model_.config().n_vocab) fail(ORCD_INVALID_REQUEST, "logits buffer smaller than the vocabulary");
    model_.backend().read_logits(out);
}

}  // namespace orcd
