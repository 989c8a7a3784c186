// Requests for every endpoint of the worker, valid and invalid, as raw
// bytes: the seed corpus of the HTTP fuzzer and of the mutation run against
// the real binary. None of them is POST /shutdown (a mutation run must not
// stop the worker it is testing); the fuzzer adds that one itself.
#pragma once

#include <string>
#include <vector>

namespace orcd::httptest {

struct SeedRequest {
    std::string name;   // file-name safe
    std::string bytes;  // what a client writes, possibly several pipelined requests
};

std::vector<SeedRequest> http_seed_requests();

// A well-formed request: the method, target, headers, Content-Length (for a
// body or a POST) and Connection: close unless keep_alive.
std::string http_request_bytes(const std::string& method, const std::string& target, const std::string& body,
                               const std::vector<std::string>& header_lines = {}, bool keep_alive = false);

}  // namespace orcd::httptest
