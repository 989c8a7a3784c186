#include "llama_bench_json.h"

#include <nlohmann/json.hpp>

#include <sstream>
#include <stdexcept>

namespace orcd::bench {
namespace {

using nlohmann::json;

std::string scalar_text(const json& v) {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_null()) return "";
    return v.dump();
}

uint32_t count(const json& o, const char* key) {
    const auto it = o.find(key);
    return it != o.end() && it->is_number_unsigned() ? it->get<uint32_t>() : 0;
}

void read_entry(const json& o, LlamaBenchRun& run) {
    if (!o.is_object() || !o.contains("avg_ts")) throw std::runtime_error("an entry without avg_ts");
    if (run.tests.empty()) {
        run.build = o.value("build_commit", std::string("?")) + " (" +
                    std::to_string(o.value("build_number", 0)) + ")";
        run.gpu_info = o.value("gpu_info", std::string());
        run.backends = o.value("backends", std::string());
        run.model_type = o.value("model_type", std::string());
        run.model_filename = o.value("model_filename", std::string());
        run.type_k = o.value("type_k", std::string("f16"));
        run.type_v = o.value("type_v", std::string("f16"));
        run.flash_attn = o.contains("flash_attn") ? scalar_text(o["flash_attn"]) : "";
        run.n_gpu_layers = o.value("n_gpu_layers", 0);
        run.model_size = o.value("model_size", uint64_t(0));
        run.model_n_params = o.value("model_n_params", uint64_t(0));
    }
    LlamaBenchTest t;
    t.n_prompt = count(o, "n_prompt");
    t.n_gen = count(o, "n_gen");
    t.n_depth = count(o, "n_depth");
    t.avg_ts = o.at("avg_ts").get<double>();
    t.stddev_ts = o.value("stddev_ts", 0.0);
    if (const auto it = o.find("samples_ts"); it != o.end() && it->is_array()) t.reps = it->size();
    run.tests.push_back(t);
}

}  // namespace

const LlamaBenchTest* LlamaBenchRun::decode(uint32_t depth) const {
    for (const LlamaBenchTest& t : tests)
        if (t.n_gen > 0 && t.n_prompt == 0 && t.n_depth == depth) return &t;
    return nullptr;
}

const LlamaBenchTest* LlamaBenchRun::prefill(uint32_t n_prompt, uint32_t depth) const {
    for (const LlamaBenchTest& t : tests)
        if (t.n_prompt == n_prompt && t.n_gen == 0 && t.n_depth == depth) return &t;
    return nullptr;
}

LlamaBenchRun parse_llama_bench(const std::string& text) {
    LlamaBenchRun run;
    const size_t first = text.find_first_not_of(" \t\r\n");
    if (first == std::string::npos) throw std::runtime_error("llama-bench wrote nothing");
    try {
        if (text[first] == '[') {
            const json all = json::parse(text);
            for (const json& o : all) read_entry(o, run);
        } else {
            std::istringstream lines(text);
            std::string line;
            while (std::getline(lines, line))
                if (line.find_first_not_of(" \t\r") != std::string::npos) read_entry(json::parse(line), run);
        }
    } catch (const json::exception& e) {
        throw std::runtime_error(std::string("not llama-bench JSON: ") + e.what());
    }
    if (run.tests.empty()) throw std::runtime_error("llama-bench reported no test");
    return run;
}

double cache_type_bytes(const std::string& type) {
    if (type == "f32") return 4;
    if (type == "f16" || type == "bf16") return 2;
    if (type == "q8_0") return 34.0 / 32;
    if (type == "q4_0") return 18.0 / 32;
    if (type == "q4_1") return 20.0 / 32;
    if (type == "q5_0") return 22.0 / 32;
    if (type == "q5_1") return 24.0 / 32;
    if (type == "iq4_nl") return 18.0 / 32;
    return 0;
}

}  // namespace orcd::bench
