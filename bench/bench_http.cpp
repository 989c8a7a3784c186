#include "bench_http.h"

#include "bench_process.h"
#include "bench_timer.h"

#include <nlohmann/json.hpp>

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
namespace {

using nlohmann::json;

class Socket {
public:
    explicit Socket(uint16_t port) {
        fd_ = socket(AF_INET, SOCK_STREAM, 0);
        if (fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
        const int one = 1;
        setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port);
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
            throw std::runtime_error("connect to 127.0.0.1:" + std::to_string(port) + ": " + std::strerror(errno));
    }
    ~Socket() { close(fd_); }
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;

    void send_all(const std::string& data) {
        size_t at = 0;
        while (at < data.size()) {
            const ssize_t n = ::send(fd_, data.data() + at, data.size() - at, MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) throw std::runtime_error(std::string("send: ") + std::strerror(errno));
            at += size_t(n);
        }
    }
    // Appends what arrives to buf; 0 at end of stream. Throws past the deadline.
    size_t recv_some(std::string& buf, double deadline) {
        for (;;) {
            const double left = deadline - host_seconds();
            if (left <= 0) throw std::runtime_error("timed out waiting for the worker's stream");
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

private:
    int fd_ = -1;
};

// The value of an SSE field line: after "name:", one optional space dropped.
std::string field_value(const std::string& line, size_t colon_end) {
    size_t at = colon_end;
    if (at < line.size() && line[at] == ' ') ++at;
    return line.substr(at);
}

// One SSE event out of the front of buf ("event: X\ndata: Y\n\n"), if complete.
bool take_event(std::string& buf, std::string& type, std::string& data) {
    const size_t end = buf.find("\n\n");
    if (end == std::string::npos) return false;
    const std::string block = buf.substr(0, end);
    buf.erase(0, end + 2);
    type.clear();
    data.clear();
    size_t at = 0;
    while (at <= block.size()) {
        size_t nl = block.find('\n', at);
        if (nl == std::string::npos) nl = block.size();
        std::string line = block.substr(at, nl - at);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.rfind("event:", 0) == 0) type = field_value(line, 6);
        else if (line.rfind("data:", 0) == 0) data += field_value(line, 5);
        at = nl + 1;
    }
    return true;
}

}  // namespace

SseRun stream_execute(uint16_t port, const std::string& body, double timeout_s) {
    Socket sock(port);
    const std::string request = "POST /execute HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                                "\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\n"
                                "Connection: close\r\nContent-Length: " +
                                std::to_string(body.size()) + "\r\n\r\n" + body;
    const double t0 = host_seconds();
    const double deadline = t0 + timeout_s;
    sock.send_all(request);

    std::string buf;
    size_t head_end = std::string::npos;
    while ((head_end = buf.find("\r\n\r\n")) == std::string::npos)
        if (sock.recv_some(buf, deadline) == 0) throw std::runtime_error("the worker closed the connection before answering");
    const std::string head = buf.substr(0, head_end);
    buf.erase(0, head_end + 4);
    int status = 0;
    if (std::sscanf(head.c_str(), "HTTP/%*d.%*d %d", &status) != 1)
        throw std::runtime_error("not an HTTP response: " + head.substr(0, 200));
    if (status != 200) {
        while (sock.recv_some(buf, std::min(deadline, host_seconds() + 5)) > 0) {
        }
        throw std::runtime_error("/execute answered HTTP " + std::to_string(status) + ": " + buf.substr(0, 2000));
    }
    std::string lower = head;
    for (char& c : lower) c = char(std::tolower(static_cast<unsigned char>(c)));
    if (lower.find("transfer-encoding: chunked") != std::string::npos)
        throw std::runtime_error("the stream is chunked; this client reads close-delimited SSE only");

    SseRun run;
    double last_token = 0;
    bool done = false;
    std::string type, data;
    double now = t0;
    for (;;) {
        while (take_event(buf, type, data)) {
            const double ms = (now - t0) * 1e3;
            if (type == "token") {
                if (run.token_events == 0) run.ttft_ms = ms;
                else run.gaps_ms.push_back(ms - last_token);
                last_token = ms;
                ++run.token_events;
            } else if (type == "started") {
                const json j = json::parse(data, nullptr, false);
                if (j.is_object()) run.prompt_tokens = j.value("prompt_tokens", 0u);
            } else if (type == "end") {
                const json j = json::parse(data, nullptr, false);
                if (j.is_object()) {
                    run.tokens_out = j.value("tokens_out", 0u);
                    run.stop_reason = j.value("stop_reason", std::string());
                }
                run.total_ms = ms;
                done = true;
            } else if (type == "error") {
                throw std::runtime_error("the stream ended with an error event: " + data);
            }
        }
        if (done) break;
        if (sock.recv_some(buf, deadline) == 0) throw std::runtime_error("the stream closed before its end event");
        now = host_seconds();
    }
    return run;
}

HttpResult bench_http(const HttpOptions& opt) {
    HttpResult r;
    r.prompt_tokens_local = opt.prompt_tokens_local;
    r.max_tokens = opt.max_tokens;
    r.worker_log = opt.log_path;
    WorkerProcess worker(opt.worker_binary, opt.worker_args, opt.log_path, opt.ready_timeout_s);
    r.ready_s = worker.ready_seconds();
    std::fprintf(stderr, "[bench] worker ready on port %u after %.1f s (log %s)\n", unsigned(worker.port()),
                 r.ready_s, opt.log_path.c_str());
    try {
        std::vector<double> ttft, gaps, e2e, dec, toks;
        for (int i = 0; i < 1 + opt.runs; ++i) {
            const json body = {{"job_id", "bench-" + std::to_string(i)},
                               {"prompt", opt.prompt},
                               {"max_tokens", opt.max_tokens},
                               {"temperature", 0.0},
                               {"seed", opt.seed}};
            const SseRun run = stream_execute(worker.port(), body.dump(), opt.request_timeout_s);
            r.prompt_tokens_server = run.prompt_tokens;
            if (i == 0) continue;  // warm-up
            if (run.token_events == 0) throw std::runtime_error("a run produced no token event");
            ttft.push_back(run.ttft_ms);
            gaps.insert(gaps.end(), run.gaps_ms.begin(), run.gaps_ms.end());
            e2e.push_back(run.total_ms > 0 ? run.tokens_out / (run.total_ms * 1e-3) : 0);
            if (run.token_events > 1) {
                double span = 0;
                for (double g : run.gaps_ms) span += g;
                dec.push_back(span > 0 ? (run.token_events - 1) / (span * 1e-3) : 0);
            }
            toks.push_back(run.tokens_out);
            r.stop_reasons.push_back(run.stop_reason);
        }
        r.runs = opt.runs;
        r.ttft_ms = summarize(ttft);
        r.itl_ms = summarize(gaps);
        r.e2e_tok_s = summarize(e2e);
        r.decode_tok_s = summarize(dec);
        r.tokens_out = summarize(toks);
    } catch (...) {
        const std::string how = worker.stop();
        std::fprintf(stderr, "[bench] worker stopped: %s; log tail:\n%s\n", how.c_str(), worker.log_tail().c_str());
        throw;
    }
    r.worker_exit = worker.stop();
    return r;
}

}  // namespace orcd::bench
