// Stop sequences matched on decoded text across token boundaries.
//
// Text goes in piece by piece; what comes out is the text that can no longer
// be part of a stop sequence. A tail that is a prefix of some stop string is
// held back until it either completes a match (then the match and everything
// after it are dropped) or stops matching (then it is released). Inputs are
// complete UTF-8, and a held tail starts with a stop string's first byte,
// which is a character boundary, so outputs are complete UTF-8 as well.
#pragma once

#include <algorithm>
#include <string>
#include <utility>
#include <string_view>
#include <vector>

namespace orcd {

class StopMatcher {
public:
    explicit StopMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {}

    // Returns the text that is safe to emit. After a match, matched() >= 0
    // and further input is ignored.
    std::string push(std::string_view text);
    // Releases the held tail (generation ended for another reason).
    std::string flush();
    int matched() const { return matched_; }

private:
    std::vector<std::string> stops_;
    std::string held_;
    int matched_ = -1;
};

}  // namespace orcd
