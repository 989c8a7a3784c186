// Philox4x32-10 against the Random123 known answers, and the properties the
// sampler relies on: (seed, step) streams that do not overlap, and uniform
// draws in [0, 1).
#include "engine/philox.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <unordered_set>
#include <vector>

namespace orcd {
namespace {

struct Kat {
    std::array<uint32_t, 4> ctr;
    std::array<uint32_t, 2> key;
    std::array<uint32_t, 4> want;
};

Philox4 run_kat(const Kat& k) {
    const uint64_t lo = uint64_t(k.ctr[0]) | (uint64_t(k.ctr[1]) << 32);
    const uint64_t hi = uint64_t(k.ctr[2]) | (uint64_t(k.ctr[3]) << 32);
    const uint64_t key = uint64_t(k.key[0]) | (uint64_t(k.key[1]) << 32);
    return philox4x32_10(lo, hi, key);
}

// Random123 tests/kat_vectors, the three "philox4x32 10" lines
// (columns: counter[4], key[2], expected[4]; counter word 0 first).
TEST(Philox, Random123KnownAnswers) {
    const Kat kats[] = {
        {{0x00000000, 0x00000000, 0x00000000, 0x00000000},
         {0x00000000, 0x00000000},
         {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
        {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
         {0xffffffff, 0xffffffff},
         {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
        {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
         {0xa4093822, 0x299f31d0},
         {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
    };
    for (const Kat& k : kats) {
        const Philox4 r = run_kat(k);
        for (int w = 0; w < 4; ++w) EXPECT_EQ(r.v[w], k.want[size_t(w)]) << "word " << w;
    }
}

// seed 0, step 0 is the all-zero vector above: u = (0x6627e8d5 >> 8) / 2^24.
TEST(Philox, UniformIsTopTwentyFourBitsOfWordZero) {
    EXPECT_EQ(philox_uniform(0, 0), float(0x6627e8) / 16777216.0f);
    // Every draw lies on the 2^-24 lattice, so it is exact in float.
    for (uint64_t step = 0; step < 1000; ++step) {
        const float u = philox_uniform(7, step);
        const float scaled = u * 16777216.0f;
        EXPECT_EQ(scaled, std::floor(scaled));
        EXPECT_EQ(uint32_t(scaled), philox4x32_10(step, 0, 7).v[0] >> 8);
    }
}

// No 4-word window of one seed's stream (blocks of steps 0..n-1 laid end to
// end) appears anywhere in its neighbour's stream, and the u sequences differ.
void expect_disjoint(uint64_t seed_a, uint64_t seed_b) {
    constexpr uint64_t kSteps = 10000;
    auto stream = [](uint64_t seed) {
        std::vector<uint32_t> words;
        words.reserve(kSteps * 4);
        for (uint64_t s = 0; s < kSteps; ++s) {
            const Philox4 r = philox4x32_10(s, 0, seed);
            words.insert(words.end(), r.v, r.v + 4);
        }
        return words;
    };
    struct WindowHash {
        size_t operator()(const std::array<uint32_t, 4>& w) const {
            uint64_t h = 1469598103934665603ull;
            for (uint32_t x : w) h = (h ^ x) * 1099511628211ull;
            return size_t(h);
        }
    };
    const std::vector<uint32_t> a = stream(seed_a), b = stream(seed_b);
    std::unordered_set<std::array<uint32_t, 4>, WindowHash> windows;
    for (size_t i = 0; i + 4 <= a.size(); ++i) windows.insert({a[i], a[i + 1], a[i + 2], a[i + 3]});
    size_t shared = 0;
    for (size_t i = 0; i + 4 <= b.size(); ++i) shared += windows.count({b[i], b[i + 1], b[i + 2], b[i + 3]});
    EXPECT_EQ(shared, 0u) << "seeds " << seed_a << " and " << seed_b;

    // Equal u at the same step happens with probability 2^-24 per step.
    size_t equal_u = 0;
    for (uint64_t s = 0; s < kSteps; ++s) equal_u += philox_uniform(seed_a, s) == philox_uniform(seed_b, s);
    EXPECT_LE(equal_u, 2u) << "seeds " << seed_a << " and " << seed_b;
}

TEST(Philox, NeighbouringSeedsDoNotOverlap) {
    expect_disjoint(0, 1);
    expect_disjoint(42, 43);
    expect_disjoint(0xffffffffull, 0x100000000ull);  // carry into the key's high word
    expect_disjoint(~uint64_t(0) - 1, ~uint64_t(0));
}

// Mean 1/2 and variance 1/12 within 5 standard errors over 1e5 draws
// (se(mean) = sqrt(1/12 / n) = 9.1e-4; se(var) = sqrt((1/80 - 1/144) / n) =
// 2.4e-4), and ten equal buckets each within 5 sigma of n/10 (sigma = 94.9).
TEST(Philox, UniformMomentsAndBuckets) {
    constexpr int kN = 100000;
    double sum = 0.0, sum_sq = 0.0;
    std::array<int, 10> buckets{};
    for (int i = 0; i < kN; ++i) {
        const float u = philox_uniform(12345, uint64_t(i));
        ASSERT_GE(u, 0.0f);
        ASSERT_LT(u, 1.0f);
        sum += u;
        sum_sq += double(u) * u;
        ++buckets[size_t(u * 10.0f)];
    }
    const double mean = sum / kN;
    const double var = sum_sq / kN - mean * mean;
    EXPECT_NEAR(mean, 0.5, 5 * 9.1e-4);
    EXPECT_NEAR(var, 1.0 / 12.0, 5 * 2.4e-4);
    for (int count : buckets) EXPECT_NEAR(count, kN / 10, 5 * 94.9);
}

}  // namespace
}  // namespace orcd
