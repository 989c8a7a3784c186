#include "engine/logprobs.h"

#include "common/error.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

namespace orcd {

TokenLogprob step_logprobs(std::span<const float> logits, int32_t chosen, size_t n, std::vector<TokenLogprob>& top) {
    if (logits.empty() || chosen < 0 || size_t(chosen) >= logits.size())
        fail(ORCD_INTERNAL, "logprobs: token " + std::to_string(chosen) + " outside the logits");
    const float max = *std::max_element(logits.begin(), logits.end());
    double sum = 0.0;
    for (const float l : logits) sum += std::exp(double(l) - double(max));
    const double log_z = double(max) + std::log(sum);
    const auto lp = [&](int32_t id) { return float(double(logits[size_t(id)]) - log_z); };

    top.clear();
    n = std::min(n, logits.size());
    if (n == 0) return {chosen, lp(chosen)};
    std::vector<int32_t> ids(logits.size());
    std::iota(ids.begin(), ids.end(), 0);
    std::partial_sort(ids.begin(), ids.begin() + std::ptrdiff_t(n), ids.end(), [&](int32_t a, int32_t b) {
        if (logits[size_t(a)] != logits[size_t(b)]) return logits[size_t(a)] > logits[size_t(b)];
        return a < b;
    });
    for (size_t i = 0; i < n; ++i) top.push_back({ids[i], lp(ids[i])});
    return {chosen, lp(chosen)};
}

}  // namespace orcd
