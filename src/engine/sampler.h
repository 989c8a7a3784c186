// The sampling pipeline (CPU reference; the CUDA sampler reproduces it).
//
// Order, fixed and documented (docs/sampling.md):
//   1. repetition penalty over the last `repetition_last_n` tokens of
//      prompt + output (0 = all), each distinct token once: a positive logit
//      is divided by the penalty, a negative one multiplied (llama.cpp);
//   1b. presence / frequency penalty (OpenAI's rule) over the tokens generated
//      so far (the last `step` entries of history): l -= count x frequency +
//      (count > 0) x presence;
//   2. temperature: logits / T; T == 0 short-circuits to greedy argmax
//      (lowest id wins ties) with no random draw;
//   3. top-k (0 = off, clamped to the vocabulary);
//   4. top-p: softmax over the top-k survivors, then keep candidates, best
//      first, up to and including the one whose cumulative probability
//      reaches p (at least one always survives);
//   5. min-p: drop candidates whose probability is below min_p x the largest;
//   6. renormalise the survivors, then one draw u = philox_uniform(seed,
//      step) walked along the survivors (best first) by cumulative mass.
// Candidates are ordered by logit descending, then id ascending, so the order
// (and so the draw) is fully determined by the logits.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace orcd {

struct SamplingConfig {
    float temperature = 1.0f;
    int32_t top_k = 0;
    float top_p = 1.0f;
    float min_p = 0.0f;
    float repetition_penalty = 1.0f;
    int32_t repetition_last_n = 64;
    float presence_penalty = 0.0f;   // -2..2; 0 = off
    float frequency_penalty = 0.0f;  // -2..2; 0 = off
};

// A job takes a temperature above 0 and below this as 0 (greedy). Such a
// draw is greedy already, but for logits less than ~1e-5 apart, and near
// float's smallest a temperature overflows finite logits (l / T) to +inf:
// the sampler's INVALID_REQUEST would then come after the stream started,
// for a value the request checks let through. vLLM draws the same line.
constexpr float kGreedyBelowTemperature = 1e-5f;

struct Candidate {
    int32_t id;
    float logit;    // after penalty and temperature
    float p;        // probability (filled by the softmax steps)
    uint32_t rank;  // position in candidate order before any cut: its sum block is rank / kSumBlock
};

// Greedy argmax: the largest logit, the lowest id on ties.
int32_t argmax(std::span<const float> logits);

// Step 1, in place. `history` is prompt + output so far, oldest first.
void apply_repetition_penalty(std::span<float> logits, std::span<const int32_t> history,
                              float penalty, int32_t last_n);

// Step 1b, in place. `output` is the generated tokens so far.
void apply_presence_frequency_penalty(std::span<float> logits, std::span<const int32_t> output,
                                      float presence, float frequency);

// Steps 2-5: returns the surviving candidates, best first, with `p` set to
// their renormalised probabilities (they sum to 1). temperature must be > 0.
std::vector<Candidate> filter_candidates(std::span<const float> logits, const SamplingConfig& cfg);

// Step 6: the draw. u in [0, 1).
int32_t draw(const std::vector<Candidate>& survivors, float u);

// The whole pipeline on a copy of the logits. history is prompt + output;
// step is the index of the token being sampled, so the last `step` entries of
// history are the output so far.
int32_t sample_token(std::span<const float> logits, const SamplingConfig& cfg,
                     std::span<const int32_t> history, uint64_t seed, uint64_t step);

}  // namespace orcd
