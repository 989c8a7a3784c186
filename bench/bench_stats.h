// Order statistics of repeated measurements: every figure is reported as a
// median with its spread, never as a single run.
#pragma once

#include <cstddef>
#include <vector>

namespace orcd::bench {

struct Summary {
    size_t n = 0;
    double median = 0, mean = 0, min = 0, max = 0;
    double p10 = 0, p90 = 0, p95 = 0, p99 = 0;
};

// Linear interpolation between the closest ranks; p in [0, 100].
double percentile(const std::vector<double>& sorted, double p);
// An empty sample gives n == 0 and zeros.
Summary summarize(std::vector<double> samples);
// The same sample mapped through f (e.g. milliseconds -> tokens/s); f may
// reverse the order, so the summary is recomputed, not transformed.
template <class F>
Summary summarize_mapped(const std::vector<double>& samples, F f) {
    std::vector<double> out;
    out.reserve(samples.size());
    for (double x : samples) out.push_back(f(x));
    return summarize(std::move(out));
}

}  // namespace orcd::bench
