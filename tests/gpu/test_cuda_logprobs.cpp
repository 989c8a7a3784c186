// Log-probabilities on the device (backend/cuda/logprobs.h) against the
// host's step_logprobs (engine/logprobs.h) on the same rows. The top lists
// must be the same ids in the same order. The values may differ where the
// two log-sum-exps, equal up to double rounding (~1e-15 relative: the host
// adds in row order, the device in a fixed tree), fall on either side of a
// float's rounding boundary: at most 1 ulp, and rarely (the stats line says
// how often).
#include "backend/cuda/logprobs.h"
#include "engine/logprobs.h"
#include "gpu_test_util.h"

#include <bit>
#include <cmath>
#include <cstdlib>
#include <limits>

namespace orcd {
namespace {

using test::Gpu;

std::vector<float> random_row(uint32_t V, std::mt19937_64& rng) {
    std::normal_distribution<float> d(0.0f, std::uniform_real_distribution<float>(0.5f, 8.0f)(rng));
    std::vector<float> x(V);
    for (float& v : x) v = d(rng);
    if (V < 8) return x;
    // ties at the top and in the body, signed zeros, masked tokens
    const uint32_t a = uint32_t(rng() % V), b = uint32_t(rng() % V);
    x[a] = x[b] = *std::max_element(x.begin(), x.end()) + 0.25f;
    for (int i = 0; i < 40; ++i) x[rng() % V] = x[rng() % V];
    x[rng() % V] = 0.0f;
    x[rng() % V] = -0.0f;
    for (int i = 0; i < 5; ++i) x[rng() % V] = -std::numeric_limits<float>::infinity();
    return x;
}

int64_t ulps(float a, float b) {
    if (a == b) return 0;
    auto key = [](float f) {
        const int32_t i = std::bit_cast<int32_t>(f);
        return i < 0 ? int64_t(INT32_MIN) - int64_t(i) : int64_t(i);
    };
    return std::llabs(key(a) - key(b));
}

TEST(CudaLogprobs, EqualsTheHostOnRandomRows) {
    ORCD_REQUIRE_CUDA();
    Gpu g;
    std::mt19937_64 rng(77);
    const uint32_t vocabs[] = {1, 5, 512, 1025, 32000, 151936, 201088};
    const uint32_t tops[] = {0, 1, 5, 20, 32};
    int rows = 0, values = 0, off_by_one = 0;
    for (uint32_t V : vocabs) {
        cuda::GpuLogprobs lp(g.alloc(), V);
        for (int r = 0; r < 12; ++r) {
            const std::vector<float> row = random_row(V, rng);
            cuda::DeviceBuffer d = g.upload(row);
            const uint32_t n = tops[rng() % 5];
            int32_t chosen = int32_t(rng() % V);
            if (!std::isfinite(row[size_t(chosen)])) chosen = 0;
            std::vector<TokenLogprob> gpu_top, cpu_top;
            TokenLogprob gpu{};
            // Every other row on the own stream behind a mark on ours.
            const bool after_mark = r % 2 == 1;
            if (after_mark) lp.mark(g.stream());
            ASSERT_TRUE(lp.compute(d.as<float>(), chosen, n, g.stream(), after_mark, gpu, gpu_top))
                << "V=" << V << " n=" << n;
            const TokenLogprob cpu = step_logprobs(row, chosen, n, cpu_top);
            ++rows;
            ASSERT_EQ(gpu.token, chosen);
            ASSERT_EQ(gpu_top.size(), cpu_top.size()) << "V=" << V << " n=" << n;
            auto check = [&](float a, float b, const char* what, size_t k) {
                ++values;
                const int64_t u = ulps(a, b);
                off_by_one += u == 1;
                EXPECT_LE(u, 1) << what << " " << k << ": gpu " << a << " cpu " << b << " (V=" << V << ", n=" << n
                                << ")";
            };
            check(gpu.logprob, cpu.logprob, "chosen", 0);
            for (size_t k = 0; k < cpu_top.size(); ++k) {
                EXPECT_EQ(gpu_top[k].token, cpu_top[k].token) << "rank " << k << " (V=" << V << ", n=" << n << ")";
                check(gpu_top[k].logprob, cpu_top[k].logprob, "rank", k);
            }
            // The same row again: the same bits.
            std::vector<TokenLogprob> again_top;
            TokenLogprob again{};
            ASSERT_TRUE(lp.compute(d.as<float>(), chosen, n, g.stream(), false, again, again_top));
            EXPECT_EQ(std::bit_cast<uint32_t>(again.logprob), std::bit_cast<uint32_t>(gpu.logprob));
            for (size_t k = 0; k < again_top.size(); ++k) {
                EXPECT_EQ(again_top[k].token, gpu_top[k].token);
                EXPECT_EQ(std::bit_cast<uint32_t>(again_top[k].logprob), std::bit_cast<uint32_t>(gpu_top[k].logprob));
            }
        }
    }
    std::printf("[ stats    ] logprobs: %d rows, %d values, %d one ulp from the host's, the rest equal\n", rows, values,
                off_by_one);
}

// Rows the host's rule must decide (a NaN or +inf logit, a row of -inf) and
// requests the device does not serve (more than kMaxTop, a bad id) come
// back false, for the caller to compute on the host.
TEST(CudaLogprobs, LeavesWhatTheHostDecidesToTheHost) {
    ORCD_REQUIRE_CUDA();
    Gpu g;
    const uint32_t V = 3000;
    cuda::GpuLogprobs lp(g.alloc(), V);
    std::mt19937_64 rng(3);
    std::vector<TokenLogprob> top;
    TokenLogprob out{};
    const float inf = std::numeric_limits<float>::infinity();
    for (const float bad : {std::numeric_limits<float>::quiet_NaN(), inf}) {
        std::vector<float> row = random_row(V, rng);
        row[2999] = bad;
        cuda::DeviceBuffer d = g.upload(row);
        EXPECT_FALSE(lp.compute(d.as<float>(), 1, 5, g.stream(), false, out, top)) << bad;
    }
    cuda::DeviceBuffer masked = g.upload(std::vector<float>(V, -inf));
    EXPECT_FALSE(lp.compute(masked.as<float>(), 1, 5, g.stream(), false, out, top));
    cuda::DeviceBuffer fine = g.upload(random_row(V, rng));
    EXPECT_FALSE(lp.compute(fine.as<float>(), 1, cuda::GpuLogprobs::kMaxTop + 1, g.stream(), false, out, top));
    EXPECT_FALSE(lp.compute(fine.as<float>(), -1, 5, g.stream(), false, out, top));
    EXPECT_FALSE(lp.compute(fine.as<float>(), int32_t(V), 5, g.stream(), false, out, top));
    EXPECT_TRUE(lp.compute(fine.as<float>(), int32_t(V) - 1, 5, g.stream(), false, out, top));
    EXPECT_EQ(top.size(), 5u);
}

}  // namespace
}  // namespace orcd
