#include "engine/backend.h"

#include "common/error.h"

#include <string>

namespace orcd {

int32_t Backend::sample(const SamplingConfig& cfg, std::span<const int32_t> history, uint64_t seed, uint64_t step) {
    return sample_token(host_logits(), cfg, history, seed, step);
}

TokenLogprob Backend::logprobs(int32_t chosen, size_t n, std::vector<TokenLogprob>& top) {
    return step_logprobs(host_logits(), chosen, n, top);
}

std::span<const float> Backend::host_logits() {
    logits_host_.resize(n_vocab_);
    read_logits(logits_host_);
    return logits_host_;
}

void Backend::forward(const int32_t* tokens, uint32_t n, uint32_t pos) {
    // A decode step (n = 1) needs no heap allocation.
    uint32_t pos1 = pos, seq1 = 0;
    std::vector<uint32_t> positions, seqs;
    Batch b{std::span<const int32_t>(tokens, n), std::span<const uint32_t>(&pos1, 1), std::span<const uint32_t>(&seq1, 1)};
    if (n != 1) {
        positions.resize(n);
        seqs.assign(n, 0);
        for (uint32_t i = 0; i < n; ++i) positions[i] = pos + i;
        b.pos = positions;
        b.seq = seqs;
    }
    forward(b);
}

void Backend::check_batch(const Batch& b, uint32_t max_batch, uint32_t n_vocab, const KvLayout& kv) const {
    const uint32_t n = b.size();
    if (n == 0 || n > max_batch || b.pos.size() != n || b.seq.size() != n)
        fail(ORCD_INTERNAL, "forward: batch of " + std::to_string(n) + " tokens (max " + std::to_string(max_batch) +
                                ") with " + std::to_string(b.pos.size()) + " positions and " +
                                std::to_string(b.seq.size()) + " slots");
    for (uint32_t i = 0; i < n; ++i) {
        if (b.tokens[i] < 0 || uint32_t(b.tokens[i]) >= n_vocab)
            fail(ORCD_INTERNAL, "token id " + std::to_string(b.tokens[i]) + " out of range (vocab " +
                                    std::to_string(n_vocab) + ")");
        if (b.seq[i] >= kv.n_seq)
            fail(ORCD_INTERNAL, "sequence slot " + std::to_string(b.seq[i]) + " of " + std::to_string(kv.n_seq));
        if (b.pos[i] >= kv.n_ctx)
            fail(ORCD_INVALID_REQUEST, "KV cache full: position " + std::to_string(b.pos[i]) +
                                           " exceeds the context of " + std::to_string(kv.n_ctx));
    }
}

}  // namespace orcd
