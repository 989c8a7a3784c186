// The CPU reference sampler. Every float operation and its order is part of
// the contract in docs/sampling.md: the CUDA sampler repeats them one for one,
// so both pick the same token from the same logits and (seed, step).
#include "engine/sampler.h"

#include "common/error.h"
#include "engine/philox.h"
#include "engine/softmax_exp.h"
#include "engine/sum_order.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <utility>

namespace orcd {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

// The logits with temperature applied, validated on the way.
std::vector<float> scaled_logits(std::span<const float> logits, float temperature) {
    std::vector<float> scaled(logits.size());
    for (size_t i = 0; i < logits.size(); ++i) {
        const float raw = logits[i];
        // NaN or +inf can only come from a broken forward pass.
        if (!(raw < kInf)) {
            fail(ORCD_INTERNAL, "sampler: logit " + std::to_string(i) + " is " + std::to_string(raw));
        }
        scaled[i] = raw / temperature;
        if (scaled[i] == kInf) {
            fail(ORCD_INVALID_REQUEST, "sampler: temperature " + std::to_string(temperature) +
                                           " is too small: logit " + std::to_string(i) + " overflows");
        }
    }
    return scaled;
}

// An unsigned integer whose ascending order is the float's descending order
// (no NaN here); -0 and +0 share one, as they compare equal.
uint32_t descending_key(float l) {
    uint32_t u;
    std::memcpy(&u, &l, sizeof u);
    if ((u << 1) == 0) u = 0;
    u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
    return ~u;
}

// The candidates in candidate order (logit descending, then id ascending:
// a strict total order, so any sorting algorithm here or on the GPU yields
// the same sequence), the best top_k kept when 0 < top_k < size, each with
// its rank. A least-significant-digit radix sort on the keys above, three
// passes of 11 bits: stable, so equal logits keep the id order they enter
// with. The host sampler runs once a token on the CPU backend and whenever
// the device declines a request, and a comparison sort of a 152k
// vocabulary took ~10x longer.
std::vector<Candidate> ordered_candidates(const std::vector<float>& scaled, int32_t top_k) {
    constexpr int kBits = 11;
    constexpr uint32_t kBuckets = 1u << kBits;
    const size_t n = scaled.size();
    // The sort's arrays outlive the call (one set a sampling thread): a
    // vocabulary's worth of fresh pages every token cost more than the sort.
    thread_local std::vector<uint32_t> key, key_out;
    thread_local std::vector<int32_t> id, id_out;
    key.resize(n);
    key_out.resize(n);
    id.resize(n);
    id_out.resize(n);
    for (size_t i = 0; i < n; ++i) {
        key[i] = descending_key(scaled[i]);
        id[i] = int32_t(i);
    }
    std::vector<size_t> start(kBuckets);
    for (int shift = 0; shift < 32; shift += kBits) {
        std::fill(start.begin(), start.end(), size_t(0));
        for (size_t i = 0; i < n; ++i) ++start[(key[i] >> shift) & (kBuckets - 1)];
        // Every key with the same digit: this pass would move nothing.
        if (std::find(start.begin(), start.end(), n) != start.end()) continue;
        size_t at = 0;
        for (size_t& c : start) at += std::exchange(c, at);
        for (size_t i = 0; i < n; ++i) {
            const size_t to = start[(key[i] >> shift) & (kBuckets - 1)]++;
            key_out[to] = key[i];
            id_out[to] = id[i];
        }
        key.swap(key_out);
        id.swap(id_out);
    }
    const size_t keep = (top_k > 0 && size_t(top_k) < n) ? size_t(top_k) : n;
    std::vector<Candidate> cands(keep);
    for (size_t i = 0; i < keep; ++i) cands[i] = Candidate{id[i], scaled[size_t(id[i])], 0.0f, uint32_t(i)};
    return cands;
}

// Walks the running sums of `p` in the order of engine/sum_order.h: the
// running sum at a candidate is (the sums of the earlier blocks, added in
// order) + (the sum of its block's members up to it, added in order). Calls
// stop(i, cum) at each candidate until it returns true; returns the last cum
// (the total when nothing stops it). Empty blocks add nothing.
template <typename Stop>
float running_sums(const std::vector<Candidate>& cands, Stop stop) {
    float before = 0.0f, within = 0.0f, cum = 0.0f;
    uint32_t block = 0;
    for (size_t i = 0; i < cands.size(); ++i) {
        const uint32_t b = cands[i].rank / kSumBlock;
        if (b != block) {
            before = before + within;
            within = 0.0f;
            block = b;
        }
        within = within + cands[i].p;
        cum = before + within;
        if (stop(i, cum)) break;
    }
    return cum;
}

float total(const std::vector<Candidate>& cands) {
    return running_sums(cands, [](size_t, float) { return false; });
}

// p_i = softmax_exp(l_i - l_max) for every candidate. softmax_exp is built
// of fmaf, which is exact by definition: the FMA instruction and the
// library's software fmaf give the same bits. Without -mfma an x86-64 build
// calls the library, ~25 ns a value (4 ms for a 152k vocabulary, every
// token), so the loop is also compiled for FMA and taken where the CPU has
// it. (No other multiply-add is in the loop to be contracted.)
void exps(std::vector<Candidate>& cands, float l_max) {
    for (Candidate& c : cands) c.p = softmax_exp(c.logit - l_max);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("fma"))) void exps_fma(std::vector<Candidate>& cands, float l_max) {
    for (Candidate& c : cands) c.p = softmax_exp(c.logit - l_max);
}
#endif

