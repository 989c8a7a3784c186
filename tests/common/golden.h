// Reference generations in llama-golden's JSON-lines format (testdata/golden,
// and the files llama.cpp's llama-golden writes for synthesized models): one
// object per prompt with prompt, prompt_ids, ids (greedy), text,
// first_step_top5 ([id, logit] pairs) and top1_margin (per step).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace orcd::test {

struct GoldenRecord {
    std::string prompt;
    std::vector<int32_t> prompt_ids, ids;
    std::string text;
    std::vector<std::pair<int32_t, float>> first_step_top5;
    std::vector<double> top1_margin;
};

// Every record of a file; an unreadable or malformed file throws.
std::vector<GoldenRecord> load_golden(const std::string& path);
// testdata/golden/stories260K-greedy.jsonl.
std::vector<GoldenRecord> stories_golden();

// Greedy ids compared with a reference computed in other arithmetic: they
// must be equal up to the first step whose reference top-1 margin is below
// `margin_bound` (there the two may legitimately pick different tokens, and
// every later step depends on that pick).
struct IdComparison {
    size_t compared = 0;       // steps compared (all equal when ok)
    size_t stopped_at = 0;     // the step with a margin below the bound, or ids.size()
    bool ok = true;            // no difference before stopped_at
    size_t first_difference = 0;
    std::string summary;       // one line, for the test log
};
IdComparison compare_ids(const GoldenRecord& ref, const std::vector<int32_t>& got, double margin_bound);

}  // namespace orcd::test
