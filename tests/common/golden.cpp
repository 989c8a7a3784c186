#include "common/golden.h"

#include "common/test_paths.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <stdexcept>

namespace orcd::test {

std::vector<GoldenRecord> load_golden(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot read " + path);
    std::vector<GoldenRecord> out;
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        const nlohmann::json j = nlohmann::json::parse(line);
        GoldenRecord g;
        g.prompt = j.at("prompt").get<std::string>();
        g.prompt_ids = j.at("prompt_ids").get<std::vector<int32_t>>();
        g.ids = j.at("ids").get<std::vector<int32_t>>();
        g.text = j.value("text", "");
        if (j.contains("first_step_top5"))
            for (const auto& p : j["first_step_top5"]) g.first_step_top5.emplace_back(p.at(0).get<int32_t>(), p.at(1).get<float>());
        if (j.contains("top1_margin")) g.top1_margin = j["top1_margin"].get<std::vector<double>>();
        out.push_back(std::move(g));
    }
    return out;
}

std::vector<GoldenRecord> stories_golden() { return load_golden(data_path("golden/stories260K-greedy.jsonl")); }

IdComparison compare_ids(const GoldenRecord& ref, const std::vector<int32_t>& got, double margin_bound) {
    IdComparison c;
    c.stopped_at = ref.ids.size();
    for (size_t i = 0; i < ref.top1_margin.size() && i < ref.ids.size(); ++i)
        if (ref.top1_margin[i] < margin_bound) {
            c.stopped_at = i;  // step i's own top-2 are too close to call
            break;
        }
    for (; c.compared < c.stopped_at; ++c.compared) {
        if (c.compared >= got.size() || got[c.compared] != ref.ids[c.compared]) {
            c.ok = false;
            c.first_difference = c.compared;
            break;
        }
    }
    char buf[256];
    if (!c.ok)
        std::snprintf(buf, sizeof buf, "MISMATCH at step %zu: got %d, reference %d", c.first_difference,
                      c.first_difference < got.size() ? got[c.first_difference] : -1, ref.ids[c.first_difference]);
    else if (c.stopped_at < ref.ids.size())
        std::snprintf(buf, sizeof buf, "%zu ids equal; stopped comparing at step %zu (top1_margin %.4g < %.3g)",
                      c.compared, c.stopped_at, ref.top1_margin[c.stopped_at], margin_bound);
    else
        std::snprintf(buf, sizeof buf, "all %zu ids equal", c.compared);
    c.summary = buf;
    return c;
}

}  // namespace orcd::test
