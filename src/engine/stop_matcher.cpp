#include "engine/stop_matcher.h"

namespace orcd {

std::string StopMatcher::push(std::string_view text) {
    if (matched_ >= 0) return {};
    held_.append(text);
    if (stops_.empty()) return std::exchange(held_, {});

    // The earliest complete match wins (ties: the first stop string listed).
    size_t best = std::string::npos;
    for (size_t s = 0; s < stops_.size(); ++s) {
        const size_t at = held_.find(stops_[s]);
        if (at != std::string::npos && at < best) {
            best = at;
            matched_ = int(s);
        }
    }
    if (best != std::string::npos) {
        std::string out = held_.substr(0, best);
        held_.clear();
        return out;
    }

    // Hold the longest tail that is a proper prefix of some stop string.
    size_t keep = 0;
    for (const std::string& s : stops_) {
        const size_t max = std::min(s.size() - 1, held_.size());
        for (size_t len = max; len > keep; --len)
            if (held_.compare(held_.size() - len, len, s, 0, len) == 0) {
                keep = len;
                break;
            }
    }
    std::string out = held_.substr(0, held_.size() - keep);
    held_.erase(0, held_.size() - keep);
    return out;
}

std::string StopMatcher::flush() { return matched_ >= 0 ? std::string() : std::exchange(held_, {}); }

}  // namespace orcd
