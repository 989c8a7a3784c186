// The GPU sampler against the CPU sampler (engine/sampler.h): the contract of
// docs/sampling.md is bit-for-bit, so on the same logits, config, history and
// (seed, step) both must pick the same token, every time.
#include "backend/cuda/sampling.h"
#include "engine/sampler.h"
#include "gpu_test_util.h"

#include <cmath>

namespace orcd {
namespace {

using test::Gpu;

std::vector<float> random_logits(uint32_t V, std::mt19937_64& rng) {
    std::normal_distribution<float> d(0.0f, std::uniform_real_distribution<float>(0.5f, 6.0f)(rng));
    std::vector<float> x(V);
    for (float& v : x) v = d(rng);
    // ties at the top and in the body, and a few masked tokens
    const uint32_t a = uint32_t(rng() % V), b = uint32_t(rng() % V);
    x[a] = x[b] = *std::max_element(x.begin(), x.end()) + 0.5f;
    for (int i = 0; i < 20; ++i) x[rng() % V] = x[rng() % V];
    for (int i = 0; i < 3; ++i) x[rng() % V] = -INFINITY;
    return x;
}

TEST(CudaSampler, PicksTheCpuTokenOnRandomLogitsAndConfigs) {
    ORCD_REQUIRE_CUDA();
    Gpu g;
    std::mt19937_64 rng(2024);
    const uint32_t vocabs[] = {512, 32000, 50257, 128256};
    const float temps[] = {0.0f, 0.3f, 0.8f, 1.0f, 1.7f};
    const int32_t top_ks[] = {0, 1, 40, 1000, 200000};
    const float top_ps[] = {1.0f, 0.95f, 0.5f, 0.0f};
    const float min_ps[] = {0.0f, 0.05f, 0.5f};
    const float penalties[] = {1.0f, 1.3f, 0.8f};
    const float presences[] = {0.0f, 0.5f, -1.25f};
    const float frequencies[] = {0.0f, 0.3f, 1.75f};
    int trials = 0, mismatches = 0;
    for (uint32_t V : vocabs) {
        cuda::GpuSampler sampler(g.alloc(), V, 4096, g.stream());
        const int per_vocab = V > 60000 ? 60 : 150;
        for (int i = 0; i < per_vocab; ++i) {
            const std::vector<float> logits = random_logits(V, rng);
            SamplingConfig cfg;
            cfg.temperature = temps[rng() % 5];
            cfg.top_k = top_ks[rng() % 5];
            cfg.top_p = top_ps[rng() % 4];
            cfg.min_p = min_ps[rng() % 3];
            cfg.repetition_penalty = penalties[rng() % 3];
            cfg.repetition_last_n = int32_t(rng() % 3) * 32;
            cfg.presence_penalty = presences[rng() % 3];
            cfg.frequency_penalty = frequencies[rng() % 3];
            // Few distinct ids, so that the counts exceed 1; steps below and
            // above the history's length (the generated part is the last
            // `step` ids).
            std::vector<int32_t> history(rng() % 200);
            const uint32_t distinct = 1 + uint32_t(rng() % V);
            for (int32_t& h : history) h = int32_t(rng() % std::min<uint32_t>(distinct, 50));
            const uint64_t seed = rng(), step = rng() % 300;

            cuda::DeviceBuffer d = g.upload(logits);
            if (i % 10 == 0) sampler.begin_job();
            const int32_t gpu = sampler.sample(d.as<float>(), cfg, history, seed, step);
            const int32_t cpu = sample_token(logits, cfg, history, seed, step);
            ++trials;
            if (gpu != cpu) {
                ++mismatches;
                ADD_FAILURE() << "V=" << V << " T=" << cfg.temperature << " top_k=" << cfg.top_k << " top_p="
                              << cfg.top_p << " min_p=" << cfg.min_p << " penalty=" << cfg.repetition_penalty
                              << " presence=" << cfg.presence_penalty << " frequency=" << cfg.frequency_penalty
                              << " last_n=" << cfg.repetition_last_n << " seed=" << seed << " step=" << step
                              << ": gpu " << gpu << " cpu " << cpu;
            }
            // The device logits are the backend's: sampling must not change them.
            if (i % 25 == 0) {
                const std::vector<float> after = g.download<float>(d, V);
                EXPECT_EQ(0, std::memcmp(after.data(), logits.data(), V * 4)) << "sampling modified the logits";
            }
        }
        sampler.end_job();
        EXPECT_FALSE(sampler.holds_job_buffer());
    }
    std::printf("[ stats    ] GPU vs CPU sampler: %d trials, %d mismatches\n", trials, mismatches);
    EXPECT_EQ(mismatches, 0);
}

// Greedy: lowest id on ties, penalty applied first, seed irrelevant.
TEST(CudaSampler, GreedyMatchesCpuArgmaxAfterPenalty) {
    ORCD_REQUIRE_CUDA();
    Gpu g;
    const uint32_t V = 1000;
    cuda::GpuSampler sampler(g.alloc(), V, 256, g.stream());
    std::vector<float> logits(V, 0.0f);
    logits[10] = 5.0f;
    logits[20] = 5.0f;
    logits[30] = 4.0f;
    cuda::DeviceBuffer d = g.upload(logits);
    SamplingConfig cfg;
    cfg.temperature = 0.0f;
    EXPECT_EQ(sampler.sample(d.as<float>(), cfg, {}, 1, 0), 10);
    EXPECT_EQ(sampler.sample(d.as<float>(), cfg, {}, 999, 7), 10);
    cfg.repetition_penalty = 2.0f;  // 10 and 20 fall to 2.5: 30 wins
    const std::vector<int32_t> hist = {10, 20, 10};
    EXPECT_EQ(sampler.sample(d.as<float>(), cfg, hist, 1, 0), sample_token(logits, cfg, hist, 1, 0));
    EXPECT_EQ(sampler.sample(d.as<float>(), cfg, hist, 1, 0), 30);
    // Presence/frequency over the generated ids only (the last `step`):
    // all three generated, 10 (twice) -> 5 - 1.2 - 0.1 = 3.7, 20 -> 4.3,
    // 30 stays 4: 20 wins; one generated (the last 10) -> 4.3, 20 keeps 5.
    cfg.repetition_penalty = 1.0f;
    cfg.frequency_penalty = 0.6f;
    cfg.presence_penalty = 0.1f;
    EXPECT_EQ(sampler.sample(d.as<float>(), cfg, hist, 1, 3), 20);
    EXPECT_EQ(sample_token(logits, cfg, hist, 1, 3), 20);
    EXPECT_EQ(sampler.sample(d.as<float>(), cfg, hist, 1, 1), 20);
    cfg.frequency_penalty = 1.0f;  // step 1: 10 -> 3.9, 20 -> 5: 20; step 3: 10 -> 2.9, 20 -> 3.9, 30 -> 4: 30
    EXPECT_EQ(sampler.sample(d.as<float>(), cfg, hist, 1, 1), 20);
    EXPECT_EQ(sampler.sample(d.as<float>(), cfg, hist, 1, 3), 30);
    EXPECT_EQ(sample_token(logits, cfg, hist, 1, 3), 30);
}

// Same seed and step => same token; the draw follows philox_uniform.
TEST(CudaSampler, SeededDrawsAreReproducible) {
    ORCD_REQUIRE_CUDA();
    Gpu g;
    const uint32_t V = 32000;
    cuda::GpuSampler sampler(g.alloc(), V, 256, g.stream());
    std::mt19937_64 rng(5);
    const std::vector<float> logits = random_logits(V, rng);
    cuda::DeviceBuffer d = g.upload(logits);
    SamplingConfig cfg;
    cfg.temperature = 1.2f;
    int distinct = 0;
    int32_t prev = -1;
    for (uint64_t step = 0; step < 50; ++step) {
        const int32_t a = sampler.sample(d.as<float>(), cfg, {}, 77, step);
        const int32_t b = sampler.sample(d.as<float>(), cfg, {}, 77, step);
        EXPECT_EQ(a, b) << "step " << step;
        EXPECT_EQ(a, sample_token(logits, cfg, {}, 77, step)) << "step " << step;
        distinct += a != prev;
        prev = a;
    }
    EXPECT_GT(distinct, 10) << "draws do not depend on the step";
}

// NaN logits and invalid settings are left to the host sampler (-1), which
// raises the documented error.
TEST(CudaSampler, DefersInvalidInputToTheHostSampler) {
    ORCD_REQUIRE_CUDA();
    Gpu g;
    const uint32_t V = 600;
    cuda::GpuSampler sampler(g.alloc(), V, 64, g.stream());
    std::vector<float> logits = test::random_floats(V, 3, -3, 3);
    logits[123] = NAN;
    cuda::DeviceBuffer d = g.upload(logits);
    SamplingConfig cfg;
    EXPECT_EQ(sampler.sample(d.as<float>(), cfg, {}, 1, 0), -1);
    cfg.temperature = 0.0f;
    EXPECT_EQ(sampler.sample(d.as<float>(), cfg, {}, 1, 0), -1);
    logits[123] = 0.0f;
    cuda::DeviceBuffer ok = g.upload(logits);
    cfg.temperature = 1.0f;
    cfg.repetition_penalty = 1.1f;
    const std::vector<int32_t> bad_history = {5, int32_t(V)};
    EXPECT_EQ(sampler.sample(ok.as<float>(), cfg, bad_history, 1, 0), -1);
}

}  // namespace
}  // namespace orcd
