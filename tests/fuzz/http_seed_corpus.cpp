// Writes the HTTP fuzzer's seed corpus (tests/http/http_seeds.h, plus a
// POST /shutdown the mutation run must not send) into a directory, one file
// per request.
#include "http_seeds.h"

#include <cstdio>
#include <fstream>
#include <string>

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
        return 2;
    }
    auto seeds = orcd::httptest::http_seed_requests();
    seeds.push_back({"shutdown", orcd::httptest::http_request_bytes("POST", "/shutdown", "")});
    for (const auto& s : seeds) {
        std::ofstream out(std::string(argv[1]) + "/" + s.name + ".http", std::ios::binary);
        out.write(s.bytes.data(), static_cast<std::streamsize>(s.bytes.size()));
        if (!out) {
            std::fprintf(stderr, "cannot write %s\n", s.name.c_str());
            return 1;
        }
    }
    std::printf("http_seed_corpus: %zu seeds\n", seeds.size());
    return 0;
}
