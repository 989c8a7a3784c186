// The sampling pipeline step by step on hand-made logits, then the whole
// pipeline: determinism per (seed, step), the greedy corner cases, and the
// empirical distribution of the draw.
#include "common/error.h"
#include "engine/philox.h"
#include "engine/sampler.h"
#include "engine/softmax_exp.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <vector>

namespace orcd {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

std::vector<int32_t> ids_of(const std::vector<Candidate>& cands) {
    std::vector<int32_t> ids;
    for (const Candidate& c : cands) ids.push_back(c.id);
    return ids;
}

SamplingConfig plain(float temperature = 1.0f) {
    SamplingConfig cfg;
    cfg.temperature = temperature;
    cfg.top_k = 0;
    cfg.top_p = 1.0f;
    cfg.min_p = 0.0f;
    cfg.repetition_penalty = 1.0f;
    return cfg;
}

// ---- softmax_exp --------------------------------------------------------

TEST(SoftmaxExp, ExactPointsAndRange) {
    EXPECT_EQ(softmax_exp(0.0f), 1.0f);
    EXPECT_EQ(softmax_exp(-86.0f), 0.0f);
    EXPECT_EQ(softmax_exp(-1000.0f), 0.0f);
    EXPECT_EQ(softmax_exp(kNegInf), 0.0f);
    EXPECT_TRUE(std::isnan(softmax_exp(std::nanf(""))));
    EXPECT_TRUE(std::isinf(softmax_exp(89.0f)));
}

// Relative error against the double-precision exp below 2^-22 across the
// whole range the softmax uses, including the smallest non-zero results.
TEST(SoftmaxExp, AccurateAgainstDoubleExp) {
    double worst = 0.0;
    for (int i = 0; i <= 860000; ++i) {
        const float x = -float(i) * 1e-4f;
        if (x <= -86.0f) break;
        const double want = std::exp(double(x));
        const double rel = std::fabs(double(softmax_exp(x)) - want) / want;
        worst = std::max(worst, rel);
    }
    for (float x = 0.0f; x <= 88.0f; x += 0.01f) {
        const double want = std::exp(double(x));
        worst = std::max(worst, std::fabs(double(softmax_exp(x)) - want) / want);
    }
    EXPECT_LT(worst, std::ldexp(1.0, -22));
}

// ---- argmax --------------------------------------------------------------

TEST(Argmax, LargestAndLowestIdOnTies) {
    const std::vector<float> l = {0.5f, 3.0f, -1.0f, 3.0f, 2.9f};
    EXPECT_EQ(argmax(l), 1);  // ids 1 and 3 tie at 3.0: the lower wins
    const std::vector<float> neg = {-5.0f, -2.0f, -2.0f, kNegInf};
    EXPECT_EQ(argmax(neg), 1);
    const std::vector<float> one = {7.0f};
    EXPECT_EQ(argmax(one), 0);
}

TEST(Argmax, RejectsNaNAndEmpty) {
    const std::vector<float> l = {1.0f, std::nanf(""), 0.0f};
    EXPECT_THROW(argmax(l), Error);
    EXPECT_THROW(argmax(std::span<const float>{}), Error);
}

// ---- repetition penalty ----------------------------------------------------

TEST(RepetitionPenalty, PositiveDividedNegativeMultipliedOncePerToken) {
    std::vector<float> l = {2.0f, -2.0f, 1.0f, 0.5f, -1.0f, 0.0f};
    // id 0 three times, id 1 once, id 5 (a zero logit) once.
    const std::vector<int32_t> history = {0, 1, 0, 0, 5};
    apply_repetition_penalty(l, history, 2.0f, 0);
    EXPECT_EQ(l[0], 1.0f);    // 2 / 2, once (not 2 / 8)
    EXPECT_EQ(l[1], -4.0f);   // -2 * 2
    EXPECT_EQ(l[2], 1.0f);    // not in history
    EXPECT_EQ(l[3], 0.5f);
    EXPECT_EQ(l[4], -1.0f);
    EXPECT_EQ(l[5], 0.0f);    // 0 * 2
}

TEST(RepetitionPenalty, LastNWindow) {
    const std::vector<float> base = {4.0f, 4.0f, 4.0f, -4.0f, -4.0f};
    const std::vector<int32_t> history = {3, 4, 0, 1, 1};

    std::vector<float> l = base;
    apply_repetition_penalty(l, history, 4.0f, 2);  // window {1, 1}
    EXPECT_EQ(l, (std::vector<float>{4.0f, 1.0f, 4.0f, -4.0f, -4.0f}));

    l = base;
    apply_repetition_penalty(l, history, 4.0f, 3);  // window {0, 1, 1}
    EXPECT_EQ(l, (std::vector<float>{1.0f, 1.0f, 4.0f, -4.0f, -4.0f}));

    l = base;
    apply_repetition_penalty(l, history, 4.0f, 0);  // whole history {3, 4, 0, 1}
    EXPECT_EQ(l, (std::vector<float>{1.0f, 1.0f, 4.0f, -16.0f, -16.0f}));

    l = base;
    apply_repetition_penalty(l, history, 4.0f, 100);  // longer than the history
    EXPECT_EQ(l, (std::vector<float>{1.0f, 1.0f, 4.0f, -16.0f, -16.0f}));
}

TEST(RepetitionPenalty, OneIsNoOpAndBadInputsFail) {
    std::vector<float> l = {0.3f, -0.7f, 1.1f};
    const std::vector<float> before = l;
    const std::vector<int32_t> history = {0, 1, 2};
    apply_repetition_penalty(l, history, 1.0f, 0);
    EXPECT_EQ(l, before);

    const std::vector<int32_t> outside = {3};
    EXPECT_THROW(apply_repetition_penalty(l, outside, 1.5f, 0), Error);
    EXPECT_THROW(apply_repetition_penalty(l, history, 0.0f, 0), Error);
}

// ---- temperature and softmax ------------------------------------------------

// T = 0.5 turns {2, 1, 0} into {4, 2, 0} exactly; softmax:
// e = {1, e^-2, e^-4} = {1, 0.1353353, 0.0183156}, sum 1.1536509,
// p = {0.8668133, 0.1173104, 0.0158762}.
TEST(FilterCandidates, TemperatureThenSoftmax) {
    const std::vector<float> l = {0.0f, 2.0f, 1.0f};
    const std::vector<Candidate> c = filter_candidates(l, plain(0.5f));
    ASSERT_EQ(ids_of(c), (std::vector<int32_t>{1, 2, 0}));
    EXPECT_EQ(c[0].logit, 4.0f);
    EXPECT_EQ(c[1].logit, 2.0f);
    EXPECT_EQ(c[2].logit, 0.0f);
    EXPECT_NEAR(c[0].p, 0.8668133f, 1e-6f);
    EXPECT_NEAR(c[1].p, 0.1173104f, 1e-6f);
    EXPECT_NEAR(c[2].p, 0.0158762f, 1e-6f);

    // T = 2: {0, 1, 0.5}; e = {e^-1, 1, e^-0.5} = {0.3678794, 1, 0.6065307},
    // sum 1.9744101, p = {0.1863237, 0.5064804, 0.3071959}.
    const std::vector<Candidate> hot = filter_candidates(l, plain(2.0f));
    ASSERT_EQ(ids_of(hot), (std::vector<int32_t>{1, 2, 0}));
    EXPECT_NEAR(hot[0].p, 0.5064804f, 1e-6f);
    EXPECT_NEAR(hot[1].p, 0.3071959f, 1e-6f);
    EXPECT_NEAR(hot[2].p, 0.1863237f, 1e-6f);
}

TEST(FilterCandidates, TiesOrderedByIdAndMinusInfinityGetsZero) {
    // Four equal logits: e = 1 each, p = 1/4 exactly; -inf: e = 0.
    const std::vector<float> l = {kNegInf, 1.0f, 1.0f, 1.0f, 1.0f};
    const std::vector<Candidate> c = filter_candidates(l, plain());
    ASSERT_EQ(ids_of(c), (std::vector<int32_t>{1, 2, 3, 4, 0}));
    for (int i = 0; i < 4; ++i) EXPECT_EQ(c[size_t(i)].p, 0.25f);
    EXPECT_EQ(c[4].p, 0.0f);
}

TEST(FilterCandidates, RejectsBrokenLogitsAndTemperature) {
    EXPECT_THROW(filter_candidates(std::vector<float>{1.0f, std::nanf("")}, plain()), Error);
    EXPECT_THROW(filter_candidates(std::vector<float>{1.0f, std::numeric_limits<float>::infinity()}, plain()),
                 Error);
    EXPECT_THROW(filter_candidates(std::vector<float>{kNegInf, kNegInf}, plain()), Error);
    EXPECT_THROW(filter_candidates(std::vector<float>{1.0f}, plain(0.0f)), Error);
    // 1e30 / 1e-10 overflows float: the temperature is to blame.
    try {
        filter_candidates(std::vector<float>{1e30f, 0.0f}, plain(1e-10f));
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ORCD_INVALID_REQUEST);
    }
}

