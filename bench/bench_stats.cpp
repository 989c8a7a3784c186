#include "bench_stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace orcd::bench {

double percentile(const std::vector<double>& sorted, double p) {
    if (sorted.empty()) return 0;
    const double rank = std::clamp(p, 0.0, 100.0) / 100.0 * double(sorted.size() - 1);
    const size_t lo = size_t(std::floor(rank));
    const size_t hi = std::min(lo + 1, sorted.size() - 1);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - double(lo));
}

Summary summarize(std::vector<double> v) {
    Summary s;
    s.n = v.size();
    if (v.empty()) return s;
    std::sort(v.begin(), v.end());
    s.min = v.front();
    s.max = v.back();
    s.mean = std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
    s.median = percentile(v, 50);
    s.p10 = percentile(v, 10);
    s.p90 = percentile(v, 90);
    s.p95 = percentile(v, 95);
    s.p99 = percentile(v, 99);
    return s;
}

}  // namespace orcd::bench