void exps_fastest(std::vector<Candidate>& cands, float l_max) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    static const bool has_fma = __builtin_cpu_supports("fma");
    if (has_fma) return exps_fma(cands, l_max);
#endif
    exps(cands, l_max);
}

// p_i = softmax_exp(l_i - l_max) / sum, the sum in the blocked order.
void softmax(std::vector<Candidate>& cands) {
    const float l_max = cands.front().logit;
    if (l_max == -kInf) fail(ORCD_INTERNAL, "sampler: every logit is -inf");
    exps_fastest(cands, l_max);
    const float sum = total(cands);
    for (Candidate& c : cands) c.p = c.p / sum;
}

// Keeps candidates up to and including the first whose cumulative
// probability reaches top_p; top_p >= 1 is off, so float rounding of the
// running sum can never drop the tail.
void apply_top_p(std::vector<Candidate>& cands, float top_p) {
    if (!(top_p < 1.0f)) return;
    size_t keep = cands.size();
    running_sums(cands, [&](size_t i, float cum) {
        if (!(cum >= top_p)) return false;
        keep = i + 1;
        return true;
    });
    cands.resize(keep);
}

// Drops every candidate after the first whose probability is below min_p x
// the best one. A filter, not a prefix cut, so the rule does not depend on
// exp() being monotone; the best is never compared, so min_p > 1 cannot
// leave nothing to draw from.
void apply_min_p(std::vector<Candidate>& cands, float min_p) {
    if (!(min_p > 0.0f)) return;
    const float threshold = min_p * cands.front().p;
    const auto dropped = std::remove_if(cands.begin() + 1, cands.end(),
                                        [threshold](const Candidate& c) { return c.p < threshold; });
    cands.erase(dropped, cands.end());
}

void renormalise(std::vector<Candidate>& cands) {
    const float sum = total(cands);
    for (Candidate& c : cands) c.p = c.p / sum;
}

}  // namespace

int32_t argmax(std::span<const float> logits) {
    if (logits.empty()) fail(ORCD_INTERNAL, "sampler: empty logits");
    size_t best = 0;
    for (size_t i = 0; i < logits.size(); ++i) {
        if (std::isnan(logits[i])) fail(ORCD_INTERNAL, "sampler: logit " + std::to_string(i) + " is NaN");
        // Strictly greater: the lowest id keeps a tie.
        if (logits[i] > logits[best]) best = i;
    }
    return int32_t(best);
}

