#include "compare_manifest.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace orcd::bench {
namespace {

using nlohmann::json;

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::vector<std::string> split_tabs(const std::string& line) {
    std::vector<std::string> out;
    size_t at = 0;
    for (;;) {
        const size_t tab = line.find('\t', at);
        out.push_back(line.substr(at, tab == std::string::npos ? std::string::npos : tab - at));
        if (tab == std::string::npos) return out;
        at = tab + 1;
    }
}

bool named(const std::string& field) { return !field.empty() && field != "-"; }

// A relative path is relative to the manifest's folder, so that a results
// folder can move.
std::string resolve(const std::string& dir, const std::string& field) {
    return field[0] == '/' || dir.empty() ? field : dir + "/" + field;
}

}  // namespace

std::vector<CompareEntry> load_manifest(const std::string& path) {
    std::istringstream lines(slurp(path));
    const size_t slash = path.rfind('/');
    const std::string dir = slash == std::string::npos ? "" : path.substr(0, slash);
    std::vector<CompareEntry> entries;
    std::string line;
    int n = 0;
    while (std::getline(lines, line)) {
        ++n;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty() || line[0] == '#') continue;
        const std::vector<std::string> f = split_tabs(line);
        if (f.size() < 5)
            throw std::runtime_error(path + ":" + std::to_string(n) + ": expected at least 5 tab-separated fields");
        CompareEntry e;
        e.model = f[0];
        e.format = f[1];
        if (f.size() > 5) e.note = f[5];
        if (named(f[2])) {
            try {
                e.bytes = decode_bytes_from_json(json::parse(slurp(resolve(dir, f[2]))));
            } catch (const std::exception& ex) {
                e.note += (e.note.empty() ? "" : "; ") + std::string("no file shape: ") + ex.what();
            }
        }
        if (named(f[3])) {
            try {
                e.ours = json::parse(slurp(resolve(dir, f[3])));
            } catch (const std::exception& ex) {
                e.ours_missing = std::string("no worker-orcd-bench result: ") + ex.what();
            }
        } else {
            e.ours_missing = "not run";
        }
        if (named(f[4])) {
            try {
                e.llama = parse_llama_bench(slurp(resolve(dir, f[4])));
            } catch (const std::exception& ex) {
                e.llama_missing = "no llama-bench result in " + f[4] + ": " + ex.what();
            }
        }
        entries.push_back(std::move(e));
    }
    return entries;
}

}  // namespace orcd::bench