// ---- top-k -------------------------------------------------------------------

// Order by (logit desc, id asc): id1 (3), id3 (3), id2 (2), id0 (1), id4 (0).
TEST(FilterCandidates, TopK) {
    const std::vector<float> l = {1.0f, 3.0f, 2.0f, 3.0f, 0.0f};
    SamplingConfig cfg = plain();

    cfg.top_k = 2;  // ids 1 and 3, equal logits: p = 1/2 each
    std::vector<Candidate> c = filter_candidates(l, cfg);
    ASSERT_EQ(ids_of(c), (std::vector<int32_t>{1, 3}));
    EXPECT_EQ(c[0].p, 0.5f);
    EXPECT_EQ(c[1].p, 0.5f);

    cfg.top_k = 3;  // e = {1, 1, e^-1}, sum 2.3678794, p = {0.4223188, 0.4223188, 0.1553624}
    c = filter_candidates(l, cfg);
    ASSERT_EQ(ids_of(c), (std::vector<int32_t>{1, 3, 2}));
    EXPECT_NEAR(c[0].p, 0.4223188f, 1e-6f);
    EXPECT_NEAR(c[2].p, 0.1553624f, 1e-6f);

    cfg.top_k = 1;
    EXPECT_EQ(ids_of(filter_candidates(l, cfg)), (std::vector<int32_t>{1}));

    cfg.top_k = 10;  // more than the vocabulary: everything survives
    EXPECT_EQ(ids_of(filter_candidates(l, cfg)), (std::vector<int32_t>{1, 3, 2, 0, 4}));
    cfg.top_k = 0;  // off
    EXPECT_EQ(ids_of(filter_candidates(l, cfg)), (std::vector<int32_t>{1, 3, 2, 0, 4}));
}

