#include "bench_report.h"

#include "bench_format.h"


namespace orcd::bench {
namespace {

using nlohmann::json;

json summary_json(const Summary& s) {
    return {{"n", s.n}, {"median", s.median}, {"mean", s.mean}, {"min", s.min}, {"max", s.max},
            {"p10", s.p10}, {"p90", s.p90}, {"p95", s.p95}, {"p99", s.p99}};
}

json system_json(const SystemInfo& s) {
    return {{"device_kind", s.device_kind},       {"gpu_name", s.gpu_name},
            {"compute_capability", s.compute_capability},
            {"device_memory_bytes", s.device_memory_bytes},
            {"driver_version", s.driver_version}, {"cuda_driver_api_version", s.cuda_driver_api},
            {"cuda_runtime_version", s.cuda_runtime},
            {"commit", s.commit},                 {"commit_source", s.commit_source},
            {"tree_dirty", s.tree_dirty},         {"host", s.host},
            {"cpu_threads", s.cpu_threads},       {"timestamp_utc", s.timestamp_utc},
            {"orcd_version", s.orcd_version}};
}

}  // namespace

Summary scaled(const Summary& s, double k) {
    Summary o = s;
    for (double* x : {&o.median, &o.mean, &o.min, &o.max, &o.p10, &o.p90, &o.p95, &o.p99}) *x *= k;
    return o;
}

std::string markdown(const Report& r) {
    const SystemInfo& s = r.system;
    const std::string where = s.device_kind == "cuda" ? s.gpu_name
                              : s.device_kind == "cpu" ? "CPU backend, " + std::to_string(s.cpu_threads) + " threads"
                                                       : "no device (it could not be opened)";
    std::string out;
    out += "## worker-orcd-bench: " + r.model.value("name", std::string("?")) + " (" +
           r.model.value("quant_kind", std::string("?")) + ") on " + where + "\n\n";
    out += "- device: " + where;
    if (s.device_kind == "cuda")
        out += " (sm " + s.compute_capability + ", " + fmt_gb(s.device_memory_bytes) + "), driver " + s.driver_version +
               ", CUDA driver API " + s.cuda_driver_api + ", CUDA runtime " + s.cuda_runtime;
    out += "\n- commit: " + s.commit + (s.tree_dirty ? " (working tree modified)" : "") + " [" + s.commit_source +
           "], worker-orcd " + s.orcd_version + ", host " + s.host + ", " + s.timestamp_utc + "\n";
    if (!r.model.empty() && r.model.contains("n_layer")) {
        const json& m = r.model;
        out += "- model: " + m.value("architecture", std::string("?")) + ", " + std::to_string(m.value("n_layer", 0)) +
               " layers, hidden " + std::to_string(m.value("n_embd", 0)) + ", heads " +
               std::to_string(m.value("n_head", 0)) + "/" + std::to_string(m.value("n_head_kv", 0)) + " (head dim " +
               std::to_string(m.value("head_dim", 0)) + "), ffn " + std::to_string(m.value("n_ff", 0)) + ", vocab " +
               std::to_string(m.value("n_vocab", 0)) + ", weights " + m.value("quant_kind", std::string("?")) + " " +
               fmt_gb(m.value("weight_bytes", uint64_t(0))) + ", KV cache " +
               std::to_string(m.value("kv_elem_bytes", 0) * 8) + "-bit x " + std::to_string(m.value("n_ctx", 0)) +
               " positions\n";
    }
    if (!r.timing_method.empty()) out += "- timing: " + r.timing_method + "\n";
    out += "\n| figure | " + where + " | stat | min | max | n | unit | note |\n";
    out += "| --- | --- | --- | --- | --- | --- | --- | --- |\n";
    for (const Figure& f : r.figures) {
        const bool has = f.spread.n > 0;
        out += "| " + f.label + " | **" + fmt_figure(f.value) + "** | " + f.stat + " | " + (has ? fmt_figure(f.spread.min) : "") +
               " | " + (has ? fmt_figure(f.spread.max) : "") + " | " + (has ? std::to_string(f.spread.n) : "") + " | " +
               f.unit + " | " + f.note + " |\n";
    }
    if (!r.notes.empty()) {
        out += "\nNotes:\n";
        for (const auto& n : r.notes) out += "- " + n + "\n";
    }
    if (!r.errors.empty()) {
        out += "\nFAILED parts (figures missing from the table):\n";
        for (const auto& [section, msg] : r.errors) out += "- " + section + ": " + msg + "\n";
    }
    return out;
}

json to_json(const Report& r) {
    json figures = json::object();
    for (const Figure& f : r.figures) {
        json j = {{"label", f.label}, {"unit", f.unit}, {"value", f.value}, {"stat", f.stat}};
        if (f.spread.n > 0) j["spread"] = summary_json(f.spread);
        if (!f.note.empty()) j["note"] = f.note;
        figures[f.key] = j;
    }
    json errors = json::array();
    for (const auto& [section, msg] : r.errors) errors.push_back({{"section", section}, {"message", msg}});
    return {{"schema", "worker-orcd-bench/1"},
            {"ok", r.errors.empty()},
            {"system", system_json(r.system)},
            {"model", r.model},
            {"config", r.config},
            {"timing_method", r.timing_method},
            {"figures", figures},
            {"notes", r.notes},
            {"errors", errors}};
}

}  // namespace orcd::bench