void apply_repetition_penalty(std::span<float> logits, std::span<const int32_t> history,
                              float penalty, int32_t last_n) {
    if (!(penalty > 0.0f)) {
        fail(ORCD_INVALID_REQUEST, "sampler: repetition penalty must be > 0, got " + std::to_string(penalty));
    }
    if (penalty == 1.0f || history.empty()) return;
    size_t window = history.size();
    if (last_n > 0 && size_t(last_n) < window) window = size_t(last_n);
    std::vector<int32_t> ids(history.end() - std::ptrdiff_t(window), history.end());
    // Each distinct token is penalised once, however often it occurs.
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    for (const int32_t id : ids) {
        if (id < 0 || size_t(id) >= logits.size()) {
            fail(ORCD_INVALID_REQUEST, "sampler: token id " + std::to_string(id) +
                                           " outside the vocabulary of " + std::to_string(logits.size()));
        }
        float& l = logits[size_t(id)];
        // llama.cpp's rule: move the logit towards "less likely" either way.
        if (l <= 0.0f) {
            l = l * penalty;
        } else {
            l = l / penalty;
        }
    }
}

void apply_presence_frequency_penalty(std::span<float> logits, std::span<const int32_t> output,
                                      float presence, float frequency) {
    if ((presence == 0.0f && frequency == 0.0f) || output.empty()) return;
    std::vector<int32_t> ids(output.begin(), output.end());
    std::sort(ids.begin(), ids.end());
    for (size_t i = 0; i < ids.size();) {
        size_t j = i;
        while (j < ids.size() && ids[j] == ids[i]) ++j;
        const int32_t id = ids[i];
        if (id < 0 || size_t(id) >= logits.size()) {
            fail(ORCD_INVALID_REQUEST, "sampler: token id " + std::to_string(id) +
                                           " outside the vocabulary of " + std::to_string(logits.size()));
        }
        // One float product and two float subtractions, in this order.
        float& l = logits[size_t(id)];
        l = l - float(j - i) * frequency;
        l = l - presence;
        i = j;
    }
}

std::vector<Candidate> filter_candidates(std::span<const float> logits, const SamplingConfig& cfg) {
    if (logits.empty()) fail(ORCD_INTERNAL, "sampler: empty logits");
    if (!(cfg.temperature > 0.0f)) {
        fail(ORCD_INTERNAL, "sampler: filter_candidates needs temperature > 0, got " +
                                std::to_string(cfg.temperature));
    }
    std::vector<Candidate> cands = ordered_candidates(scaled_logits(logits, cfg.temperature), cfg.top_k);
    softmax(cands);
    apply_top_p(cands, cfg.top_p);
    apply_min_p(cands, cfg.min_p);
    renormalise(cands);
    return cands;
}

int32_t draw(const std::vector<Candidate>& survivors, float u) {
    if (survivors.empty()) fail(ORCD_INTERNAL, "sampler: no candidate to draw from");
    const float threshold = u * total(survivors);
    int32_t pick = survivors.back().id;
    running_sums(survivors, [&](size_t i, float cum) {
        if (!(cum > threshold)) return false;
        pick = survivors[i].id;
        return true;
    });
    return pick;
}

int32_t sample_token(std::span<const float> logits, const SamplingConfig& cfg,
                     std::span<const int32_t> history, uint64_t seed, uint64_t step) {
    if (!(cfg.temperature >= 0.0f)) {
        fail(ORCD_INVALID_REQUEST, "sampler: temperature must be >= 0, got " + std::to_string(cfg.temperature));
    }
    std::vector<float> penalised(logits.begin(), logits.end());
    apply_repetition_penalty(penalised, history, cfg.repetition_penalty, cfg.repetition_last_n);
    const size_t n_out = std::min<uint64_t>(step, history.size());
    apply_presence_frequency_penalty(penalised, history.subspan(history.size() - n_out), cfg.presence_penalty,
                                     cfg.frequency_penalty);
    if (cfg.temperature == 0.0f) return argmax(penalised);
    return draw(filter_candidates(penalised, cfg), philox_uniform(seed, step));
}

}  // namespace orcd
