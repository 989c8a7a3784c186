// worker-orcd-bench-compare: the side-by-side tables of scripts/bench.sh.
//   info MODEL.gguf   the bytes a decode step of that file reads, as JSON
//                     (taken while the file exists: --delete-models removes it)
//   table ...         one model's table, or the compact table of all, from
//                     the manifest bench.sh keeps (compare_manifest.h)
// Needs no GPU: it reads JSON files and GGUF headers.
#include "compare_manifest.h"
#include "compare_table.h"
#include "decode_bytes.h"

#include <charconv>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <string>
#include <vector>

using namespace orcd::bench;

namespace {

const char* const kUsage =
    "usage: worker-orcd-bench-compare info MODEL.gguf\n"
    "       worker-orcd-bench-compare table --manifest FILE [--model NAME | --compact]\n"
    "                                 [--depths LIST] [--pp N] [--json OUT]\n"
    "  info        the bytes one decode step of the file reads (weights, K/V per position), JSON on stdout\n"
    "  table       Markdown on stdout: the table of --model NAME (each format a row), or with --compact\n"
    "              one line per file of the manifest\n"
    "  --manifest  tab-separated: model, format, info JSON, worker-orcd-bench JSON, llama-bench JSON, note\n"
    "  --depths    decode depths shown (default 0,4096)\n"
    "  --pp N      prompt length of the prefill column (default 512)\n"
    "  --json OUT  also write every row's figures as JSON\n";

[[noreturn]] void usage_error(const std::string& msg) {
    std::fprintf(stderr, "worker-orcd-bench-compare: %s\n%s", msg.c_str(), kUsage);
    std::exit(2);
}

uint32_t parse_u32(const std::string& flag, const std::string& v) {
    uint32_t x = 0;
    const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
    if (v.empty() || ec != std::errc() || p != v.data() + v.size()) usage_error(flag + ": expected a number, got '" + v + "'");
    return x;
}

std::vector<uint32_t> parse_list(const std::string& flag, const std::string& v) {
    std::vector<uint32_t> out;
    size_t at = 0;
    for (;;) {
        const size_t comma = v.find(',', at);
        out.push_back(parse_u32(flag, v.substr(at, comma == std::string::npos ? std::string::npos : comma - at)));
        if (comma == std::string::npos) return out;
        at = comma + 1;
    }
}

int info(int argc, char** argv) {
    if (argc != 3) usage_error("info takes one GGUF file");
    std::puts(to_json(decode_bytes(std::string(argv[2]))).dump(1).c_str());
    return 0;
}

int table(int argc, char** argv) {
    std::string manifest, model, json_out;
    bool compact = false;
    CompareOptions opt;
    for (int i = 2; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--compact") {
            compact = true;
            continue;
        }
        if (i + 1 >= argc) usage_error(a + ": needs a value");
        const std::string v = argv[++i];
        if (a == "--manifest") manifest = v;
        else if (a == "--model") model = v;
        else if (a == "--depths") opt.depths = parse_list(a, v);
        else if (a == "--pp") opt.pp = parse_u32(a, v);
        else if (a == "--json") json_out = v;
        else usage_error("unknown flag " + a);
    }
    if (manifest.empty()) usage_error("--manifest is required");
    if (compact == !model.empty()) usage_error("give either --model NAME or --compact");
    const std::vector<CompareEntry> entries = load_manifest(manifest);
    std::fputs((compact ? compact_table(entries, opt) : model_table(entries, model, opt)).c_str(), stdout);
    if (!json_out.empty()) {
        std::ofstream out(json_out);
        out << rows_json(entries, opt).dump(2) << "\n";
        if (!out) throw std::runtime_error("cannot write " + json_out);
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc >= 2 && (!std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "--help"))) {
        std::fputs(kUsage, stdout);
        return 0;
    }
    try {
        if (argc >= 2 && !std::strcmp(argv[1], "info")) return info(argc, argv);
        if (argc >= 2 && !std::strcmp(argv[1], "table")) return table(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "worker-orcd-bench-compare: %s\n", e.what());
        return 1;
    }
    usage_error("expected 'info' or 'table'");
}
