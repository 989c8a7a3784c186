// The benchmark's output: a Markdown table (the GPU's name in its header) and
// a JSON document with the same figures, the system and the model shape.
#pragma once

#include "bench_stats.h"
#include "bench_system.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace orcd::bench {

struct Figure {
    std::string key;    // stable JSON name, e.g. "decode.depth_1024.tok_s"
    std::string label;  // table row, e.g. "decode, depth 1024"
    std::string unit;
    double value = 0;   // the reported figure (usually the median)
    std::string stat;   // what value is: "median", "p99", "single run", ...
    Summary spread;     // the sample it came from (n == 0: none)
    std::string note;
};

struct Report {
    SystemInfo system;
    nlohmann::json model = nlohmann::json::object();   // shape, format, bytes
    nlohmann::json config = nlohmann::json::object();  // the flags in effect
    std::string timing_method;
    std::vector<Figure> figures;
    std::vector<std::string> notes;
    std::vector<std::pair<std::string, std::string>> errors;  // section, message

    void add(Figure f) { figures.push_back(std::move(f)); }
};

// A summary whose every statistic is multiplied by k (k > 0).
Summary scaled(const Summary& s, double k);
std::string markdown(const Report& r);
nlohmann::json to_json(const Report& r);

}  // namespace orcd::bench
