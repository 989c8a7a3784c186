// worker-orcd-bench-tokenizer: how fast each vocabulary encodes a 32K-
// character mixed prompt (English, code, numbers, whitespace runs, Cyrillic,
// CJK, emoji), the way a job tokenizes a prompt (BOS as the vocabulary adds
// it, no special-token parsing). A benchmark, not a test: it prints a table,
// writes JSON, and names the CPU the figures come from.
//
//   worker-orcd-bench-tokenizer [--out FILE.json] [--repeat N] NAME=PATH ...
//   PATH: a GGUF file with a vocabulary, or a Hugging Face tokenizer.json
//   (imported as worker-orcd-synth --tokenizer does).
#include "gguf/gguf.h"
#include "gguf/gguf_writer.h"
#include "synth_tokenizer_json.h"
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

namespace {

constexpr size_t kChars = 32768;

// The prompt: a cycle of varied pieces, numbered so no two are identical,
// cut at exactly kChars code points.
std::string mixed_prompt() {
    static const char* const kPieces[] = {
        "The quick brown fox jumps over the lazy dog, and we're sure it'll do it again tomorrow. ",
        "for (int i = 0; i < n; ++i) {\n\tsum += values[i] * 2;\n}\n",
        "Invoice 2024-11-28: 3 items, total 1234.56 EUR, order #987654321. ",
        "    \n\n   \t  indented   text   with   runs   of   spaces\r\n",
        "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82, \xD0\xBA\xD0\xB0\xD0\xBA \xD0\xB4\xD0\xB5\xD0\xBB\xD0\xB0? ",
        "\xE4\xBD\xA0\xE5\xA5\xBD\xEF\xBC\x8C\xE4\xB8\x96\xE7\x95\x8C\xE3\x80\x82\xE4\xBB\x8A\xE5\xA4\xA9\xE5\xA4\xA9\xE6\xB0\x94\xE5\xBE\x88\xE5\xA5\xBD\xE3\x80\x82",
        "Emoji: \xF0\x9F\x98\x80 \xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD \xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7 done. ",
        "<div class=\"note\">{\"key\": [1, 2, 3], \"ok\": true}</div>\n",
    };
    std::string out;
    size_t chars = 0;
    for (size_t i = 0; chars < kChars; ++i) {
        const std::string piece = std::string(kPieces[i % std::size(kPieces)]) + std::to_string(i) + " ";
        for (size_t k = 0; k < piece.size() && chars < kChars; ++k) {
            out += piece[k];
            // Count lead bytes; a character's continuation bytes follow it.
            if ((static_cast<unsigned char>(piece[k]) & 0xC0) != 0x80) ++chars;
            while (k + 1 < piece.size() && (static_cast<unsigned char>(piece[k + 1]) & 0xC0) == 0x80) out += piece[++k];
        }
    }
    return out;
}

std::string cpu_name() {
    std::ifstream in("/proc/cpuinfo");
    for (std::string line; std::getline(in, line);)
        if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
    return "unknown CPU";
}

std::unique_ptr<orcd::Tokenizer> load(const std::string& path) {
    if (path.size() >= 5 && path.compare(path.size() - 5, 5, ".json") == 0) {
        orcd::gguf::Writer w(3);
        orcd::synth::import_tokenizer_json(w, path);
        const std::vector<uint8_t> bytes = w.to_memory();
        const auto file = orcd::gguf::File::from_memory(bytes.data(), bytes.size());
        return orcd::Tokenizer::from_gguf(*file);
    }
    const auto file = orcd::gguf::File::open(path);
    return orcd::Tokenizer::from_gguf(*file);
}

}  // namespace

int main(int argc, char** argv) {
    std::string out_path;
    int repeat = 20;
    std::vector<std::pair<std::string, std::string>> vocabs;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--out" && i + 1 < argc) out_path = argv[++i];
        else if (a == "--repeat" && i + 1 < argc) repeat = std::max(1, std::atoi(argv[++i]));
        else if (a.find('=') != std::string::npos) vocabs.emplace_back(a.substr(0, a.find('=')), a.substr(a.find('=') + 1));
        else {
            std::fprintf(stderr, "usage: worker-orcd-bench-tokenizer [--out FILE.json] [--repeat N] NAME=PATH ...\n");
            return 2;
        }
    }
    if (vocabs.empty()) {
        std::fprintf(stderr, "worker-orcd-bench-tokenizer: name at least one NAME=PATH\n");
        return 2;
    }
    const std::string text = mixed_prompt();
    const std::string cpu = cpu_name();
    std::printf("prompt: %zu characters, %zu bytes; %d runs each; CPU: %s\n\n", kChars, text.size(), repeat, cpu.c_str());
    std::printf("| vocabulary | kind | tokens | median ms | best ms | tokens/s | MB/s |\n|---|---|---|---|---|---|---|\n");
    std::string json = "{\"cpu\": \"" + cpu + "\", \"characters\": " + std::to_string(kChars) +
                       ", \"bytes\": " + std::to_string(text.size()) + ", \"results\": [";
    for (size_t v = 0; v < vocabs.size(); ++v) {
        const auto& [name, path] = vocabs[v];
        std::unique_ptr<orcd::Tokenizer> tok;
        try {
            tok = load(path);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "%s: %s\n", path.c_str(), e.what());
            return 1;
        }
        std::vector<double> ms;
        size_t n_tokens = 0;
        tok->encode(text, true, false);  // warm-up: first-touch allocations, JIT stack
        for (int r = 0; r < repeat; ++r) {
            const auto t0 = std::chrono::steady_clock::now();
            n_tokens = tok->encode(text, true, false).size();
            ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
        }
        std::sort(ms.begin(), ms.end());
        const double median = ms[ms.size() / 2];
        std::printf("| %s | %s | %zu | %.2f | %.2f | %.0f | %.1f |\n", name.c_str(), tok->kind(), n_tokens, median, ms[0],
                    n_tokens / (median / 1000.0), text.size() / (median / 1000.0) / 1e6);
        char row[512];
        std::snprintf(row, sizeof row,
                      "%s{\"name\": \"%s\", \"kind\": \"%s\", \"tokens\": %zu, \"median_ms\": %.3f, \"best_ms\": %.3f}",
                      v ? ", " : "", name.c_str(), tok->kind(), n_tokens, median, ms[0]);
        json += row;
    }
    json += "]}\n";
    if (!out_path.empty()) std::ofstream(out_path) << json;
    return 0;
}
