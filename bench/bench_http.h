// The HTTP figures: one blocking client streaming a completion from a real
// server over a plain socket, timing each Server-Sent Event as it arrives.
// The server is worker-orcd (POST /execute) or, beside it on the same file,
// llama-server (POST /completion): the same client code, the same prompt
// token ids, the same count of tokens asked, both at temperature 0.
#pragma once

#include "bench_process.h"
#include "bench_stats.h"
#include "http_stream.h"

#include <cstdint>
#include <string>
#include <vector>

namespace orcd::bench {

// One streamed request, timed from the first byte sent.
struct SseRun {
    double ttft_ms = 0;             // first token event (one that carries text)
    double total_ms = 0;            // the terminal event
    std::vector<double> gaps_ms;    // between successive token events
    uint32_t token_events = 0;
    uint32_t tokens_out = 0;        // the terminal event's count
    uint32_t prompt_tokens = 0;     // the server's count of the prompt
    std::string stop_reason;
};

// POSTs json_body to 127.0.0.1:port/path and reads its stream to the end.
// Throws std::runtime_error naming what went wrong (HTTP status and body,
// an error event, a timeout, a closed connection).
SseRun stream_request(uint16_t port, const std::string& path, Dialect dialect, const std::string& json_body,
                      double timeout_s);

struct HttpResult {
    uint32_t prompt_tokens_local = 0;   // counted with the model's tokenizer (BOS included)
    uint32_t prompt_tokens_server = 0;  // what the server reported
    uint32_t max_tokens = 0;
    double temperature = 0;
    int runs = 0;
    double ready_s = 0;                 // server start to ready
    Summary ttft_ms;
    Summary itl_ms;                     // all gaps of all runs together
    Summary e2e_tok_s;                  // tokens_out / total time, per run
    Summary decode_tok_s;               // (token events - 1) / (last - first event), per run
    Summary tokens_out;                 // tokens actually received per run
    std::vector<std::string> stop_reasons;
    std::string server_log;
    std::string server_exit;
};

struct HttpOptions {
    ServerKind kind = ServerKind::Worker;
    std::string binary;
    std::vector<std::string> args;      // model, device, ... (the port is added)
    std::string log_path;
    std::string prompt;                 // worker-orcd gets the text ...
    std::vector<int32_t> prompt_ids;    // ... llama-server its token ids (BOS included)
    uint32_t max_tokens = 256;
    int runs = 5;
    uint64_t seed = 1;
    double temperature = 0.0;           // 0: greedy; above: the whole vocabulary
    double ready_timeout_s = 600;
    double request_timeout_s = 300;

    uint32_t prompt_tokens_local() const { return uint32_t(prompt_ids.size()); }
};

// Starts the server, one warm-up request, `runs` timed ones, stops the server.
HttpResult bench_http(const HttpOptions& opt);

}  // namespace orcd::bench
