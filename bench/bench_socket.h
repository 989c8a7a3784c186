// A blocking TCP client socket to a server on 127.0.0.1, with deadlines:
// what the HTTP figures and the servers' readiness checks talk through.
#pragma once

#include <cstdint>
#include <string>

namespace orcd::bench {

class Socket {
public:
    // Connects to 127.0.0.1:port (TCP_NODELAY); throws std::runtime_error.
    explicit Socket(uint16_t port);
    ~Socket();
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;

    void send_all(const std::string& data);
    // Appends what arrives to buf; 0 at end of stream. Throws past the
    // deadline (host_seconds()).
    size_t recv_some(std::string& buf, double deadline);

private:
    int fd_ = -1;
};

// The status of GET path on 127.0.0.1:port, or 0 when nothing answers
// (connection refused, closed, or no status line within timeout_s).
int http_get_status(uint16_t port, const std::string& path, double timeout_s);

}  // namespace orcd::bench
