#include "compare_table.h"

#include "bench_format.h"

#include <algorithm>
#include <cstdio>

namespace orcd::bench {
namespace {

using nlohmann::json;

const json* figure(const json& ours, const std::string& key) {
    if (!ours.is_object()) return nullptr;
    const auto figs = ours.find("figures");
    if (figs == ours.end() || !figs->is_object()) return nullptr;
    const auto it = figs->find(key);
    return it == figs->end() ? nullptr : &*it;
}

Cell ours_cell(const json& ours, const std::string& key) {
    Cell c;
    const json* f = figure(ours, key);
    if (!f || !f->contains("value")) return c;
    c.has = true;
    c.value = f->at("value").get<double>();
    if (const auto s = f->find("spread"); s != f->end() && s->is_object())
        c.spread = s->value("max", 0.0) - s->value("min", 0.0);
    return c;
}

Cell llama_cell(const LlamaBenchTest* t) {
    Cell c;
    if (!t) return c;
    c.has = true;
    c.value = t->avg_ts;
    c.spread = t->stddev_ts;
    return c;
}

Cell share_cell(const Cell& tok_s, const std::optional<DecodeBytes>& b, uint32_t depth, uint32_t steps,
                double elem_bytes, double ceiling_gbps) {
    Cell c;
    if (!tok_s.has || !b || ceiling_gbps <= 0 || elem_bytes <= 0) return c;
    c.has = true;
    c.value = b->step_bytes(mean_context(depth, steps), elem_bytes) * tok_s.value / (ceiling_gbps * 1e9) * 100.0;
    return c;
}

std::string clip(std::string s, size_t n = 240) {
    for (char& ch : s)
        if (ch == '\n' || ch == '|') ch = ' ';
    return s.size() <= n ? s : s.substr(0, n) + "...";
}

// The first failed part of a worker-orcd-bench run, "" when none failed.
std::string first_error(const json& ours) {
    const auto errs = ours.find("errors");
    if (errs == ours.end() || !errs->is_array() || errs->empty()) return "";
    const json& e = (*errs)[0];
    return e.value("section", std::string("?")) + ": " + e.value("message", std::string());
}

std::string all_errors(const json& ours) {
    std::string out;
    const auto errs = ours.find("errors");
    if (errs == ours.end() || !errs->is_array()) return out;
    for (const json& e : *errs)
        out += (out.empty() ? "" : "; ") + e.value("section", std::string("?")) + ": " +
               e.value("message", std::string());
    return out;
}

std::string num(const Cell& c) { return c.has ? fmt_figure(c.value) : "—"; }

std::string pct(const Cell& c) {
    if (!c.has) return "—";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f%%", c.value);
    return buf;
}

// "a / b" over the depths, or a single "—" when nothing was measured.
std::string joined(const std::vector<Cell>& cells, std::string (*f)(const Cell&)) {
    bool any = false;
    for (const Cell& c : cells) any = any || c.has;
    if (!any) return "—";
    std::string out;
    for (const Cell& c : cells) out += (out.empty() ? "" : " / ") + f(c);
    return out;
}

std::string ratio(const Cell& a, const Cell& b) {
    if (!a.has || !b.has || b.value <= 0) return "—";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2fx", a.value / b.value);
    return buf;
}

std::string with_stddev(const Cell& c) {
    if (!c.has) return "—";
    return fmt_figure(c.value) + (c.spread > 0 ? " ± " + fmt_figure(c.spread) : "");
}

std::string pair(const Cell& a, const Cell& b) {
    if (!a.has && !b.has) return "—";
    return num(a) + " / " + num(b);
}

std::string depth_list(const CompareOptions& opt) {
    std::string out;
    for (uint32_t d : opt.depths) out += (out.empty() ? "d" : " / d") + std::to_string(d);
    return out;
}

HttpFigures http_figures(const json& ours, const std::string& prefix) {
    HttpFigures h;
    h.ttft_ms = ours_cell(ours, prefix + ".ttft_ms");
    h.itl_p50_ms = ours_cell(ours, prefix + ".itl_p50_ms");
    h.itl_p99_ms = ours_cell(ours, prefix + ".itl_p99_ms");
    h.e2e_tok_s = ours_cell(ours, prefix + ".e2e_tok_s");
    h.tokens_out = ours_cell(ours, prefix + ".tokens_out");
    if (const Cell p = ours_cell(ours, prefix + ".prompt_tokens"); p.has) h.prompt_tokens = uint32_t(p.value);
    return h;
}

bool has_http(const CompareRow& r) { return r.ours_http.ttft_ms.has || r.peer_http.ttft_ms.has; }

std::vector<CompareRow> rows_of(const std::vector<CompareEntry>& entries, const std::string& model,
                                const CompareOptions& opt) {
    const double ceiling = copy_ceiling(entries);
    std::vector<CompareRow> rows;
    for (const CompareEntry& e : entries)
        if (model.empty() || e.model == model) rows.push_back(compare_row(e, opt, ceiling));
    return rows;
}

// Who ran where, once per table.
std::string provenance(const std::vector<CompareEntry>& entries, const std::string& model, double ceiling) {
    std::string gpu, commit, llama_build, llama_gpu;
    size_t ceilings = 0;
    for (const CompareEntry& e : entries) {
        if (!model.empty() && e.model != model) continue;
        if (e.ours.is_object() && e.ours.contains("system")) {
            const json& s = e.ours["system"];
            if (gpu.empty()) gpu = s.value("gpu_name", std::string());
            if (commit.empty())
                commit = s.value("commit", std::string()) + (s.value("tree_dirty", false) ? " (modified)" : "");
        }
        if (e.llama && llama_build.empty()) {
            llama_build = e.llama->build;
            llama_gpu = (e.llama->gpu_info.empty() ? e.llama->backends : e.llama->gpu_info) +
                        " (n_gpu_layers " + std::to_string(e.llama->n_gpu_layers) + ", flash_attn " +
                        e.llama->flash_attn + ", cache " + e.llama->type_k + ")";
        }
    }
    for (const CompareEntry& e : entries)
        if (figure(e.ours, "copy.gbps")) ++ceilings;
    std::string out = "- card: " + (gpu.empty() ? std::string("?") : gpu);
    out += ceiling > 0 ? "; copy ceiling " + fmt_figure(ceiling) + " GB/s read + write (worker-orcd-bench, median of " +
                             std::to_string(ceilings) + " runs)"
                       : "; no copy ceiling measured: no shares";
    out += "\n- worker-orcd commit " + (commit.empty() ? std::string("?") : commit) + "; llama.cpp " +
           (llama_build.empty() ? std::string("not run") : "build " + llama_build + " on " + llama_gpu) + "\n";
    return out;
}

}  // namespace

double copy_ceiling(const std::vector<CompareEntry>& entries) {
    std::vector<double> v;
    for (const CompareEntry& e : entries)
        if (const json* f = figure(e.ours, "copy.gbps")) v.push_back(f->at("value").get<double>());
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

CompareRow compare_row(const CompareEntry& e, const CompareOptions& opt, double ceiling) {
    CompareRow r;
    r.model = e.model;
    r.format = e.format;
    r.note = e.note;
    if (e.bytes) r.file_bytes = e.bytes->file_bytes;

    // worker-orcd
    const bool ran = e.ours.is_object();
    const json model = ran ? e.ours.value("model", json::object()) : json::object();
    const json config = ran ? e.ours.value("config", json::object()) : json::object();
    const uint32_t steps = config.value("decode_steps", 128u);
    const double elem = model.value("kv_elem_bytes", 2u);
    for (uint32_t d : opt.depths) {
        const Cell c = ours_cell(e.ours, "decode.depth_" + std::to_string(d) + ".tok_s");
        r.ours.decode.push_back(c);
        r.ours.share.push_back(share_cell(c, e.bytes, d, steps, elem, ceiling));
    }
    r.ours.prefill = ours_cell(e.ours, "prefill.pp" + std::to_string(opt.pp) + ".tok_s");
    r.ours_http = http_figures(e.ours, "http");
    r.peer_http = http_figures(e.ours, "peer_http");
    if (!ran) r.ours.missing = e.ours_missing.empty() ? "not run" : e.ours_missing;
    else if (!r.ours.decode.empty() && !r.ours.decode[0].has) r.ours.missing = first_error(e.ours);
    if (ran) r.failures = all_errors(e.ours);
    if (e.bytes && !opt.depths.empty()) r.step_gb_d0 = e.bytes->step_bytes(mean_context(opt.depths[0], steps), elem) / 1e9;

    // llama.cpp
    const LlamaBenchRun* l = e.llama ? &*e.llama : nullptr;
    const double l_elem = l ? (cache_type_bytes(l->type_k) + cache_type_bytes(l->type_v)) / 2 : 0;
    for (uint32_t d : opt.depths) {
        const LlamaBenchTest* t = l ? l->decode(d) : nullptr;
        const Cell c = llama_cell(t);
        r.llama.decode.push_back(c);
        r.llama.share.push_back(share_cell(c, e.bytes, d, t ? t->n_gen : 0, l_elem, ceiling));
    }
    r.llama.prefill = llama_cell(l ? l->prefill(opt.pp, 0) : nullptr);
    if (!l) r.llama.missing = e.llama_missing;
    return r;
}

std::string model_table(const std::vector<CompareEntry>& entries, const std::string& model,
                        const CompareOptions& opt) {
    const double ceiling = copy_ceiling(entries);
    const std::vector<CompareRow> rows = rows_of(entries, model, opt);
    std::string shape;
    for (const CompareEntry& e : entries)
        if (e.model == model && e.bytes && shape.empty())
            shape = e.bytes->architecture + ", " + std::to_string(e.bytes->n_layer) + " layers, vocabulary " +
                    std::to_string(e.bytes->n_vocab) + (e.bytes->n_expert ? ", " + std::to_string(e.bytes->n_expert_used) +
                    " of " + std::to_string(e.bytes->n_expert) + " experts per token" : "");
    const std::string dl = depth_list(opt), pp = "pp" + std::to_string(opt.pp);

    std::string out = "### " + model + (shape.empty() ? "" : " (" + shape + ")") + ": worker-orcd and llama.cpp on the same files\n\n";
    out += provenance(entries, model, ceiling);
    out += "- share = (weights read per token + K/V at the mean context) x tok/s / copy ceiling (bench/README.md)\n\n";
    out += "| format (file) | GB read per token, d" + std::to_string(opt.depths.empty() ? 0 : opt.depths[0]) +
           " | llama.cpp decode tok/s " + dl + " | share | worker-orcd decode tok/s " + dl +
           " | share | worker-orcd / llama.cpp, d" + std::to_string(opt.depths.empty() ? 0 : opt.depths[0]) +
           " | llama.cpp " + pp + " | worker-orcd " + pp + " |\n";
    out += "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n";
    for (const CompareRow& r : rows) {
        const Cell ours0 = r.ours.decode.empty() ? Cell{} : r.ours.decode[0];
        const Cell llama0 = r.llama.decode.empty() ? Cell{} : r.llama.decode[0];
        out += "| " + r.format + " (" + fmt_gb(r.file_bytes) + ") | " + (r.step_gb_d0 > 0 ? fmt_figure(r.step_gb_d0) : "—") +
               " | " + joined(r.llama.decode, num) + " | " + joined(r.llama.share, pct) + " | " +
               joined(r.ours.decode, num) + " | " + joined(r.ours.share, pct) + " | " + ratio(ours0, llama0) + " | " +
               with_stddev(r.llama.prefill) + " | " + num(r.ours.prefill) + " |\n";
    }

    bool http = false;
    for (const CompareRow& r : rows) http = http || has_http(r);
    if (http) {
        out += "\nOver HTTP (worker-orcd `POST /execute`, llama-server `POST /completion`, both streamed, the same "
               "prompt token ids, temperature 0; figures: worker-orcd / llama-server):\n\n";
        out += "| format | prompt tokens | time to first token ms | inter-token p50 ms | inter-token p99 ms | "
               "end-to-end tok/s | tokens received |\n| --- | --- | --- | --- | --- | --- | --- |\n";
        for (const CompareRow& r : rows) {
            if (!has_http(r)) continue;
            const uint32_t pt = r.ours_http.prompt_tokens ? r.ours_http.prompt_tokens : r.peer_http.prompt_tokens;
            out += "| " + r.format + " | " + (pt ? std::to_string(pt) : "—") + " | " +
                   pair(r.ours_http.ttft_ms, r.peer_http.ttft_ms) + " | " +
                   pair(r.ours_http.itl_p50_ms, r.peer_http.itl_p50_ms) + " | " +
                   pair(r.ours_http.itl_p99_ms, r.peer_http.itl_p99_ms) + " | " +
                   pair(r.ours_http.e2e_tok_s, r.peer_http.e2e_tok_s) + " | " +
                   pair(r.ours_http.tokens_out, r.peer_http.tokens_out) + " |\n";
        }
    }

    std::string notes;
    for (const CompareRow& r : rows) {
        if (!r.note.empty()) notes += "- " + r.format + ": " + r.note + "\n";
        if (!r.ours.missing.empty()) notes += "- " + r.format + ", worker-orcd: " + clip(r.ours.missing) + "\n";
        else if (!r.failures.empty()) notes += "- " + r.format + ", worker-orcd parts that failed: " + clip(r.failures) + "\n";
        if (!r.llama.missing.empty()) notes += "- " + r.format + ", llama.cpp: " + clip(r.llama.missing) + "\n";
    }
    if (!notes.empty()) out += "\n" + notes;
    return out;
}

std::string compact_table(const std::vector<CompareEntry>& entries, const CompareOptions& opt) {
    const std::vector<CompareRow> rows = rows_of(entries, "", opt);
    const double ceiling = copy_ceiling(entries);
    const std::string d0 = "d" + std::to_string(opt.depths.empty() ? 0 : opt.depths[0]);
    std::string out = "## Summary: worker-orcd / llama.cpp on the same files (each cell: worker-orcd / llama.cpp)\n\n";
    out += provenance(entries, "", ceiling) + "\n";
    out += "| model | format | GB/token " + d0;
    for (uint32_t d : opt.depths) out += " | decode tok/s d" + std::to_string(d);
    out += " | ratio " + d0 + " | share " + d0 + " | pp" + std::to_string(opt.pp) + " tok/s | TTFT ms |\n|";
    for (size_t i = 0; i < 7 + opt.depths.size(); ++i) out += " --- |";
    out += "\n";
    for (const CompareRow& r : rows) {
        out += "| " + r.model + " | " + r.format + " | " + (r.step_gb_d0 > 0 ? fmt_figure(r.step_gb_d0) : "—");
        for (size_t i = 0; i < opt.depths.size(); ++i) out += " | " + pair(r.ours.decode[i], r.llama.decode[i]);
        const Cell none;
        out += " | " + ratio(r.ours.decode.empty() ? none : r.ours.decode[0],
                             r.llama.decode.empty() ? none : r.llama.decode[0]) +
               " | " + (r.ours.share.empty() ? "—" : pct(r.ours.share[0]) + " / " + pct(r.llama.share[0])) + " | " +
               pair(r.ours.prefill, r.llama.prefill) + " | " + pair(r.ours_http.ttft_ms, r.peer_http.ttft_ms) + " |\n";
    }
    return out;
}

json rows_json(const std::vector<CompareEntry>& entries, const CompareOptions& opt) {
    auto cell = [](const Cell& c) { return c.has ? json{{"value", c.value}, {"spread", c.spread}} : json(); };
    auto engine = [&](const EngineFigures& f) {
        json decode = json::object(), share = json::object();
        for (size_t i = 0; i < opt.depths.size(); ++i) {
            decode["depth_" + std::to_string(opt.depths[i])] = cell(f.decode[i]);
            share["depth_" + std::to_string(opt.depths[i])] = cell(f.share[i]);
        }
        return json{{"decode_tok_s", decode}, {"share_of_ceiling_pct", share},
                    {"pp" + std::to_string(opt.pp) + "_tok_s", cell(f.prefill)}, {"missing", f.missing}};
    };
    auto http = [&](const HttpFigures& h) {
        return json{{"ttft_ms", cell(h.ttft_ms)},         {"itl_p50_ms", cell(h.itl_p50_ms)},
                    {"itl_p99_ms", cell(h.itl_p99_ms)},   {"e2e_tok_s", cell(h.e2e_tok_s)},
                    {"tokens_out", cell(h.tokens_out)},   {"prompt_tokens", h.prompt_tokens}};
    };
    json out = {{"schema", "worker-orcd-bench-compare/1"},
                {"copy_ceiling_gbps", copy_ceiling(entries)},
                {"depths", opt.depths},
                {"pp", opt.pp},
                {"rows", json::array()}};
    for (const CompareRow& r : rows_of(entries, "", opt))
        out["rows"].push_back({{"model", r.model},
                               {"format", r.format},
                               {"note", r.note},
                               {"file_bytes", r.file_bytes},
                               {"step_gb_first_depth", r.step_gb_d0},
                               {"worker_orcd", engine(r.ours)},
                               {"llama_cpp", engine(r.llama)},
                               {"http_worker_orcd", http(r.ours_http)},
                               {"http_llama_server", http(r.peer_http)},
                               {"failures", r.failures}});
    return out;
}

}  // namespace orcd::bench
