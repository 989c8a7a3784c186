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

TEST(OpenAi, VersionFlagPrintsTheBuildCommit) {
    const ProcessResult r = run_worker_to_exit({"--version"}, 10s);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("commit "), std::string::npos) << r.output;
}

}  // namespace
}  // namespace orcd::itest