// ---- top-p -------------------------------------------------------------------

// Eight equal logits: p = 1/8 exactly, cumulative 1/8, 2/8, ... exactly.
TEST(FilterCandidates, TopPExactBoundaryKeepsTheCandidateThatReachesP) {
    const std::vector<float> l(8, 0.5f);
    SamplingConfig cfg = plain();

    cfg.top_p = 0.375f;  // 3/8 reached exactly at the third: keep 3, p = 1/3
    std::vector<Candidate> c = filter_candidates(l, cfg);
    ASSERT_EQ(ids_of(c), (std::vector<int32_t>{0, 1, 2}));
    for (const Candidate& x : c) EXPECT_EQ(x.p, 1.0f / 3.0f);

    cfg.top_p = std::nextafter(0.375f, 1.0f);  // just above 3/8: needs the fourth
    EXPECT_EQ(filter_candidates(l, cfg).size(), 4u);
    cfg.top_p = std::nextafter(0.375f, 0.0f);  // just below: the third reaches it
    EXPECT_EQ(filter_candidates(l, cfg).size(), 3u);
}

// Distinct logits {2, 1, 0, -1}: e = {1, e^-1, e^-2, e^-3} =
// {1, 0.3678794, 0.1353353, 0.0497871}, sum 1.5530018,
// p = {0.6439143, 0.2368828, 0.0871443, 0.0320586}; cumulative 0.6439,
// 0.8808, 0.9679, 1.
TEST(FilterCandidates, TopP) {
    const std::vector<float> l = {0.0f, 2.0f, -1.0f, 1.0f};
    SamplingConfig cfg = plain();

    cfg.top_p = 0.85f;  // 0.6439 < 0.85 <= 0.8808: ids 1, 3
    std::vector<Candidate> c = filter_candidates(l, cfg);
    ASSERT_EQ(ids_of(c), (std::vector<int32_t>{1, 3}));
    // Renormalised by 0.8807971: 0.7310586, 0.2689414.
    EXPECT_NEAR(c[0].p, 0.7310586f, 1e-6f);
    EXPECT_NEAR(c[1].p, 0.2689414f, 1e-6f);

    cfg.top_p = 0.5f;  // the best alone passes 0.5
    EXPECT_EQ(ids_of(filter_candidates(l, cfg)), (std::vector<int32_t>{1}));
    cfg.top_p = 0.0f;  // keeps only the best
    c = filter_candidates(l, cfg);
    ASSERT_EQ(ids_of(c), (std::vector<int32_t>{1}));
    EXPECT_EQ(c[0].p, 1.0f);
    cfg.top_p = 1.0f;  // off: all four, even though the float sum may fall short of 1
    EXPECT_EQ(ids_of(filter_candidates(l, cfg)), (std::vector<int32_t>{1, 3, 0, 2}));
    cfg.top_p = 0.95f;  // 0.8808 < 0.95 <= 0.9679: three
    EXPECT_EQ(ids_of(filter_candidates(l, cfg)), (std::vector<int32_t>{1, 3, 0}));
}

