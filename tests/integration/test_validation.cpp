// POST /execute validation: one case per rule (asserting `field`), several
// violations at once, and the malformed-request answers. Every rejected
// request must leave the worker without a job.
#include "http_client.h"
#include "stream_checks.h"
#include "worker_process.h"

#include <gtest/gtest.h>

namespace orcd::itest {
namespace {

using nlohmann::json;

// One worker for the whole suite: rejected requests do not change its state
// (each test also checks it stayed idle).
class Validation : public SharedWorkerSuite<Validation> {
protected:

    // Expects a 400 INVALID_REQUEST naming field first; returns the body.
    static json expect_invalid(const HttpResponse& r, const std::string& field) {
        EXPECT_EQ(r.status, 400) << r.body;
        json body = json::parse(r.body, nullptr, false);
        EXPECT_FALSE(body.is_discarded()) << r.body;
        if (body.is_discarded()) return body;
        EXPECT_EQ(body["code"], "INVALID_REQUEST");
        EXPECT_EQ(body["retriable"], false);
        EXPECT_EQ(body["field"], field) << r.body;
        EXPECT_TRUE(body["message"].is_string());
        EXPECT_TRUE(body["errors"].is_array() && !body["errors"].empty()) << r.body;
        for (const auto& e : body["errors"]) {
            EXPECT_TRUE(e["field"].is_string() && e["constraint"].is_string() && e["message"].is_string()) << e;
        }
        EXPECT_TRUE(r.has_header("x-correlation-id"));
        EXPECT_EQ(http_get(port(), "/health").json()["busy"], false) << "a rejected request started a job";
        return body;
    }

};

struct RuleCase {
    const char* name;
    json patch;         // fields to set; a null value removes the field
    const char* field;  // the expected `field`
    const char* constraint;
};

// gtest prints a parameter with this instead of its bytes.
void PrintTo(const RuleCase& c, std::ostream* os) { *os << c.name; }

class ValidationRule : public Validation, public ::testing::WithParamInterface<RuleCase> {};

json valid_body() { return exec_body("job-1", kShortPrompt, {{"max_tokens", 8}}); }

std::string repeat(const std::string& s, size_t n) {
    std::string out;
    for (size_t i = 0; i < n; ++i) out += s;
    return out;
}

TEST_P(ValidationRule, RejectsWithField) {
    const RuleCase& c = GetParam();
    json body = valid_body();
    for (auto it = c.patch.begin(); it != c.patch.end(); ++it) {
        if (it.value().is_null()) body.erase(it.key());
        else body[it.key()] = it.value();
    }
    const json res = expect_invalid(http_post_json(port(), "/execute", body.dump()), c.field);
    ASSERT_FALSE(res.is_discarded());
    ASSERT_EQ(res["errors"].size(), 1u) << res;
    EXPECT_EQ(res["errors"][0]["constraint"], c.constraint) << res;
}

INSTANTIATE_TEST_SUITE_P(
    Execute, ValidationRule,
    ::testing::Values(
        RuleCase{"JobIdMissing", {{"job_id", nullptr}}, "job_id", "required"},
        RuleCase{"JobIdEmpty", {{"job_id", ""}}, "job_id", "min_length"},
        RuleCase{"JobIdTooLong", {{"job_id", std::string(257, 'j')}}, "job_id", "max_length"},
        RuleCase{"JobIdNotString", {{"job_id", 17}}, "job_id", "type"},
        // Control characters would forge log lines and terminal output.
        RuleCase{"JobIdControlCharacters", {{"job_id", "a\nb\r\n\x1b[31m"}}, "job_id", "charset"},
        RuleCase{"JobIdSpace", {{"job_id", "job 1"}}, "job_id", "charset"},
        RuleCase{"JobIdDelete", {{"job_id", "job\x7f"}}, "job_id", "charset"},
        RuleCase{"JobIdNonAscii", {{"job_id", "j\xc3\xb6" "b"}}, "job_id", "charset"},
        RuleCase{"PromptMissing", {{"prompt", nullptr}}, "prompt", "required"},
        RuleCase{"PromptEmpty", {{"prompt", ""}}, "prompt", "min_length"},
        // 32769 code points (65538 bytes): the limit counts characters, not bytes.
        RuleCase{"PromptTooManyCodePoints", {{"prompt", repeat("\xc3\xa9", 32769)}}, "prompt", "max_length"},
        RuleCase{"PromptNotString", {{"prompt", json::array({"a"})}}, "prompt", "type"},
        RuleCase{"MaxTokensZero", {{"max_tokens", 0}}, "max_tokens", "range"},
        RuleCase{"MaxTokensTooLarge", {{"max_tokens", 2049}}, "max_tokens", "range"},
        RuleCase{"MaxTokensNotInteger", {{"max_tokens", 1.5}}, "max_tokens", "type"},
        RuleCase{"MaxTokensString", {{"max_tokens", "8"}}, "max_tokens", "type"},
        RuleCase{"TemperatureNegative", {{"temperature", -0.01}}, "temperature", "range"},
        RuleCase{"TemperatureTooHigh", {{"temperature", 2.01}}, "temperature", "range"},
        RuleCase{"TemperatureNotNumber", {{"temperature", "hot"}}, "temperature", "type"},
        RuleCase{"TopPNegative", {{"top_p", -0.1}}, "top_p", "range"},
        RuleCase{"TopPTooHigh", {{"top_p", 1.1}}, "top_p", "range"},
        RuleCase{"TopKNegative", {{"top_k", -1}}, "top_k", "range"},
        RuleCase{"TopKAboveVocab", {{"top_k", 513}}, "top_k", "range"},
        RuleCase{"TopKNotInteger", {{"top_k", 2.5}}, "top_k", "type"},
        RuleCase{"MinPNegative", {{"min_p", -0.5}}, "min_p", "range"},
        RuleCase{"MinPTooHigh", {{"min_p", 1.5}}, "min_p", "range"},
        RuleCase{"RepetitionPenaltyZero", {{"repetition_penalty", 0}}, "repetition_penalty", "range"},
        RuleCase{"RepetitionPenaltyTooHigh", {{"repetition_penalty", 2.5}}, "repetition_penalty", "range"},
        RuleCase{"RepetitionLastNNegative", {{"repetition_last_n", -1}}, "repetition_last_n", "range"},
        RuleCase{"RepetitionLastNAboveContext", {{"repetition_last_n", 2049}}, "repetition_last_n", "range"},
        RuleCase{"StopNotArray", {{"stop", "x"}}, "stop", "type"},
        RuleCase{"StopTooMany", {{"stop", json::array({"a", "b", "c", "d", "e"})}}, "stop", "max_items"},
        RuleCase{"StopItemEmpty", {{"stop", json::array({"a", ""})}}, "stop[1]", "min_length"},
        RuleCase{"StopItemTooLong", {{"stop", json::array({std::string(129, 's')})}}, "stop[0]", "max_length"},
        RuleCase{"StopItemNotString", {{"stop", json::array({1})}}, "stop[0]", "type"},
        RuleCase{"SeedNegative", {{"seed", -1}}, "seed", "range"},
        RuleCase{"SeedNotInteger", {{"seed", 1.5}}, "seed", "type"},
        RuleCase{"SeedString", {{"seed", "42"}}, "seed", "type"},
        RuleCase{"ParseSpecialNumber", {{"parse_special", 1}}, "parse_special", "type"},
        RuleCase{"ParseSpecialString", {{"parse_special", "true"}}, "parse_special", "type"},
        // prompt tokens + max_tokens must fit the 2048-token context.
        RuleCase{"PromptPlusMaxTokensExceedContext", {{"max_tokens", 2046}}, "max_tokens", "context"},
        // 32768 two-byte characters are within the prompt limit but need far
        // more than the context holds.
        RuleCase{"LongPromptExceedsContext", {{"prompt", repeat("\xc3\xa9", 32768)}, {"max_tokens", 1}}, "max_tokens",
                 "context"}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

TEST_F(Validation, ListsEveryViolation) {
    json body = {{"prompt", ""},
                 {"max_tokens", 0},
                 {"temperature", 3},
                 {"top_p", 2},
                 {"top_k", -1},
                 {"min_p", 2},
                 {"repetition_penalty", 0},
                 {"repetition_last_n", -5},
                 {"stop", json::array({"a", "b", "c", "d", "e"})},
                 {"seed", "x"},
                 {"parse_special", "yes"}};
    const json res = expect_invalid(http_post_json(port(), "/execute", body.dump()), "job_id");
    ASSERT_FALSE(res.is_discarded());
    std::vector<std::string> fields;
    for (const auto& e : res["errors"]) fields.push_back(e["field"]);
    const std::vector<std::string> expected = {"job_id", "prompt", "max_tokens", "temperature",
                                               "top_p", "top_k", "min_p", "repetition_penalty",
                                               "repetition_last_n", "stop", "seed", "parse_special"};
    EXPECT_EQ(fields, expected);
}

TEST_F(Validation, NeverEchoesThePrompt) {
    const std::string secret = "zebra-marmalade-" + std::string(40, 'q');
    json body = exec_body("job-1", secret, {{"max_tokens", -3}, {"temperature", "x"}});
    const HttpResponse r = http_post_json(port(), "/execute", body.dump());
    expect_invalid(r, "max_tokens");
    EXPECT_EQ(r.body.find("zebra-marmalade"), std::string::npos) << r.body;
    EXPECT_EQ(worker_->log().find("zebra-marmalade"), std::string::npos) << "the prompt reached the log";
}

TEST_F(Validation, AcceptsEveryBoundaryValue) {
    json body = exec_body(std::string(256, 'j'), kShortPrompt,
                          {{"max_tokens", 4},
                           {"temperature", 2},
                           {"top_p", 0},
                           {"top_k", 512},
                           {"min_p", 1},
                           {"repetition_penalty", 2},
                           {"repetition_last_n", 2048},
                           {"stop", json::array({std::string(128, 'a'), "b", "c", "d"})},
                           {"seed", UINT64_MAX},
                           {"parse_special", true}});
    const StreamResult r = execute(port(), body);
    ASSERT_EQ(r.head.status, 200) << r.head.body;
    ASSERT_TRUE(well_formed(r.events));
    EXPECT_EQ(r.events.front().json()["seed"].get<uint64_t>(), UINT64_MAX);
    EXPECT_EQ(terminal_type(r.events), "end") << r.events.back().data;
}

TEST_F(Validation, JobIdAcceptsEveryVisibleAsciiCharacter) {
    std::string id;
    for (char c = 0x21; c <= 0x7E; ++c) id.push_back(c);
    const StreamResult r = execute(port(), exec_body(id, kShortPrompt, {{"max_tokens", 2}}));
    ASSERT_EQ(r.head.status, 200) << r.head.body;
    ASSERT_TRUE(well_formed(r.events));
    EXPECT_EQ(r.events.front().json()["job_id"], id);
}

TEST_F(Validation, RejectedJobIdIsNotLogged) {
    const HttpResponse r = http_post_json(port(), "/execute", exec_body("evil\n{\"event\":\"forged\"}", kShortPrompt).dump());
    expect_invalid(r, "job_id");
    EXPECT_EQ(worker_->log().find("forged"), std::string::npos) << "a rejected job id reached the log";
}

TEST_F(Validation, CancelAppliesTheJobIdRule) {
    for (const json& bad : {json{{"job_id", "a\nb"}}, json{{"job_id", ""}}, json{{"job_id", std::string(257, 'c')}},
                            json{{"job_id", 5}}, json::object(), json::array()}) {
        const HttpResponse r = http_post_json(port(), "/cancel", bad.dump());
        EXPECT_EQ(r.status, 400) << bad << " -> " << r.body;
        EXPECT_EQ(r.json()["code"], "INVALID_REQUEST") << r.body;
    }
    const HttpResponse malformed = http_post_json(port(), "/cancel", "{\"job_id\":");
    EXPECT_EQ(malformed.status, 400);
    EXPECT_EQ(malformed.json()["field"], "body");
    EXPECT_EQ(http_post_json(port(), "/cancel", json{{"job_id", "fine-id"}}.dump()).status, 202);
}

// Control-token text in the prompt is plain text unless parse_special is
// true: "</s>" is three tokens of text by default, the EOS token with it.
TEST_F(Validation, ParseSpecialDecidesHowControlTextIsRead) {
    std::vector<uint32_t> counts;
    for (const json& parse : {json(nullptr), json(false), json(true)}) {
        json body = exec_body("job-ps", "</s>Once upon a time", {{"max_tokens", 1}, {"parse_special", parse}});
        const StreamResult r = execute(port(), body);
        ASSERT_EQ(r.head.status, 200) << r.head.body;
        ASSERT_TRUE(well_formed(r.events));
        counts.push_back(r.events.front().json()["prompt_tokens"].get<uint32_t>());
    }
    EXPECT_EQ(counts[0], counts[1]) << "the default is false";
    EXPECT_LT(counts[2], counts[1]);
}

TEST_F(Validation, MalformedJson) {
    expect_invalid(http_post_json(port(), "/execute", "{\"job_id\": \"a\", \"prompt\": "), "body");
}

TEST_F(Validation, BodyNotAnObject) {
    expect_invalid(http_post_json(port(), "/execute", "[1,2,3]"), "body");
}

TEST_F(Validation, InvalidUtf8InJson) {
    expect_invalid(http_post_json(port(), "/execute", "{\"job_id\":\"a\",\"prompt\":\"\xff\xfe\"}"), "body");
}

TEST_F(Validation, WrongContentType) {
    const HttpResponse r = http_post_json(port(), "/execute", valid_body().dump(), {{"Content-Type", "text/plain"}});
    expect_invalid(r, "Content-Type");
}

TEST_F(Validation, ContentTypeWithCharsetIsAccepted) {
    const HttpResponse r = http_post_json(port(), "/execute", valid_body().dump(),
                                          {{"Content-Type", "application/json; charset=utf-8"}});
    EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(Validation, BodyOverOneMebibyteIs413) {
    const std::string big = exec_body("job-1", std::string((1 << 20) + 10, 'a')).dump();
    const HttpResponse r = http_post_json(port(), "/execute", big);
    EXPECT_EQ(r.status, 413) << r.body;
    const json body = r.json();
    EXPECT_EQ(body["code"], "INVALID_REQUEST");
    EXPECT_EQ(body["field"], "body");
    EXPECT_EQ(body["retriable"], false);
    EXPECT_EQ(http_get(port(), "/health").json()["busy"], false);
}

// Refused by its Content-Length before the body is read, yet answered in the
// shape of its path: OpenAI clients read error.message.
TEST_F(Validation, BodyOverOneMebibyteUnderV1Is413InOpenAisShape) {
    const std::string big = json{{"prompt", std::string((1 << 20) + 10, 'a')}}.dump();
    const HttpResponse r = http_post_json(port(), "/v1/completions", big);
    EXPECT_EQ(r.status, 413) << r.body;
    const json body = r.json();
    ASSERT_TRUE(body.contains("error")) << r.body;
    EXPECT_EQ(body["error"]["code"], "INVALID_REQUEST");
    EXPECT_EQ(body["error"]["param"], "body");
    EXPECT_EQ(body["error"]["type"], "invalid_request_error");
    EXPECT_EQ(http_get(port(), "/health").json()["busy"], false);
}

TEST_F(Validation, UnknownPathIs404) {
    const HttpResponse r = http_get(port(), "/nope");
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(r.header("content-type"), "application/json");
    EXPECT_TRUE(r.json().contains("code"));
    EXPECT_TRUE(r.has_header("x-correlation-id"));
}

TEST_F(Validation, WrongMethodIs405) {
    const HttpResponse get_exec = http_get(port(), "/execute");
    EXPECT_EQ(get_exec.status, 405);
    EXPECT_EQ(get_exec.header("allow"), "POST");
    EXPECT_TRUE(get_exec.json().contains("code"));
    const HttpResponse post_health = http_post_json(port(), "/health", "{}");
    EXPECT_EQ(post_health.status, 405);
    EXPECT_EQ(post_health.header("allow"), "GET");
    EXPECT_EQ(http_request(port(), "DELETE", "/metrics").status, 405);
}

}  // namespace
}  // namespace orcd::itest
