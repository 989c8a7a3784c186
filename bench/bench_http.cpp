#include "bench_http.h"

#include "bench_socket.h"
#include "bench_timer.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <stdexcept>

namespace orcd::bench {
namespace {

using nlohmann::json;

std::string request_body(const HttpOptions& opt, int i) {
    if (opt.kind == ServerKind::Worker)
        return json{{"job_id", "bench-" + std::to_string(i)},
                    {"prompt", opt.prompt},
                    {"max_tokens", opt.max_tokens},
                    {"temperature", opt.temperature},
                    {"seed", opt.seed}}
            .dump();
    // Token ids are taken as they are (no BOS added); no prompt cache, so
    // every run prefills the whole prompt as the worker does.
    return json{{"prompt", opt.prompt_ids},
                {"n_predict", opt.max_tokens},
                {"stream", true},
                {"cache_prompt", false},
                {"temperature", opt.temperature},
                {"seed", opt.seed}}
        .dump();
}

}  // namespace

SseRun stream_request(uint16_t port, const std::string& path, Dialect dialect, const std::string& body,
                      double timeout_s) {
    Socket sock(port);
    const std::string request = "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                                "\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\n"
                                "Connection: close\r\nContent-Length: " +
                                std::to_string(body.size()) + "\r\n\r\n" + body;
    const double t0 = host_seconds();
    const double deadline = t0 + timeout_s;
    sock.send_all(request);

    HttpEventStream stream;
    std::string buf;
    auto receive = [&](double until) {
        buf.clear();
        const size_t n = sock.recv_some(buf, until);
        stream.feed(buf.data(), buf.size());
        return n;
    };
    while (!stream.has_head())
        if (receive(deadline) == 0) throw std::runtime_error("the server closed the connection before answering");
    if (stream.status() != 200) {
        while (!stream.body_complete() && receive(std::min(deadline, host_seconds() + 5)) > 0) {
        }
        throw std::runtime_error(path + " answered HTTP " + std::to_string(stream.status()) + ": " +
                                 stream.pending_body().substr(0, 2000));
    }

    SseRun run;
    double last_token = 0;
    std::string type, data;
    double now = host_seconds();
    for (;;) {
        while (stream.next_event(type, data)) {
            const StreamEvent ev = interpret_event(dialect, type, data);
            const double ms = (now - t0) * 1e3;
            switch (ev.kind) {
                case StreamEvent::Token:
                    if (run.token_events == 0) run.ttft_ms = ms;
                    else run.gaps_ms.push_back(ms - last_token);
                    last_token = ms;
                    ++run.token_events;
                    break;
                case StreamEvent::Started:
                    run.prompt_tokens = ev.prompt_tokens;
                    break;
                case StreamEvent::End:
                    run.tokens_out = ev.tokens_out;
                    run.stop_reason = ev.stop_reason;
                    if (ev.prompt_tokens) run.prompt_tokens = ev.prompt_tokens;
                    run.total_ms = ms;
                    return run;
                case StreamEvent::Error:
                    throw std::runtime_error("the stream ended with an error event: " + ev.message.substr(0, 1000));
                case StreamEvent::Other:
                    break;
            }
        }
        if (stream.body_complete() || receive(deadline) == 0)
            throw std::runtime_error("the stream closed before its end event");
        now = host_seconds();
    }
}

HttpResult bench_http(const HttpOptions& opt) {
    HttpResult r;
    r.prompt_tokens_local = opt.prompt_tokens_local();
    r.max_tokens = opt.max_tokens;
    r.temperature = opt.temperature;
    r.server_log = opt.log_path;
    const bool worker = opt.kind == ServerKind::Worker;
    const char* name = worker ? "worker-orcd" : "llama-server";
    ServerProcess server(opt.kind, opt.binary, opt.args, opt.log_path, opt.ready_timeout_s);
    r.ready_s = server.ready_seconds();
    std::fprintf(stderr, "[bench] %s ready on port %u after %.1f s (log %s)\n", name, unsigned(server.port()),
                 r.ready_s, opt.log_path.c_str());
    try {
        std::vector<double> ttft, gaps, e2e, dec, toks;
        for (int i = 0; i < 1 + opt.runs; ++i) {
            const SseRun run = stream_request(server.port(), worker ? "/execute" : "/completion",
                                              worker ? Dialect::Execute : Dialect::LlamaServer, request_body(opt, i),
                                              opt.request_timeout_s);
            r.prompt_tokens_server = run.prompt_tokens;
            if (i == 0) continue;  // warm-up
            if (run.token_events == 0) throw std::runtime_error("a run produced no token event carrying text");
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
        const std::string how = server.stop();
        std::fprintf(stderr, "[bench] %s stopped: %s; log tail:\n%s\n", name, how.c_str(), server.log_tail().c_str());
        throw;
    }
    r.server_exit = server.stop();
    return r;
}

}  // namespace orcd::bench