// The boundary on distinct logits: top_p set to the very float the documented
// arithmetic accumulates after two candidates keeps two; the next float up
// keeps three. The softmax is spelled out here as docs/sampling.md gives it
// (the p returned by filter_candidates are already renormalised).
TEST(FilterCandidates, TopPBoundaryOnDistinctLogits) {
    const std::vector<float> l = {0.0f, 2.0f, -1.0f, 1.0f};
    const float sorted[] = {2.0f, 1.0f, 0.0f, -1.0f};
    float e[4], sum = 0.0f;
    for (int i = 0; i < 4; ++i) {
        e[i] = softmax_exp(sorted[i] - sorted[0]);
        sum += e[i];
    }
    const float cum2 = e[0] / sum + e[1] / sum;
    SamplingConfig cfg = plain();
    cfg.top_p = cum2;
    EXPECT_EQ(filter_candidates(l, cfg).size(), 2u);
    cfg.top_p = std::nextafter(cum2, 1.0f);
    EXPECT_EQ(filter_candidates(l, cfg).size(), 3u);
}

// Top-p reads the softmax over the top-k survivors, not over the vocabulary:
// eight equal logits, top_k 4 gives p = 1/4 each, so top_p 0.5 keeps two (over
// all eight, p = 1/8 and it would keep four).
TEST(FilterCandidates, TopPComesAfterTopK) {
    const std::vector<float> l(8, 0.0f);
    SamplingConfig cfg = plain();
    cfg.top_k = 4;
    cfg.top_p = 0.5f;
    EXPECT_EQ(ids_of(filter_candidates(l, cfg)), (std::vector<int32_t>{0, 1}));
}

// ---- min-p -------------------------------------------------------------------

