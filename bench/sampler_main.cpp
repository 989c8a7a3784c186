// worker-orcd-sampler-bench: the host sampler's time per token on random
// logits of a vocabulary's size, for the settings a request can carry. The
// CPU backend samples every token this way, and the CUDA backend every
// token of a request its device sampler declines.
//
// usage: worker-orcd-sampler-bench [--vocab N] [--reps N]
#include "bench_stats.h"
#include "engine/sampler.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

namespace {

struct Case {
    const char* name;
    orcd::SamplingConfig cfg;
};

orcd::SamplingConfig with(float temperature, int32_t top_k, float top_p, float presence, float frequency) {
    orcd::SamplingConfig c;
    c.temperature = temperature;
    c.top_k = top_k;
    c.top_p = top_p;
    c.presence_penalty = presence;
    c.frequency_penalty = frequency;
    return c;
}

}  // namespace

int main(int argc, char** argv) {
    uint32_t vocab = 151936;
    int reps = 50;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--vocab" && i + 1 < argc) {
            vocab = uint32_t(std::strtoul(argv[++i], nullptr, 10));
        } else if (a == "--reps" && i + 1 < argc) {
            reps = std::atoi(argv[++i]);
        } else {
            std::fprintf(stderr, "usage: worker-orcd-sampler-bench [--vocab N] [--reps N]\n");
            return 2;
        }
    }
    if (vocab == 0 || reps <= 0) {
        std::fprintf(stderr, "worker-orcd-sampler-bench: --vocab and --reps must be positive\n");
        return 2;
    }
    // Logits spread like a language model's (N(0, 3)); a history of 256
    // tokens, the last 128 of them generated.
    std::mt19937 rng(1);
    std::normal_distribution<float> spread(0.0f, 3.0f);
    std::vector<float> logits(vocab);
    for (float& x : logits) x = spread(rng);
    std::vector<int32_t> history(256);
    for (int32_t& h : history) h = int32_t(rng() % vocab);

    const Case cases[] = {
        {"greedy", with(0.0f, 0, 1.0f, 0.0f, 0.0f)},
        {"T=0.7, whole vocabulary", with(0.7f, 0, 1.0f, 0.0f, 0.0f)},
        {"T=0.7, top_k 40, top_p 0.9", with(0.7f, 40, 0.9f, 0.0f, 0.0f)},
        {"T=0.7, presence 0.5, frequency 0.3", with(0.7f, 0, 1.0f, 0.5f, 0.3f)},
    };
    std::printf("host sampler, vocabulary %u, %d tokens each (median, p10-p90, ms a token)\n", vocab, reps);
    uint64_t picked = 0;  // keeps the calls from being optimised away
    for (const Case& c : cases) {
        std::vector<double> ms;
        for (int r = 0; r < reps + 3; ++r) {
            const auto t0 = std::chrono::steady_clock::now();
            picked += uint64_t(orcd::sample_token(logits, c.cfg, history, 42, 128 + uint64_t(r)));
            const double t = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
            if (r >= 3) ms.push_back(t);  // three warm-up tokens
        }
        const orcd::bench::Summary s = orcd::bench::summarize(ms);
        std::printf("  %-38s %8.3f  (%.3f-%.3f)\n", c.name, s.median, s.p10, s.p90);
    }
    std::printf("(checksum of the picks: %llu)\n", static_cast<unsigned long long>(picked));
    return 0;
}
