// worker-orcd beside llama.cpp on the same files: one table per model (a row
// per format) and one compact table of every model, from worker-orcd-bench's
// JSON, llama-bench's JSON and the bytes a decode step reads (decode_bytes.h).
// Each decode figure is also given as a share of the copy ceiling that
// worker-orcd-bench measured on the card: step bytes (weights + KV at the
// mean context of the timed steps) x tokens/s / ceiling.
#pragma once

#include "decode_bytes.h"
#include "llama_bench_json.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace orcd::bench {

// One file benchmarked by both engines (any part may be missing).
struct CompareEntry {
    std::string model;    // the shape, e.g. "llama2-7b"
    std::string format;   // e.g. "Q4_K_M"
    std::string note;     // e.g. "byte vocabulary", or why a part is missing
    std::optional<DecodeBytes> bytes;
    nlohmann::json ours;  // worker-orcd-bench's JSON; null when it did not run
    std::string ours_missing;   // why `ours` is null
    std::optional<LlamaBenchRun> llama;
    std::string llama_missing;  // why `llama` is empty ("" when llama.cpp was not asked for)
};

struct CompareOptions {
    std::vector<uint32_t> depths{0, 4096};  // decode columns
    uint32_t pp = 512;                      // the prefill column
};

// A figure with its spread; has == false: not measured.
struct Cell {
    bool has = false;
    double value = 0;
    double spread = 0;  // llama.cpp: its standard deviation; ours: max - min
};

struct EngineFigures {
    std::vector<Cell> decode;  // tok/s, one per depth
    std::vector<Cell> share;   // % of the copy ceiling, one per depth
    Cell prefill;              // tok/s
    std::string missing;       // why there are no figures (load refused, not run, ...)
};

struct HttpFigures {
    Cell ttft_ms, itl_p50_ms, itl_p99_ms, e2e_tok_s, tokens_out;
    uint32_t prompt_tokens = 0;
};

struct CompareRow {
    std::string model, format, note;
    uint64_t file_bytes = 0;
    double step_gb_d0 = 0;  // GB one step reads at the first depth (worker-orcd's KV)
    EngineFigures ours, llama;
    HttpFigures ours_http, peer_http;
    std::string failures;   // worker-orcd-bench parts that failed
};

// The card's copy ceiling in GB/s: the median of the entries'
// measurements (0 when none measured one, e.g. a CPU run).
double copy_ceiling(const std::vector<CompareEntry>& entries);

CompareRow compare_row(const CompareEntry& e, const CompareOptions& opt, double ceiling_gbps);

// One model's table (every entry of `model`), its HTTP table when any row
// has HTTP figures, and footnotes.
std::string model_table(const std::vector<CompareEntry>& entries, const std::string& model,
                        const CompareOptions& opt);
// One line per entry.
std::string compact_table(const std::vector<CompareEntry>& entries, const CompareOptions& opt);
nlohmann::json rows_json(const std::vector<CompareEntry>& entries, const CompareOptions& opt);

}  // namespace orcd::bench
