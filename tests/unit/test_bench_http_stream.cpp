// The bench's HTTP stream reader: llama-server's chunked SSE (responses
// llama-server itself wrote, testdata/bench/llama-server-stream*.http) and
// worker-orcd's close-delimited /execute stream (as docs/http-api.md defines
// it), fed whole and byte by byte.
#include "common/test_paths.h"

#include "http_stream.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

using namespace orcd::bench;

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::vector<StreamEvent> events_of(const std::string& response, Dialect d, size_t piece, HttpEventStream& s) {
    std::vector<StreamEvent> out;
    std::string type, data;
    for (size_t at = 0; at < response.size(); at += piece) {
        s.feed(response.data() + at, std::min(piece, response.size() - at));
        while (s.next_event(type, data)) out.push_back(interpret_event(d, type, data));
    }
    return out;
}

TEST(BenchHttpStream, LlamaServerChunkedStream) {
    const std::string resp = slurp(orcd::test::data_path("bench/llama-server-stream.http"));
    ASSERT_FALSE(resp.empty());
    for (size_t piece : {resp.size(), size_t(1), size_t(7)}) {
        HttpEventStream s;
        const auto ev = events_of(resp, Dialect::LlamaServer, piece, s);
        EXPECT_EQ(s.status(), 200);
        EXPECT_TRUE(s.chunked());
        EXPECT_TRUE(s.body_complete());
        ASSERT_EQ(ev.size(), 2u) << "piece " << piece;
        EXPECT_EQ(ev[0].kind, StreamEvent::Token);  // " w"
        EXPECT_EQ(ev[1].kind, StreamEvent::End);
        EXPECT_EQ(ev[1].tokens_out, 1u);
        EXPECT_EQ(ev[1].prompt_tokens, 5u);
        EXPECT_EQ(ev[1].stop_reason, "limit");
    }
}

TEST(BenchHttpStream, LlamaServerErrorEvent) {
    const std::string resp = slurp(orcd::test::data_path("bench/llama-server-stream-error.http"));
    HttpEventStream s;
    const auto ev = events_of(resp, Dialect::LlamaServer, 3, s);
    ASSERT_EQ(ev.size(), 3u);
    EXPECT_EQ(ev[0].kind, StreamEvent::Token);
    EXPECT_EQ(ev[1].kind, StreamEvent::Token);  // "\u001b": text, if not printable
    EXPECT_EQ(ev[2].kind, StreamEvent::Error);
    EXPECT_NE(ev[2].message.find("Content-only"), std::string::npos) << ev[2].message;
}

TEST(BenchHttpStream, LlamaServerEventsWithoutTextAreNotTokens) {
    EXPECT_EQ(interpret_event(Dialect::LlamaServer, "", R"({"content":"","tokens":[5],"stop":false})").kind,
              StreamEvent::Other);
    EXPECT_EQ(interpret_event(Dialect::LlamaServer, "", "[DONE]").kind, StreamEvent::Other);
    const StreamEvent end = interpret_event(
        Dialect::LlamaServer, "", R"({"content":"","stop":true,"stop_type":"eos","timings":{"prompt_n":7,"predicted_n":3}})");
    EXPECT_EQ(end.kind, StreamEvent::End);
    EXPECT_EQ(end.tokens_out, 3u);
    EXPECT_EQ(end.prompt_tokens, 7u);
    EXPECT_EQ(interpret_event(Dialect::LlamaServer, "error", R"({"code":500})").kind, StreamEvent::Error);
}

TEST(BenchHttpStream, WorkerExecuteStream) {
    const std::string resp =
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
        "event: started\ndata: {\"job_id\":\"j\",\"prompt_tokens\":5,\"seed\":7}\n\n"
        "event: token\ndata: {\"i\":0,\"t\":\",\"}\n\n"
        "event: token\r\ndata: {\"i\":1,\"t\":\" there\"}\r\n\r\n"
        "event: end\ndata: {\"tokens_out\":2,\"stop_reason\":\"max_tokens\"}\n\n";
    for (size_t piece : {resp.size(), size_t(1), size_t(5)}) {
        HttpEventStream s;
        const auto ev = events_of(resp, Dialect::Execute, piece, s);
        EXPECT_FALSE(s.chunked());
        ASSERT_EQ(ev.size(), 4u);
        EXPECT_EQ(ev[0].kind, StreamEvent::Started);
        EXPECT_EQ(ev[0].prompt_tokens, 5u);
        EXPECT_EQ(ev[1].kind, StreamEvent::Token);
        EXPECT_EQ(ev[2].kind, StreamEvent::Token);
        EXPECT_EQ(ev[3].kind, StreamEvent::End);
        EXPECT_EQ(ev[3].tokens_out, 2u);
        EXPECT_EQ(ev[3].stop_reason, "max_tokens");
    }
    EXPECT_EQ(interpret_event(Dialect::Execute, "error", R"({"code":"CANCELLED"})").kind, StreamEvent::Error);
}

TEST(BenchHttpStream, MalformedResponsesThrow) {
    HttpEventStream a;
    EXPECT_THROW(a.feed("SMTP ready\r\n\r\n", 14), std::runtime_error);
    HttpEventStream b;
    const std::string bad = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
    EXPECT_THROW(b.feed(bad.data(), bad.size()), std::runtime_error);
    HttpEventStream c;
    const std::string err = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy";
    c.feed(err.data(), err.size());
    EXPECT_EQ(c.status(), 503);
    EXPECT_EQ(c.pending_body(), "busy");
}

}  // namespace
