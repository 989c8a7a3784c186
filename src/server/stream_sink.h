// Where the inference thread sends a job's output: the HTTP connection that
// asked for it. Every call returns at once (the connection queues the bytes
// on its own executor), so a slow client never stalls the inference thread.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <string>

namespace orcd::server {

class StreamSink {
public:
    virtual ~StreamSink() = default;
    // Before the stream opened: a plain JSON response, then the connection closes.
    virtual void reject(unsigned http_status, nlohmann::json body, bool retry_after) = 0;
    // Queues bytes: the response head, then each framed event.
    virtual void send(std::string bytes) = 0;
    // After the terminal event: flush what is queued, then close.
    virtual void close_stream() = 0;
    // True once the client has gone away (read EOF/reset or a failed write).
    virtual bool client_gone() const = 0;
    // Looks at the connection now and, if the client has left, cancels the
    // job; then calls done (from the sink's executor). Lets a new request
    // learn that the running job's client is gone before the sink's own
    // reader has had its turn.
    virtual void probe_client(std::function<void()> done) = 0;
};

}  // namespace orcd::server
