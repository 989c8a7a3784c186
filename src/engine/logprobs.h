// Log-probabilities of a step for clients that ask for them (OpenAI's
// logprobs / top_logprobs): log-softmax of the model's raw logits, before any
// penalty, temperature or filter, so they describe the model and not the
// sampling settings.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace orcd {

struct TokenLogprob {
    int32_t token = -1;
    float logprob = 0.0f;
};

// The chosen token's log-probability and, in top, the n most likely tokens
// (logit descending, id ascending on ties). The sum runs in double.
TokenLogprob step_logprobs(std::span<const float> logits, int32_t chosen, size_t n, std::vector<TokenLogprob>& top);

}  // namespace orcd
