// Multi-byte text through a 512-token vocabulary: the tokenizer falls back to
// bytes, and the stream must still carry only whole, valid characters.
#include "http_client.h"
#include "stream_checks.h"
#include "worker_process.h"

#include <gtest/gtest.h>

namespace orcd::itest {
namespace {

using nlohmann::json;

const char* const kMixedPrompt =
    "从前有一只小猫 🐱 who loved the sea 🌊. Она пела песни, und sie sagte: «Ça va très bien!» "
    "مرحبا 👋🏽 ありがとう 한국어 ε=mc²";

void expect_clean_stream(const StreamResult& r) {
    ASSERT_EQ(r.head.status, 200) << r.head.body;
    ASSERT_TRUE(well_formed(r.events));
    ASSERT_EQ(terminal_type(r.events), "end") << r.events.back().data;
    for (const auto& e : r.events) {
        if (e.type != "token") continue;
        const std::string t = e.json()["t"].get<std::string>();
        EXPECT_TRUE(is_valid_utf8(t)) << "token " << e.data << " is not valid UTF-8";
        EXPECT_EQ(t.find("\xEF\xBF\xBD"), std::string::npos) << "U+FFFD in token " << e.data;
    }
    const std::string text = generated_text(r.events);
    EXPECT_TRUE(is_valid_utf8(text));
}

class Utf8 : public SharedWorkerSuite<Utf8> {};

TEST_F(Utf8, MixedScriptPromptGreedy) {
    const StreamResult r = execute(worker_->port(), exec_body("u0", kMixedPrompt, {{"temperature", 0}, {"max_tokens", 200}}));
    expect_clean_stream(r);
    // The prompt is longer in tokens than in characters: byte fallback at work.
    EXPECT_GT(r.events.front().json()["prompt_tokens"].get<int>(), 60);
}

TEST_F(Utf8, HotSamplingNeverSplitsACharacter) {
    // At temperature 2 with no truncation the sampler picks byte tokens
    // freely, including lone continuation bytes: only whole characters may
    // leave the worker.
    for (uint64_t seed : {1u, 2u, 3u, 4u, 5u}) {
        SCOPED_TRACE("seed " + std::to_string(seed));
        expect_clean_stream(execute(worker_->port(), exec_body("u" + std::to_string(seed), kMixedPrompt,
                                                               {{"temperature", 2}, {"max_tokens", 300}, {"seed", seed}})));
    }
}

TEST_F(Utf8, PromptLimitCountsCharactersNotBytes) {
    // 32768 four-byte emoji = 131072 bytes: within the prompt limit, so any
    // rejection is about the context, never about prompt length.
    std::string prompt;
    for (int i = 0; i < 32768; ++i) prompt += "\xF0\x9F\x98\x80";
    const HttpResponse r = http_post_json(worker_->port(), "/execute",
                                          exec_body("u-limit", prompt, {{"max_tokens", 1}}).dump());
    ASSERT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(r.json()["field"], "max_tokens");
    EXPECT_EQ(r.json()["errors"][0]["constraint"], "context");
}

}  // namespace
}  // namespace orcd::itest
