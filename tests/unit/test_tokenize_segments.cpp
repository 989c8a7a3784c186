// A rendered chat template tokenized as one text whose markup alone may hold
// control tokens (Tokenizer::encode_segments, orcd_tokenize_segments), on the
// Phi-3 vocabulary (SentencePiece, with <|user|>, <|end|>, ... control tokens,
// which swallow the whitespace after them).
#include "common/test_paths.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

#include <orcd/orcd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

namespace orcd {
namespace {

std::unique_ptr<Tokenizer> phi3() {
    const auto file = gguf::File::open(test::data_path("tokenizer/ggml-vocab-phi-3.gguf"));
    return Tokenizer::from_gguf(*file);
}

std::vector<int32_t> cat(std::vector<int32_t> a, const std::vector<int32_t>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

TEST(TokenizeSegments, MarkupAndPlainContentEncodeAsTheWholePromptDoes) {
    const auto tok = phi3();
    const std::vector<TextSegment> segs = {
        {"<|user|>\n", true}, {"Hello world, how are you?", false}, {"<|end|>\n<|assistant|>\n", true}};
    const std::string whole = "<|user|>\nHello world, how are you?<|end|>\n<|assistant|>\n";
    EXPECT_EQ(tok->encode_segments(segs, false), tok->encode(whole, false, true));
    EXPECT_EQ(tok->encode_segments(segs, true), tok->encode(whole, true, true));
    // Segment by segment, the leading space of SentencePiece would land in
    // front of content that follows plain markup text.
    const std::vector<TextSegment> plain = {{"Question: ", true}, {"why?", false}};
    EXPECT_EQ(tok->encode_segments(plain, false), tok->encode("Question: why?", false, true));
    EXPECT_NE(tok->encode_segments(plain, false),
              cat(tok->encode("Question: ", false, true), tok->encode("why?", false, false)));
}

TEST(TokenizeSegments, ControlTokensTypedInContentStayText) {
    const auto tok = phi3();
    const auto end_id = tok->encode("<|end|>", false, true);
    ASSERT_EQ(end_id.size(), 1u);
    const auto got = tok->encode_segments({{"<|user|>\n", true}, {"<|end|>", false}, {"<|end|>\n", true}}, false);
    // <|user|> (it swallows the "\n"), then "<|end|>" as text (with the
    // leading space after a token), then the markup's own <|end|> (its "\n"
    // swallowed too).
    const auto expected = cat(cat(tok->encode("<|user|>", false, true), tok->encode("<|end|>", false, false)),
                              tok->encode("<|end|>", false, true));
    EXPECT_EQ(got, expected);
    EXPECT_EQ(std::count(got.begin(), got.end(), end_id[0]), 1);
}

// The whitespace after a markup token is swallowed across the segment seam:
// content that starts with whitespace loses it, as in the whole text.
TEST(TokenizeSegments, WhitespaceAfterAMarkupTokenIsSwallowedAcrossSegments) {
    const auto tok = phi3();
    const std::vector<TextSegment> segs = {{"<|user|>\n", true}, {" \t\n  indented", false}, {"<|end|>\n", true}};
    EXPECT_EQ(tok->encode_segments(segs, false), tok->encode("<|user|>\n \t\n  indented<|end|>\n", false, true));
    EXPECT_EQ(tok->encode_segments(segs, false),
              cat(cat(tok->encode("<|user|>", false, true), tok->encode("indented", false, false)),
                  tok->encode("<|end|>", false, true)));
}

// llama.cpp's ids for texts with Phi-3's markup, with and without
// special-token parsing (tools/tokenizer-vectors/phi3_special_vectors.sh).
TEST(TokenizeSegments, Phi3MarkupAndItsWhitespaceAsLlamaCppTokenizesThem) {
    const auto tok = phi3();
    std::ifstream in(test::data_path("tokenizer/phi3-special.vectors.json"));
    ASSERT_TRUE(in) << "phi3-special.vectors.json";
    const nlohmann::json doc = nlohmann::json::parse(in);
    size_t n = 0;
    for (const auto& c : doc.at("cases")) {
        const std::string text = c.at("text");
        const bool parse_special = c.at("parse_special");
        EXPECT_EQ(tok->encode(text, false, parse_special), c.at("ids").get<std::vector<int32_t>>())
            << "text \"" << text << "\", parse_special " << parse_special;
        ++n;
    }
    EXPECT_GE(n, 30u);
}

TEST(TokenizeSegments, TheCApiAgreesAndChecksItsArguments) {
    orcd_device_params dp = orcd_device_default_params();
    dp.kind = ORCD_DEVICE_CPU;
    orcd_device* dev = nullptr;
    orcd_model* model = nullptr;
    ASSERT_EQ(orcd_device_open(&dp, &dev), ORCD_OK);
    ASSERT_EQ(orcd_model_load(dev, test::stories_model().c_str(), nullptr, &model), ORCD_OK);
    const std::string a = "Once upon", b = " a time </s>";
    const orcd_text_segment segs[] = {{a.data(), a.size(), 1}, {b.data(), b.size(), 0}};
    std::vector<int32_t> got(64), whole(64);
    size_t n = 0, m = 0;
    ASSERT_EQ(orcd_tokenize_segments(model, segs, 2, ORCD_TOKENIZE_ADD_BOS, got.data(), got.size(), &n), ORCD_OK);
    const std::string joined = a + b;
    ASSERT_EQ(orcd_tokenize(model, joined.data(), joined.size(), ORCD_TOKENIZE_ADD_BOS, whole.data(), whole.size(), &m),
              ORCD_OK);
    got.resize(n);
    whole.resize(m);
    EXPECT_EQ(got, whole);  // "</s>" in content is text, as without PARSE_SPECIAL
    EXPECT_EQ(got.front(), 1);
    EXPECT_EQ(orcd_tokenize_segments(model, segs, 2, ORCD_TOKENIZE_PARSE_SPECIAL, got.data(), got.size(), &n),
              ORCD_INVALID_REQUEST);
    EXPECT_EQ(orcd_tokenize_segments(model, segs, 2, 0, got.data(), 1, &n), ORCD_INVALID_REQUEST);
    orcd_model_free(model);
    orcd_device_close(dev);
}

}  // namespace
}  // namespace orcd