TEST(FilterCandidates, MinP) {
    // p = {0.6439143, 0.2368828, 0.0871443, 0.0320586} as above.
    const std::vector<float> l = {0.0f, 2.0f, -1.0f, 1.0f};
    SamplingConfig cfg = plain();

    cfg.min_p = 0.1f;  // threshold 0.0644: drops id 2 (0.0321)
    std::vector<Candidate> c = filter_candidates(l, cfg);
    ASSERT_EQ(ids_of(c), (std::vector<int32_t>{1, 3, 0}));
    // Renormalised by 0.9679414: {0.6652410, 0.2447285, 0.0900306}.
    EXPECT_NEAR(c[0].p, 0.6652410f, 1e-6f);
    EXPECT_NEAR(c[1].p, 0.2447285f, 1e-6f);
    EXPECT_NEAR(c[2].p, 0.0900306f, 1e-6f);

    cfg.min_p = 0.3f;  // threshold 0.1932: ids 1, 3
    EXPECT_EQ(ids_of(filter_candidates(l, cfg)), (std::vector<int32_t>{1, 3}));
    cfg.min_p = 0.4f;  // threshold 0.2576: id 1 alone
    EXPECT_EQ(ids_of(filter_candidates(l, cfg)), (std::vector<int32_t>{1}));

    // Exact boundary: p = {1/2, 1/2, 0}; min_p 1 puts the threshold at 1/2,
    // and a candidate exactly at the threshold stays.
    const std::vector<float> pair = {3.0f, 3.0f, kNegInf};
    cfg.min_p = 1.0f;
    c = filter_candidates(pair, cfg);
    ASSERT_EQ(ids_of(c), (std::vector<int32_t>{0, 1}));
    EXPECT_EQ(c[0].p, 0.5f);

    // min_p above 1 puts the threshold above the best: the best still stays.
    cfg.min_p = 1.5f;
    c = filter_candidates(l, cfg);
    ASSERT_EQ(ids_of(c), (std::vector<int32_t>{1}));
    EXPECT_EQ(c[0].p, 1.0f);
}

// ---- draw --------------------------------------------------------------------

// Buckets of the unit interval, best first: [0, .5) -> 7, [.5, .75) -> 3,
// [.75, .875) -> 9, [.875, 1) -> 1. A cumulative sum equal to u*total does
// not select: the bucket is half-open.
TEST(Draw, EachBucket) {
    const std::vector<Candidate> s = {{7, 0.0f, 0.5f, 0}, {3, 0.0f, 0.25f, 1}, {9, 0.0f, 0.125f, 2}, {1, 0.0f, 0.125f, 3}};
    EXPECT_EQ(draw(s, 0.0f), 7);
    EXPECT_EQ(draw(s, 0.25f), 7);
    EXPECT_EQ(draw(s, std::nextafter(0.5f, 0.0f)), 7);
    EXPECT_EQ(draw(s, 0.5f), 3);
    EXPECT_EQ(draw(s, 0.7f), 3);
    EXPECT_EQ(draw(s, 0.75f), 9);
    EXPECT_EQ(draw(s, 0.8f), 9);
    EXPECT_EQ(draw(s, 0.875f), 1);
    EXPECT_EQ(draw(s, 1.0f - 0x1p-24f), 1);  // the largest u Philox gives
}

TEST(Draw, ScalesUByTheSurvivorsTotal) {
    // Total 0.5: u = 0.5 lands at 0.25, the end of the first bucket.
    const std::vector<Candidate> s = {{4, 0.0f, 0.25f, 0}, {2, 0.0f, 0.25f, 1}};
    EXPECT_EQ(draw(s, std::nextafter(0.5f, 0.0f)), 4);
    EXPECT_EQ(draw(s, 0.5f), 2);
}

TEST(Draw, ZeroProbabilityNeverDrawnAndEmptyFails) {
    const std::vector<Candidate> s = {{5, 0.0f, 1.0f, 0}, {6, 0.0f, 0.0f, 1}};
    EXPECT_EQ(draw(s, 1.0f - 0x1p-24f), 5);
    // No mass at all: the cumulative sum never passes u*total = 0, so the
    // documented fallback, the last survivor, answers.
    const std::vector<Candidate> none = {{5, 0.0f, 0.0f, 0}, {6, 0.0f, 0.0f, 1}};
    EXPECT_EQ(draw(none, 0.5f), 6);
    EXPECT_THROW(draw({}, 0.5f), Error);
}

