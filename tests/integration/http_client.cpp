#include "http_client.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace orcd::itest {
namespace {

using Clock = std::chrono::steady_clock;

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
}

std::chrono::milliseconds left(Clock::time_point deadline) {
    return std::max(0ms, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
}

}  // namespace

std::string HttpResponse::header(const std::string& name) const {
    auto it = headers.find(lower(name));
    return it == headers.end() ? "" : it->second;
}

bool HttpResponse::has_header(const std::string& name) const { return headers.count(lower(name)) > 0; }

nlohmann::json HttpResponse::json() const { return nlohmann::json::parse(body); }

Connection::Connection(uint16_t port, std::chrono::milliseconds timeout) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) throw std::runtime_error("socket failed");
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        const int err = errno;
        ::close(fd_);
        fd_ = -1;
        throw std::runtime_error(std::string("connect: ") + std::strerror(err));
    }
}

Connection::~Connection() { close(); }

void Connection::close(bool reset) {
    if (fd_ < 0) return;
    if (reset) {
        linger lg{1, 0};
        setsockopt(fd_, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    ::close(fd_);
    fd_ = -1;
}

void Connection::half_close() {
    if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

void Connection::send_all(const std::string& bytes) {
    size_t off = 0;
    while (off < bytes.size()) {
        const ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw std::runtime_error(std::string("send: ") + std::strerror(errno));
        }
        off += static_cast<size_t>(n);
    }
}

std::string Connection::recv_some(std::chrono::milliseconds timeout, size_t max) {
    if (!pending_.empty()) return take_pending();
    pollfd p{fd_, POLLIN, 0};
    int r;
    do {
        r = ::poll(&p, 1, static_cast<int>(timeout.count()));
    } while (r < 0 && errno == EINTR);
    if (r == 0) throw std::runtime_error("recv timed out");
    if (r < 0) throw std::runtime_error(std::string("poll: ") + std::strerror(errno));
    std::string buf(max, '\0');
    const ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
    if (n < 0) throw std::runtime_error(std::string("recv: ") + std::strerror(errno));
    buf.resize(static_cast<size_t>(n));
    return buf;
}

HttpResponse Connection::read_head(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    std::string data = take_pending();
    size_t end;
    while ((end = data.find("\r\n\r\n")) == std::string::npos) {
        std::string chunk = recv_some(left(deadline));
        if (chunk.empty()) throw std::runtime_error("connection closed before the response head");
        data += chunk;
    }
    pending_ = data.substr(end + 4);
    HttpResponse res;
    const std::string head = data.substr(0, end);
    size_t pos = head.find("\r\n");
    const std::string status_line = head.substr(0, pos);
    if (status_line.rfind("HTTP/1.", 0) != 0) throw std::runtime_error("bad status line: " + status_line);
    res.status = std::stoi(status_line.substr(9, 3));
    while (pos != std::string::npos && pos < head.size()) {
        const size_t next = head.find("\r\n", pos + 2);
        const std::string line = head.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
        const size_t colon = line.find(':');
        if (colon != std::string::npos) {
            std::string value = line.substr(colon + 1);
            while (!value.empty() && value.front() == ' ') value.erase(0, 1);
            res.headers[lower(line.substr(0, colon))] = value;
        }
        pos = next;
    }
    return res;
}

HttpResponse Connection::read_response(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    HttpResponse res = read_head(timeout);
    std::string body = take_pending();
    if (res.has_header("content-length")) {
        const size_t len = std::stoul(res.header("content-length"));
        while (body.size() < len) {
            std::string chunk = recv_some(left(deadline));
            if (chunk.empty()) throw std::runtime_error("connection closed inside the body");
            body += chunk;
        }
        pending_ = body.substr(len);
        body.resize(len);
    } else {
        for (;;) {
            std::string chunk = recv_some(left(deadline));
            if (chunk.empty()) break;
            body += chunk;
        }
    }
    res.body = std::move(body);
    return res;
}

std::string build_request(const std::string& method, const std::string& path, const std::string& body,
                          const Headers& headers, bool keep_alive) {
    std::string req = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
    if (!keep_alive) req += "Connection: close\r\n";
    if (!body.empty() || method == "POST") req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    req += "\r\n";
    req += body;
    return req;
}

HttpResponse http_request(uint16_t port, const std::string& method, const std::string& path, const std::string& body,
                          const Headers& headers, std::chrono::milliseconds timeout) {
    Connection c(port, timeout);
    c.send_all(build_request(method, path, body, headers));
    return c.read_response(timeout);
}

HttpResponse http_get(uint16_t port, const std::string& path, const Headers& headers) {
    return http_request(port, "GET", path, "", headers);
}

HttpResponse http_post_json(uint16_t port, const std::string& path, const std::string& body, const Headers& headers,
                            std::chrono::milliseconds timeout) {
    Headers all = headers;
    const bool has_ct = std::any_of(all.begin(), all.end(), [](const auto& h) { return lower(h.first) == "content-type"; });
    if (!has_ct) all.emplace_back("Content-Type", "application/json");
    return http_request(port, "POST", path, body, all, timeout);
}

}  // namespace orcd::itest
