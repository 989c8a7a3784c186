// A mutator for HTTP requests (radamsa is not packaged for Debian 12): it
// takes a corpus entry and applies one to four edits that break requests
// the ways clients and attackers do: flipped bits, control bytes, cut or
// repeated ranges, absurd numbers, swapped methods, paths and header names,
// splices of two requests. Deterministic for a given seed.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace orcd::httptest {

class HttpMutator {
public:
    HttpMutator(std::vector<std::string> corpus, uint64_t seed);
    // A mutated copy of a random corpus entry; never a request to /shutdown.
    std::string next();

private:
    size_t below(size_t n) { return n ? static_cast<size_t>(rng_() % n) : 0; }
    void mutate_once(std::string& s);

    std::vector<std::string> corpus_;
    std::mt19937_64 rng_;
};

}  // namespace orcd::httptest
