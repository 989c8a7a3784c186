#include "engine/backend.h"

namespace orcd {

int32_t Backend::sample(const SamplingConfig& cfg, std::span<const int32_t> history, uint64_t seed, uint64_t step) {
    logits_host_.resize(n_vocab_);
    read_logits(logits_host_);
    return sample_token(logits_host_, cfg, history, seed, step);
}

}  // namespace orcd
