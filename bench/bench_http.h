// The HTTP figures: one blocking client streaming POST /execute from the real
// worker binary over a plain socket, timing each Server-Sent Event as it
// arrives.
#pragma once

#include "bench_stats.h"

#include <cstdint>
#include <string>
#include <vector>

namespace orcd::bench {

// One streamed request, timed from the first byte sent.
struct SseRun {
    double ttft_ms = 0;             // first `token` event
    double total_ms = 0;            // the terminal event
    std::vector<double> gaps_ms;    // between successive `token` events
    uint32_t token_events = 0;
    uint32_t tokens_out = 0;        // the `end` event's count
    uint32_t prompt_tokens = 0;     // the `started` event's count
    std::string stop_reason;
};

// Sends one /execute request to 127.0.0.1:port and reads its stream to the
// end. Throws std::runtime_error naming what went wrong (HTTP status and
// body, an `error` event, a timeout, a closed connection).
SseRun stream_execute(uint16_t port, const std::string& json_body, double timeout_s);

struct HttpResult {
    uint32_t prompt_tokens_local = 0;   // counted with the model's tokenizer (BOS included)
    uint32_t prompt_tokens_server = 0;  // what the worker reported
    uint32_t max_tokens = 0;
    int runs = 0;
    double ready_s = 0;                 // worker start to `ready`
    Summary ttft_ms;
    Summary itl_ms;                     // all gaps of all runs together
    Summary e2e_tok_s;                  // tokens_out / total time, per run
    Summary decode_tok_s;               // (token events - 1) / (last - first event), per run
    Summary tokens_out;                 // tokens actually received per run
    std::vector<std::string> stop_reasons;
    std::string worker_log;
    std::string worker_exit;
};

struct HttpOptions {
    std::string worker_binary;
    std::vector<std::string> worker_args;  // model, device, ... (the port is added)
    std::string log_path;
    std::string prompt;
    uint32_t prompt_tokens_local = 0;
    uint32_t max_tokens = 256;
    int runs = 5;
    uint64_t seed = 1;
    double ready_timeout_s = 600;
    double request_timeout_s = 300;
};

// Starts the worker, one warm-up request, `runs` timed ones, stops the worker.
HttpResult bench_http(const HttpOptions& opt);

}  // namespace orcd::bench
