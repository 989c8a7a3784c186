// The OpenAI endpoints' refusals and their shape, against the real binary:
// what the official-client suite (tests/openai_client) does not reach.
#include "common/chat_model.h"
#include "common/test_paths.h"
#include "http_client.h"
#include "worker_process.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace orcd::itest {
namespace {

using nlohmann::json;

std::string template_file(const std::string& name) {
    std::ifstream f(test::data_path("chat/templates/" + name), std::ios::binary);
    std::ostringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

WorkerOptions with_template(const std::string& text) {
    WorkerOptions o;
    o.model = test::write_with_chat_template(test::stories_model(), test::temp_dir() + "/chat.gguf", text);
    return o;
}

json chat(const json& messages, const json& extra = json::object()) {
    json body = {{"model", "m"}, {"messages", messages}, {"max_tokens", 4}, {"temperature", 0}};
    body.update(extra);
    return body;
}

// Asserts an OpenAI-shaped error and returns its object.
json openai_error(const HttpResponse& r, int status) {
    EXPECT_EQ(r.status, status) << r.body;
    const json body = r.json();
    EXPECT_TRUE(body.contains("error")) << r.body;
    const json e = body.value("error", json::object());
    for (const char* k : {"message", "type", "param", "code"}) EXPECT_TRUE(e.contains(k)) << k << " in " << r.body;
    return e;
}

TEST(OpenAi, AModelWithoutAChatTemplateRefusesChatButServesCompletions) {
    WorkerProcess w;
    const json e = openai_error(http_post_json(w.port(), "/v1/chat/completions",
                                               chat({{{"role", "user"}, {"content", "Hi"}}}).dump()), 400);
    EXPECT_EQ(e["code"], "INVALID_REQUEST");
    EXPECT_EQ(e["type"], "invalid_request_error");
    EXPECT_EQ(e["param"], "messages");
    EXPECT_NE(e["message"].get<std::string>().find("has no chat template"), std::string::npos) << e;
    const HttpResponse c = http_post_json(w.port(), "/v1/completions",
                                          json{{"prompt", "Once upon a time"}, {"max_tokens", 3}}.dump());
    EXPECT_EQ(c.status, 200) << c.body;
    EXPECT_EQ(c.json()["usage"]["completion_tokens"], 3);
}

TEST(OpenAi, AnUnknownTemplateIsA400NamingTheProblem) {
    WorkerProcess w(with_template("{% for m in messages %}<|im_start|>{{ m.content }}{% endfor %}"));
    const json e = openai_error(http_post_json(w.port(), "/v1/chat/completions",
                                               chat({{{"role", "user"}, {"content", "Hi"}}}).dump()), 400);
    const std::string msg = e["message"];
    EXPECT_NE(msg.find("not one this worker can render"), std::string::npos) << msg;
    EXPECT_NE(msg.find("looks like ChatML"), std::string::npos) << msg;
    EXPECT_EQ(http_get(w.port(), "/v1/models").json()["data"][0]["chat_template"], nullptr);
}

TEST(OpenAi, WhatTheTemplateItselfRefusesIsA400WithItsMessage) {
    WorkerProcess w(with_template(template_file("llama2.jinja")));
    const json two_users = {{{"role", "user"}, {"content", "a"}}, {{"role", "user"}, {"content", "b"}}};
    const json e = openai_error(http_post_json(w.port(), "/v1/chat/completions", chat(two_users).dump()), 400);
    EXPECT_NE(e["message"].get<std::string>().find("Conversation roles must alternate"), std::string::npos) << e;
    const HttpResponse ok = http_post_json(w.port(), "/v1/chat/completions",
                                           chat({{{"role", "system"}, {"content", "Be kind."}},
                                                 {{"role", "user"}, {"content", "Hi"}}}).dump());
    EXPECT_EQ(ok.status, 200) << ok.body;
    EXPECT_EQ(http_get(w.port(), "/v1/models").json()["data"][0]["chat_template"], "llama2");
}

TEST(OpenAi, FieldsTheWorkerCannotHonourAreRefusedByName) {
    WorkerProcess w(with_template(test::chatml_template()));
    const json user = {{{"role", "user"}, {"content", "Hi"}}};
    const struct {
        json body;
        const char* param;
    } cases[] = {
        {chat(user, {{"tools", json::array({{{"type", "function"}}})}}), "tools"},
        {chat({{{"role", "tool"}, {"content", "x"}}}), "messages[0].role"},
        {chat(user, {{"n", 3}}), "n"},
        {chat(user, {{"top_logprobs", 3}}), "top_logprobs"},
        {chat(user, {{"logprobs", true}, {"top_logprobs", 21}}), "top_logprobs"},
        {chat(user, {{"presence_penalty", 2.5}}), "presence_penalty"},
        {chat(user, {{"stop", json::array({"a", "b", "c", "d", "e"})}}), "stop"},
        {chat(user, {{"stream_options", {{"include_usage", true}}}}), "stream_options"},
        {chat(user, {{"response_format", {{"type", "json_object"}}}}), "response_format"},
        {chat({{{"role", "user"}, {"content", json::array({{{"type", "image_url"}}})}}}), "messages[0].content[0]"},
        {chat(user, {{"max_tokens", 0}}), "max_tokens"},
    };
    for (const auto& c : cases) {
        const json e = openai_error(http_post_json(w.port(), "/v1/chat/completions", c.body.dump()), 400);
        EXPECT_EQ(e["param"], c.param) << c.body;
        EXPECT_EQ(e["code"], "INVALID_REQUEST");
    }
    const json echo = openai_error(
        http_post_json(w.port(), "/v1/completions", json{{"prompt", "x"}, {"echo", true}}.dump()), 400);
    EXPECT_EQ(echo["param"], "echo");
    const json type = openai_error(http_post_json(w.port(), "/v1/completions", "{\"prompt\":\"x\"}",
                                                  {{"Content-Type", "text/plain"}}), 400);
    EXPECT_EQ(type["param"], "Content-Type");
    const json bad = openai_error(http_post_json(w.port(), "/v1/completions", "{not json"), 400);
    EXPECT_EQ(bad["param"], "body");
    EXPECT_EQ(http_post_json(w.port(), "/v1/models", "{}").status, 405);
}

TEST(OpenAi, TextPartsAndAssistantNullContentAreAccepted) {
    WorkerProcess w(with_template(test::chatml_template()));
    const json msgs = {{{"role", "user"}, {"content", json::array({{{"type", "text"}, {"text", "Once"}},
                                                                     {{"type", "text"}, {"text", "upon"}}})}},
                       {{"role", "assistant"}, {"content", nullptr}},
                       {{"role", "user"}, {"content", "a time"}}};
    const HttpResponse r = http_post_json(w.port(), "/v1/chat/completions", chat(msgs, {{"user", "someone"}}).dump());
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json()["choices"][0]["message"]["role"], "assistant");
    EXPECT_EQ(r.json()["object"], "chat.completion");
}

TEST(OpenAi, AChatTemplateFileStandsForTheModelsOwn) {
    WorkerProcess w(with_args({"--chat-template-file", test::data_path("chat/templates/llama3.jinja")}));
    EXPECT_EQ(http_get(w.port(), "/v1/models").json()["data"][0]["chat_template"], "llama3");
    const HttpResponse r =
        http_post_json(w.port(), "/v1/chat/completions", chat({{{"role", "user"}, {"content", "Hi"}}}).dump());
    EXPECT_EQ(r.status, 200) << r.body;
    const ProcessResult bad = run_worker_to_exit(
        {"--model", test::stories_model(), "--port", "1", "--chat-template-file", "/nonexistent.jinja"}, 10s);
    EXPECT_EQ(bad.exit_code, 2) << bad.output;
    EXPECT_NE(bad.output.find("--chat-template-file"), std::string::npos) << bad.output;
    // A readable file that is no template the worker knows: a bad flag value
    // too, refused before the model loads, not a worker whose every chat
    // request then blames the model.
    const ProcessResult unknown = run_worker_to_exit(
        {"--model", test::stories_model(), "--port", "1", "--chat-template-file", test::stories_model()}, 10s);
    EXPECT_EQ(unknown.exit_code, 2) << unknown.output;
    EXPECT_NE(unknown.output.find("--chat-template-file"), std::string::npos) << unknown.output;
}

// A chat request's refusals about its prompt name `messages`, the field it
// has, never `prompt` or `body`.
TEST(OpenAi, RefusalsAboutTheConversationNameMessages) {
    WorkerProcess w(with_args({"--chat-template-file", test::data_path("chat/templates/llama2.jinja"),
                               "--ctx-size", "64"}));
    // Llama 2's template renders a lone system message to nothing.
    json e = openai_error(http_post_json(w.port(), "/v1/chat/completions",
                                         chat({{{"role", "system"}, {"content", "Be brief."}}}).dump()),
                          400);
    EXPECT_EQ(e["param"], "messages") << e;
    EXPECT_NE(e["message"].get<std::string>().find("no tokens"), std::string::npos) << e;
    // No max_tokens, and a conversation that fills the context.
    json long_chat = chat({{{"role", "user"}, {"content", std::string(400, 'a') + " b c d e f g h"}}});
    long_chat.erase("max_tokens");
    e = openai_error(http_post_json(w.port(), "/v1/chat/completions", long_chat.dump()), 400);
    EXPECT_EQ(e["param"], "messages") << e;
    EXPECT_NE(e["message"].get<std::string>().find("context length"), std::string::npos) << e;
}

size_t code_points(const std::string& s) {
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
}

// The choices of a streamed answer's `data:` lines, [DONE] aside.
std::vector<json> streamed_choices(const std::string& body) {
    std::vector<json> out;
    std::istringstream in(body);
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("data: {", 0) != 0) continue;
        const json c = json::parse(line.substr(6));
        if (!c["choices"].empty()) out.push_back(c["choices"][0]);
    }
    return out;
}

