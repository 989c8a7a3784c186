#include "http_exchange.h"

#include "correlation.h"

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <algorithm>
#include <cmath>
#include <sstream>

namespace orcd::httptest {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using server::Status;

// A SyncReadStream over the client's bytes: reads return at most chunk bytes,
// then EOF, the way a socket reports the client's half-close.
class MemoryStream {
public:
    MemoryStream(std::string_view bytes, size_t chunk) : bytes_(bytes), chunk_(chunk) {}

    template <class MutableBufferSequence>
    size_t read_some(const MutableBufferSequence& buffers, beast::error_code& ec) {
        if (bytes_.empty()) {
            ec = net::error::eof;
            return 0;
        }
        ec = {};
        size_t want = net::buffer_size(buffers);
        if (chunk_) want = std::min(want, chunk_);
        const size_t n = net::buffer_copy(buffers, net::buffer(bytes_.data(), std::min(want, bytes_.size())));
        bytes_.remove_prefix(n);
        return n;
    }
    template <class MutableBufferSequence>
    size_t read_some(const MutableBufferSequence& buffers) {
        beast::error_code ec;
        const size_t n = read_some(buffers, ec);
        if (ec) throw beast::system_error(ec);
        return n;
    }

private:
    std::string_view bytes_;
    size_t chunk_;
};

template <class Message>
std::string serialize(const Message& m) {
    std::ostringstream out;
    out << m;
    return out.str();
}

bool valid_utf8(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        const size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
        if (n == 0 || i + n > s.size()) return false;
        for (size_t k = 1; k < n; ++k)
            if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
        i += n;
    }
    return true;
}

size_t code_points(std::string_view s) {
    return static_cast<size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

// What the inference thread sends for a job of two prompt tokens that
// generates one token and ends at max_tokens, in the job's protocol: the
// head, `started`, the token (with log-probabilities when asked for), the end.
std::string fake_job(server::Admitted& job, const std::string& correlation) {
    server::JobProtocol& p = *job.protocol;
    std::string out = p.head(correlation);
    out += p.started({correlation, "llama", job.request.seed.value_or(1), 2});
    server::JobStep step;
    step.text = " Once";
    if (p.wants_logprobs()) {
        step.has_logprobs = true;
        step.logprobs.chosen = {42, -0.25f, " Once", " Once"};
        step.logprobs.top = {step.logprobs.chosen, {7, -1.5f, " The", " The"}};
    }
    out += p.step(step);
    server::JobEnded end;
    end.stats.prompt_tokens = 2;
    end.stats.tokens_out = 1;
    end.stats.stop_reason = ORCD_STOP_MAX_TOKENS;
    end.stats.stop_sequence_index = -1;
    out += p.ended(end);
    return out;
}

}  // namespace

FakeWorker::FakeWorker(Status status)
    : status_(status), sink_(std::fopen("/dev/null", "w")),
      log_(server::LogFormat::json, "00000000-0000-4000-8000-000000000000", sink_ ? sink_ : stderr) {
    // stories260K's vocabulary with testdata's ChatML template, as the
    // mutation run serves it (--chat-template-file).
    chat_.family = chat::Family::chatml;
    chat_.bos_token = "<s>";
    chat_.eos_token = "</s>";
}

FakeWorker::~FakeWorker() {
    if (sink_) std::fclose(sink_);
}

nlohmann::json FakeWorker::health() {
    return {{"status", server::status_name(status_)}, {"worker_id", "00000000-0000-4000-8000-000000000000"},
            {"model", "llama"},                      {"resident", true},
            {"vocab_size", limits_.vocab_size},      {"context_length", limits_.context_length},
            {"device", "cpu"},                       {"busy", false}};
}

std::string FakeWorker::metrics_text() { return metrics_.render(5285632, false, 1.5); }

std::optional<nlohmann::json> FakeWorker::models() {
    if (status_ == Status::loading) return std::nullopt;
    return nlohmann::json{{"object", "list"},
                          {"data", {{{"id", "llama"}, {"object", "model"}, {"created", 0}, {"owned_by", "worker-orcd"},
                                     {"context_length", limits_.context_length}, {"architecture", "llama"},
                                     {"weight_format", "F32"}, {"chat_template", "chatml"}}}}};
}

bool FakeWorker::cancel_job(const std::string& job_id) {
    cancelled.push_back(job_id);
    return false;
}

