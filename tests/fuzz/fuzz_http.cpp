// libFuzzer target for the HTTP front of the worker: raw bytes in, as one
// client connection; the request parser, router and validator of src/server
// answer them (tests/http/http_exchange.h: the same functions HttpSession
// calls, a fake worker behind them). Every answer must be well-formed HTTP
// by the rules of tests/http/http_wire_check.h, in the error shape its path
// asks for (OpenAI's under /v1/), every stream whole, every admitted job
// (/execute, /v1/chat/completions, /v1/completions) within the documented
// limits; anything else, a crash or a sanitizer report is a bug.
#include "http_exchange.h"
#include "http_wire_check.h"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string_view>

namespace {

[[noreturn]] void violation(const char* what, const std::string& detail) {
    std::fprintf(stderr, "fuzz_http: %s: %s\n", what, detail.c_str());
    __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace orcd::httptest;
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    // The client's behaviour comes from the input's length, so every input
    // replays the same way: reads of a few bytes, a client that half-closes
    // or one that holds the connection; then the same bytes in one read.
    ClientMode mode;
    mode.read_chunk = 1 + size % 13;
    mode.holds_open = (size & 1) != 0;
    FakeWorker worker;
    const Served served = serve_bytes(input, worker, mode);

    const WireCheck wire = check_wire(served.wire, served.answers_head);
    if (!wire.ok()) violation("malformed answer", wire.error);
    // How the bytes were split into reads must not change any answer to a
    // client that sent everything and half-closed. (One that holds on may
    // legitimately wait longer for a malformed header cut into small reads:
    // Beast checks a start line it first saw incomplete only once the
    // header's end arrives, else at the header timeout.)
    FakeWorker whole_worker;
    const Served served_whole = serve_bytes(input, whole_worker, {0, mode.holds_open});
    const WireCheck whole = check_wire(served_whole.wire, served_whole.answers_head);
    if (!whole.ok()) violation("malformed answer (one read)", whole.error);
    if (!mode.holds_open) {
        if (whole.responses.size() != wire.responses.size()) violation("answers depend on read sizes", "count");
        for (size_t i = 0; i < whole.responses.size(); ++i)
            if (whole.responses[i].status != wire.responses[i].status)
                violation("answers depend on read sizes", "status");
    }
    if (auto e = check_error_shapes(served, wire); !e.empty()) violation("wrong error shape", e);
    // An admitted job's answer (an /execute or OpenAI stream, or an OpenAI
    // completion object) comes whole: the fake job runs to its end.
    if (!wire.responses.empty() && wire.responses.back().content_type == "text/event-stream") {
        if (auto e = check_stream(wire.responses.back().body, true); !e.empty()) violation("bad stream", e);
    }
    for (const auto& req : served.admitted)
        if (auto e = check_admitted(req, worker.request_limits()); !e.empty()) violation("admitted a bad request", e);
    for (const auto& id : worker.cancelled)
        if (id.empty() || id.size() > 256) violation("cancel with a bad job_id", id);
    return 0;
}