// The running sums follow the block order of docs/sampling.md, not one
// sequential chain: rank 0 holds 1.0, ranks 64..127 (one block) 2^-24 each,
// rank 128 holds 1.0. One chain would lose every 2^-24 against the 1.0 in
// front of it (total 2); the block adds its 64 members on their own (2^-18)
// before joining the running sum, so the total is 2 + 2^-18 and u = 0.5 puts
// the threshold at 1 + 2^-19, which the running sum passes inside the block:
// at its 34th member, 1 + 34 * 2^-24 (the 33rd rounds to the threshold
// itself, ties to even).
TEST(Draw, SumsFollowTheBlockOrder) {
    std::vector<Candidate> s = {{0, 0.0f, 1.0f, 0}};
    for (uint32_t r = 64; r < 128; ++r) s.push_back(Candidate{int32_t(r), 0.0f, 0x1p-24f, r});
    s.push_back(Candidate{128, 0.0f, 1.0f, 128});
    EXPECT_EQ(draw(s, 0.5f), 64 + 33);
    // The same members as one block each (consecutive ranks 0..65 fall in
    // blocks 0 and 1 only): the tiny ones are lost against 1.0, the threshold
    // is 1 and only the last candidate passes it.
    for (size_t i = 0; i < s.size(); ++i) s[i].rank = 0;
    EXPECT_EQ(draw(s, 0.5f), 128);
}

// ---- sample_token ---------------------------------------------------------------

std::vector<std::vector<float>> random_logits(int steps, int vocab, uint32_t gen_seed) {
    std::mt19937 gen(gen_seed);
    std::normal_distribution<float> dist(0.0f, 3.0f);
    std::vector<std::vector<float>> out(size_t(steps), std::vector<float>(size_t(vocab), 0.0f));
    for (auto& v : out)
        for (float& x : v) x = dist(gen);
    return out;
}

SamplingConfig typical() {
    SamplingConfig cfg;
    cfg.temperature = 0.8f;
    cfg.top_k = 40;
    cfg.top_p = 0.9f;
    cfg.min_p = 0.05f;
    cfg.repetition_penalty = 1.1f;
    cfg.repetition_last_n = 64;
    return cfg;
}

std::vector<int32_t> generate(const std::vector<std::vector<float>>& logits, const SamplingConfig& cfg,
                              uint64_t seed) {
    std::vector<int32_t> history = {1, 17, 300};  // a stand-in prompt
    std::vector<int32_t> out;
    for (size_t step = 0; step < logits.size(); ++step) {
        const int32_t id = sample_token(logits[step], cfg, history, seed, step);
        history.push_back(id);
        out.push_back(id);
    }
    return out;
}

TEST(SampleToken, SameSeedSameSequenceOtherSeedOtherSequence) {
    const auto logits = random_logits(500, 1000, 2024);
    const SamplingConfig cfg = typical();
    const std::vector<int32_t> a = generate(logits, cfg, 42);
    EXPECT_EQ(generate(logits, cfg, 42), a);
    const std::vector<int32_t> b = generate(logits, cfg, 43);
    EXPECT_NE(b, a);
    // Not merely different somewhere: most steps have several candidates, so
    // many positions differ.
    size_t differ = 0;
    for (size_t i = 0; i < a.size(); ++i) differ += a[i] != b[i];
    EXPECT_GT(differ, a.size() / 10);
}

TEST(SampleToken, GreedyCornerCases) {
    const auto logits = random_logits(200, 5000, 7);
    for (size_t step = 0; step < logits.size(); ++step) {
        const int32_t greedy = argmax(logits[step]);
        SamplingConfig cfg = plain(0.8f);

        cfg.top_k = 1;
        EXPECT_EQ(sample_token(logits[step], cfg, {}, 11, step), greedy);
        cfg.top_k = 0;
        cfg.top_p = 0.0f;
        EXPECT_EQ(sample_token(logits[step], cfg, {}, 11, step), greedy);

        // Temperature 0 ignores the seed, top-k/top-p/min-p and the step.
        SamplingConfig zero = typical();
        zero.temperature = 0.0f;
        zero.repetition_penalty = 1.0f;
        EXPECT_EQ(sample_token(logits[step], zero, {}, 1, step), greedy);
        EXPECT_EQ(sample_token(logits[step], zero, {}, 999, step + 5), greedy);
    }
}