// A stop string that cuts a token's text leaves that token's logprobs (the
// client has its first bytes) and drops the tokens inside the stop string:
// every text_offset lies inside the text, and in a stream each token rides
// with the chunk that brings its first byte.
TEST(OpenAi, LogprobsCoverTheTokensWhoseTextIsSentWhereAStopStringCuts) {
    WorkerProcess w;
    const json ask = {{"prompt", "Once upon a time"}, {"max_tokens", 24}, {"temperature", 0}, {"logprobs", 1}};
    const HttpResponse full = http_post_json(w.port(), "/v1/completions", ask.dump());
    ASSERT_EQ(full.status, 200) << full.body;
    const json lp = full.json()["choices"][0]["logprobs"];
    const auto tokens = lp["tokens"].get<std::vector<std::string>>();
    const std::string text = full.json()["choices"][0]["text"];
    ASSERT_EQ(tokens.size(), 24u);
    // A stop string made of token k's last byte and the next token's first
    // two, found nowhere earlier in the text: it cuts token k after its
    // first bytes (ASCII here, so bytes are code points).
    size_t k = 0, cut = 0, start = 0;
    std::string stop;
    for (size_t i = 0, at = 0; i + 1 < tokens.size(); at += tokens[i].size(), ++i) {
        if (tokens[i].size() < 2 || tokens[i + 1].size() < 2) continue;
        const std::string s = tokens[i].substr(tokens[i].size() - 1) + tokens[i + 1].substr(0, 2);
        if (text.find(s) != at + tokens[i].size() - 1) continue;
        k = i, stop = s, start = at, cut = at + tokens[i].size() - 1;
        break;
    }
    ASSERT_FALSE(stop.empty()) << "no token boundary to cut in: " << text;
    ASSERT_EQ(code_points(text), text.size()) << "the test's offsets assume ASCII text";
    json stopped = ask;
    stopped["stop"] = json::array({stop});
    const HttpResponse r = http_post_json(w.port(), "/v1/completions", stopped.dump());
    ASSERT_EQ(r.status, 200) << r.body;
    const json c = r.json()["choices"][0];
    EXPECT_EQ(c["text"], text.substr(0, cut));
    EXPECT_EQ(c["finish_reason"], "stop");
    const auto got = c["logprobs"]["tokens"].get<std::vector<std::string>>();
    EXPECT_EQ(got, std::vector<std::string>(tokens.begin(), tokens.begin() + std::ptrdiff_t(k + 1))) << stop;
    const auto offsets = c["logprobs"]["text_offset"].get<std::vector<size_t>>();
    ASSERT_EQ(offsets.size(), got.size());
    EXPECT_EQ(offsets.back(), start);
    for (const size_t o : offsets) EXPECT_LT(o, cut);

    stopped["stream"] = true;
    const HttpResponse s = http_post_json(w.port(), "/v1/completions", stopped.dump());
    ASSERT_EQ(s.status, 200) << s.body;
    std::string streamed;
    std::vector<std::string> carried;
    for (const json& ch : streamed_choices(s.body)) {
        streamed += ch["text"].get<std::string>();
        if (ch["logprobs"].is_null()) continue;
        for (size_t i = 0; i < ch["logprobs"]["tokens"].size(); ++i) {
            carried.push_back(ch["logprobs"]["tokens"][i]);
            EXPECT_LT(ch["logprobs"]["text_offset"][i].get<size_t>(), streamed.size()) << ch;
        }
    }
    EXPECT_EQ(streamed, text.substr(0, cut));
    EXPECT_EQ(carried, got);
}

TEST(OpenAi, VersionFlagPrintsTheBuildCommit) {
    const ProcessResult r = run_worker_to_exit({"--version"}, 10s);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("commit "), std::string::npos) << r.output;
}

}  // namespace
}  // namespace orcd::itest