Served serve_bytes(std::string_view input, FakeWorker& worker, ClientMode mode, size_t max_requests) {
    Served out;
    MemoryStream stream(input, mode.read_chunk);
    beast::flat_buffer buffer;
    for (size_t n = 0; n < max_requests; ++n) {
        server::RequestParser parser;
        server::configure_parser(parser);
        std::string correlation;
        beast::error_code ec;
        const size_t header_bytes = http::read_header(stream, buffer, parser, ec);
        std::optional<server::Reply> reply;
        if (!ec) {
            const auto& req = parser.get();
            correlation = server::correlation_id_for(req["X-Correlation-Id"]);
            reply = server::reply_to_header_size(header_bytes);
            if (!reply && server::expects_continue(req))
                out.wire += serialize(http::response<http::empty_body>(http::status::continue_, req.version()));
            if (!reply) http::read(stream, buffer, parser, ec);
        }
        if (correlation.empty()) correlation = server::correlation_id_for("");
        // A header refused for its size was never routed: no target picks its
        // shape. Otherwise the request line's target does, once it is parsed
        // (as in the session: a Content-Length over the limit too).
        const std::string target = !reply ? std::string(parser.get().target()) : std::string();
        if (reply) {
            // answered before the body was read
        } else if (ec) {
            // Bytes missing at the end: the client either half-closed (EOF
            // reaches the parser) or holds the connection open, until the
            // body timeout (a 408) or the header's idle timeout (closed).
            const bool waiting = mode.holds_open && ec == http::error::partial_message;
            if (waiting && !parser.is_header_done()) break;
            reply = waiting ? server::body_timeout_reply(5, worker, target)
                            : server::reply_to_read_error(ec, worker, target);
            if (!reply) break;  // closed without an answer
        } else {
            server::Decision d = server::decide(parser.get(), correlation, worker);
            if (auto* admitted = std::get_if<server::Admitted>(&d)) {
                // Where the session claims the slot and the inference thread
                // runs the job: a short job framed by the endpoint's own protocol.
                out.wire += fake_job(*admitted, correlation);
                out.targets.push_back(target);
                out.answers_head.push_back(false);  // jobs are POSTs
                out.admitted.push_back(std::move(*admitted));
                break;  // a job's answer always closes its connection
            }
            reply = std::get<server::Reply>(std::move(d));
        }
        const bool header = parser.is_header_done();
        const bool head = header && parser.get().method() == http::verb::head;
        const auto res =
            server::make_response(*reply, parser.get().version(), header && parser.get().keep_alive(), correlation, head);
        out.wire += serialize(res);
        out.targets.push_back(target);
        out.answers_head.push_back(head);
        if (!res.keep_alive()) break;
    }
    return out;
}

std::string check_admitted(const server::Admitted& job, const server::RequestLimits& limits) {
    const server::ExecuteRequest& req = job.request;
    if (!job.protocol) return "no protocol";
    if (req.job_id.empty() || req.job_id.size() > 256) return "job_id length";
    for (unsigned char c : req.job_id)
        if (c < 0x21 || c > 0x7E) return "job_id character";
    if (job.segments) {
        // A chat job starts from its rendered template, never from a prompt.
        if (!req.prompt.empty()) return "a chat job with a prompt";
        if (job.segments->empty()) return "a chat job without segments";
        for (const auto& seg : *job.segments)
            if (!valid_utf8(seg.text)) return "a chat segment is not UTF-8";
    } else {
        if (!valid_utf8(req.prompt)) return "prompt is not UTF-8";
        const size_t n = code_points(req.prompt);
        if (n < 1 || n > 32768) return "prompt length";
    }
    if (req.max_tokens && (*req.max_tokens < 1 || *req.max_tokens > limits.max_tokens_out)) return "max_tokens";
    auto in = [](double v, double lo, double hi) { return std::isfinite(v) && v >= lo && v <= hi; };
    if (!in(req.temperature, 0, 2)) return "temperature";
    if (!in(req.top_p, 0, 1)) return "top_p";
    if (req.top_k < 0 || static_cast<uint32_t>(req.top_k) > limits.vocab_size) return "top_k";
    if (!in(req.min_p, 0, 1)) return "min_p";
    if (!in(req.repetition_penalty, 0, 2) || !(req.repetition_penalty > 0)) return "repetition_penalty";
    if (req.repetition_last_n < 0 || static_cast<uint32_t>(req.repetition_last_n) > limits.context_length)
        return "repetition_last_n";
    if (req.stop.size() > 4) return "stop count";
    for (const auto& s : req.stop)
        if (!valid_utf8(s) || code_points(s) < 1 || code_points(s) > 128) return "stop string";
    return "";
}

std::string check_error_shapes(const Served& served, const WireCheck& wire) {
    size_t k = 0;  // the request each final answer belongs to
    for (const WireResponse& r : wire.responses) {
        if (r.status == 100) continue;
        if (k >= served.targets.size()) return "more answers than requests";
        const std::string_view target = served.targets[k++];
        if (r.status < 400 || r.content_type != "application/json" || r.body.empty()) continue;
        const std::string_view path = target.substr(0, target.find('?'));
        const bool openai = path == "/v1" || path.rfind("/v1/", 0) == 0;
        const auto body = nlohmann::json::parse(r.body, nullptr, false);
        if (body.is_object() && body.contains("error") != openai)
            return std::string("an error to ") + (target.empty() ? "an unread request" : std::string(target)) +
                   (openai ? " not" : "") + " in OpenAI's shape";
    }
    return "";
}

}  // namespace orcd::httptest
