// A streamed HTTP response read as it arrives, turned into Server-Sent
// Events and then into what a benchmark times: the start of a job, each
// token that carries text, its end. Two servers speak two dialects:
//   - worker-orcd's POST /execute: `event: started|token|end|error` with a
//     JSON `data:` line, the body delimited by the connection's close;
//   - llama-server's POST /completion with "stream": true: `data: {...}`
//     lines only, one per token ("content", "stop": false), the last with
//     "stop": true and the counts, in a chunked body.
// Only network-free parsing lives here (unit-tested on recorded streams).
#pragma once

#include <cstdint>
#include <string>

namespace orcd::bench {

enum class Dialect { Execute, LlamaServer };

// Feed bytes as they arrive; take events out. Parses the status line and
// the headers, then a close-delimited or chunked body.
class HttpEventStream {
public:
    // Appends received bytes. Throws std::runtime_error for a malformed
    // response (not HTTP, a bad chunk size).
    void feed(const char* data, size_t n);
    // True once the head is complete (status() and chunked() are valid).
    bool has_head() const { return head_done_; }
    int status() const { return status_; }
    bool chunked() const { return chunked_; }
    // The next complete SSE event of the body, if one has arrived.
    bool next_event(std::string& type, std::string& data);
    // A chunked body's last (zero-size) chunk has arrived.
    bool body_complete() const { return body_done_; }
    // Body bytes received so far and not yet taken as events (for errors).
    const std::string& pending_body() const { return body_; }

private:
    void parse_head();
    void dechunk();

    std::string raw_;   // bytes not yet moved to body_ (head, chunk framing)
    std::string body_;  // de-chunked body not yet taken as events
    bool head_done_ = false, chunked_ = false, body_done_ = false;
    int status_ = 0;
    size_t chunk_left_ = 0;  // bytes of the current chunk still to come
    bool in_chunk_ = false;
};

// What one event means to the benchmark.
struct StreamEvent {
    enum Kind { Other, Started, Token, End, Error } kind = Other;
    uint32_t prompt_tokens = 0;  // Started (Execute) and End (LlamaServer)
    uint32_t tokens_out = 0;     // End
    std::string stop_reason;     // End
    std::string message;         // Error
};

// A Token is an event that carries text: worker-orcd sends no event for a
// token whose text is held back or empty, and llama-server's events with an
// empty "content" are skipped the same way, so both count what a client sees.
StreamEvent interpret_event(Dialect d, const std::string& type, const std::string& data);

}  // namespace orcd::bench