TEST(SampleToken, GreedySeesThePenalty) {
    // id 0 leads until it is penalised: 3 / 2 = 1.5 < 2.
    const std::vector<float> l = {3.0f, 2.0f, 1.0f};
    SamplingConfig cfg = plain(0.0f);
    cfg.repetition_penalty = 2.0f;
    EXPECT_EQ(sample_token(l, cfg, std::vector<int32_t>{0}, 0, 0), 1);
    EXPECT_EQ(sample_token(l, cfg, std::vector<int32_t>{2}, 0, 0), 0);
    // The caller's logits are not modified.
    EXPECT_EQ(l[0], 3.0f);
}

// T 0.8 on {2, 1.5, 1.4, 0.3, -0.5, -1, 0.9, 1.6}: scaled {2.5, 1.875, 1.75,
// 0.375, -0.625, -1.25, 1.125, 2.0}; order id0, id7, id1, id2, id6, id3, ...
// top_k 5 -> {0, 7, 1, 2, 6}, softmax p = {0.3488, 0.2116, 0.1867, 0.1648,
// 0.0882}; top_p 0.8: cumulative 0.3488, 0.5604, 0.7471, 0.9119 -> keeps four;
// min_p 0.5: threshold 0.1744 drops id 2 (0.1648). Survivors {0, 7, 1} with
// p = {0.4669, 0.2832, 0.2499} after renormalising by 0.7471.
TEST(SampleToken, EmpiricalFrequenciesMatchProbabilities) {
    const std::vector<float> l = {2.0f, 1.5f, 1.4f, 0.3f, -0.5f, -1.0f, 0.9f, 1.6f};
    SamplingConfig cfg = plain(0.8f);
    cfg.top_k = 5;
    cfg.top_p = 0.8f;
    cfg.min_p = 0.5f;
    const std::vector<Candidate> s = filter_candidates(l, cfg);
    ASSERT_EQ(ids_of(s), (std::vector<int32_t>{0, 7, 1}));
    EXPECT_NEAR(s[0].p, 0.4669f, 1e-4f);
    EXPECT_NEAR(s[1].p, 0.2832f, 1e-4f);
    EXPECT_NEAR(s[2].p, 0.2499f, 1e-4f);

    constexpr int kDraws = 20000;
    std::map<int32_t, int> counts;
    for (int step = 0; step < kDraws; ++step) ++counts[sample_token(l, cfg, {}, 2718, uint64_t(step))];
    int seen = 0;
    for (const Candidate& c : s) {
        // Within 4.5 binomial standard errors: sqrt(p (1 - p) / n) <= 0.0036.
        const double f = double(counts[c.id]) / kDraws;
        const double se = std::sqrt(double(c.p) * (1.0 - c.p) / kDraws);
        EXPECT_NEAR(f, c.p, 4.5 * se) << "id " << c.id;
        seen += counts[c.id];
    }
    EXPECT_EQ(seen, kDraws) << "a filtered-out id was drawn";
}

TEST(SampleToken, NegativeTemperatureIsInvalid) {
    const std::vector<float> l = {1.0f, 2.0f};
    try {
        sample_token(l, plain(-0.5f), {}, 0, 0);
        ADD_FAILURE() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ORCD_INVALID_REQUEST);
    }
}

// The full vocabulary of a large model through every filter: the survivors
// stay sorted, their probabilities sum to 1, and the top-k path (partial
// selection) agrees with the full sort.
TEST(SampleToken, LargeVocabularyTopKMatchesFullSort) {
    const auto logits = random_logits(1, 152064, 5);
    SamplingConfig k = plain(0.7f);
    k.top_k = 40;
    SamplingConfig full = plain(0.7f);
    const std::vector<Candidate> a = filter_candidates(logits[0], k);
    const std::vector<Candidate> b = filter_candidates(logits[0], full);
    ASSERT_EQ(a.size(), 40u);
    ASSERT_EQ(b.size(), logits[0].size());
    float sum = 0.0f;
    for (size_t i = 0; i < a.size(); ++i) {
        EXPECT_EQ(a[i].id, b[i].id);
        EXPECT_EQ(a[i].logit, b[i].logit);
        if (i > 0) {
            EXPECT_TRUE(a[i - 1].logit > a[i].logit || (a[i - 1].logit == a[i].logit && a[i - 1].id < a[i].id));
        }
        sum += a[i].p;
    }
    EXPECT_NEAR(sum, 1.0f, 1e-5f);
}

