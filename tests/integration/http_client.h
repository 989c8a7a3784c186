// A small blocking HTTP/1.1 client over plain sockets, with deadlines on
// every read, for talking to the worker the way an orchestrator would. It
// also exposes the raw connection so tests can disconnect mid-stream,
// half-send a request or reuse a keep-alive connection.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace orcd::itest {

using namespace std::chrono_literals;
using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpResponse {
    int status = 0;
    std::map<std::string, std::string> headers;  // names lowercased
    std::string body;

    std::string header(const std::string& name) const;  // "" when absent
    bool has_header(const std::string& name) const;
    nlohmann::json json() const;  // throws when the body is not JSON
};

// One TCP connection.
class Connection {
public:
    Connection(uint16_t port, std::chrono::milliseconds timeout = 10s);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    void send_all(const std::string& bytes);
    // Up to max bytes; "" at EOF; throws on timeout or error.
    std::string recv_some(std::chrono::milliseconds timeout, size_t max = 65536);
    // Reads one full response (Content-Length or close-delimited body).
    HttpResponse read_response(std::chrono::milliseconds timeout = 30s);
    // Reads the status line and headers only; the body follows in pending().
    HttpResponse read_head(std::chrono::milliseconds timeout = 30s);
    // Bytes read past the head that belong to the body.
    std::string take_pending() { return std::exchange(pending_, std::string()); }
    // Closes at once: with reset = true the peer sees RST instead of FIN.
    void close(bool reset = false);
    // Ends the sending side (FIN); the answer can still be read.
    void half_close();
    bool is_open() const { return fd_ >= 0; }
    // The socket, for tests that drive it byte by byte.
    int native_handle() const { return fd_; }

private:
    int fd_ = -1;
    std::string pending_;
};

std::string build_request(const std::string& method, const std::string& path, const std::string& body,
                          const Headers& headers, bool keep_alive = false);

// One request on a fresh connection.
HttpResponse http_request(uint16_t port, const std::string& method, const std::string& path,
                          const std::string& body = "", const Headers& headers = {},
                          std::chrono::milliseconds timeout = 30s);
HttpResponse http_get(uint16_t port, const std::string& path, const Headers& headers = {});
// POST with Content-Type: application/json unless headers say otherwise.
HttpResponse http_post_json(uint16_t port, const std::string& path, const std::string& body,
                            const Headers& headers = {}, std::chrono::milliseconds timeout = 30s);

}  // namespace orcd::itest
