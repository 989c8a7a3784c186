#include "bench_socket.h"

#include "bench_timer.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace orcd::bench {

Socket::Socket(uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    const int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        const int err = errno;
        close(fd_);
        throw std::runtime_error("connect to 127.0.0.1:" + std::to_string(port) + ": " + std::strerror(err));
    }
}

Socket::~Socket() { close(fd_); }

void Socket::send_all(const std::string& data) {
    size_t at = 0;
    while (at < data.size()) {
        const ssize_t n = ::send(fd_, data.data() + at, data.size() - at, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw std::runtime_error(std::string("send: ") + std::strerror(errno));
        at += size_t(n);
    }
}

size_t Socket::recv_some(std::string& buf, double deadline) {
    for (;;) {
        const double left = deadline - host_seconds();
        if (left <= 0) throw std::runtime_error("timed out waiting for the server's stream");
        pollfd p{fd_, POLLIN, 0};
        const int r = poll(&p, 1, int(std::min(left, 1.0) * 1000) + 1);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) throw std::runtime_error(std::string("poll: ") + std::strerror(errno));
        if (r == 0) continue;
        char tmp[16384];
        const ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw std::runtime_error(std::string("recv: ") + std::strerror(errno));
        buf.append(tmp, size_t(n));
        return size_t(n);
    }
}

int http_get_status(uint16_t port, const std::string& path, double timeout_s) {
    try {
        Socket s(port);
        s.send_all("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        const double deadline = host_seconds() + timeout_s;
        std::string buf;
        while (buf.find("\r\n") == std::string::npos)
            if (s.recv_some(buf, deadline) == 0) return 0;
        int status = 0;
        return std::sscanf(buf.c_str(), "HTTP/%*d.%*d %d", &status) == 1 ? status : 0;
    } catch (const std::exception&) {
        return 0;
    }
}

}  // namespace orcd::bench