// Candidate order is defined by a comparison (logit descending, then id
// ascending); the sampler sorts by the logits' bits. On logits built to
// stress that (many exact ties, -0 beside +0, -inf, subnormals, both signs,
// the largest floats), every candidate's place must be the comparison's,
// for the whole vocabulary and for top-k.
TEST(FilterCandidates, OrderEqualsTheComparisonSortOnHardLogits) {
    std::mt19937_64 rng(7);
    const float specials[] = {0.0f, -0.0f, kNegInf, 1e-45f, -1e-45f, 1.17e-38f, -1.17e-38f, 3.4e38f, -3.4e38f,
                              1.0f, -1.0f, 0.5f};
    for (const size_t n : {size_t(1), size_t(5), size_t(64), size_t(1000), size_t(70000)}) {
        std::vector<float> l(n);
        std::normal_distribution<float> nd(0.0f, 4.0f);
        for (float& x : l) {
            const uint64_t r = rng() % 4;
            x = r == 0 ? specials[rng() % std::size(specials)] : r == 1 ? std::round(nd(rng)) : nd(rng);
        }
        l[rng() % n] = 9.0f;  // one finite best, so that the softmax is defined
        std::vector<int32_t> want(n);
        for (size_t i = 0; i < n; ++i) want[i] = int32_t(i);
        std::stable_sort(want.begin(), want.end(), [&](int32_t a, int32_t b) { return l[size_t(a)] > l[size_t(b)]; });
        SamplingConfig cfg = plain(1.0f);
        const std::vector<Candidate> all = filter_candidates(l, cfg);
        ASSERT_EQ(ids_of(all), want) << "n=" << n;
        for (size_t i = 0; i < n; ++i) {
            EXPECT_EQ(all[i].rank, uint32_t(i));
            EXPECT_EQ(std::signbit(all[i].logit), std::signbit(l[size_t(all[i].id)])) << "the logit is the input's";
        }
        cfg.top_k = int32_t(n / 2 + 1);
        const std::vector<Candidate> k = filter_candidates(l, cfg);
        ASSERT_EQ(ids_of(k), std::vector<int32_t>(want.begin(), want.begin() + std::ptrdiff_t(k.size())));
        EXPECT_EQ(k.size(), std::min(n, n / 2 + 1));
    }
}

}  // namespace
}  // namespace orcd

namespace orcd {
namespace {

// OpenAI's rule, by hand: l -= count x frequency + presence, for the tokens
// generated so far only (the prompt part of the history is left alone).
TEST(PresenceFrequencyPenalty, HandComputedOnTheOutputOnly) {
    std::vector<float> l = {1.0f, 2.0f, 3.0f, 0.5f};
    const std::vector<int32_t> output = {2, 2, 1};
    apply_presence_frequency_penalty(l, output, 0.5f, 1.0f);
    EXPECT_EQ(l, (std::vector<float>{1.0f, 0.5f, 0.5f, 0.5f}));

    SamplingConfig cfg;
    cfg.temperature = 0;
    cfg.presence_penalty = 0.5f;
    cfg.frequency_penalty = 1.0f;
    const std::vector<float> logits = {1.0f, 2.0f, 3.0f, 0.5f};
    // history = prompt {0, 0} + output {2, 2, 1}: token 0 is not penalised.
    const std::vector<int32_t> history = {0, 0, 2, 2, 1};
    EXPECT_EQ(sample_token(logits, cfg, history, 1, 3), 0);
    // With no output yet nothing is penalised: argmax is 2.
    EXPECT_EQ(sample_token(logits, cfg, std::vector<int32_t>{0, 0}, 1, 0), 2);
    // Negative penalties encourage repetition.
    std::vector<float> neg = {1.0f, 2.0f, 3.0f};
    apply_presence_frequency_penalty(neg, std::vector<int32_t>{0}, -1.0f, -1.5f);
    EXPECT_EQ(neg[0], 3.5f);
    EXPECT_THROW(apply_presence_frequency_penalty(neg, std::vector<int32_t>{9}, 1.0f, 0.0f), Error);
}

}  // namespace
}  // namespace orcd
