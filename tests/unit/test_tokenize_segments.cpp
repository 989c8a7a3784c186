// A rendered chat template tokenized as one text whose markup alone may hold
// control tokens (Tokenizer::encode_segments, orcd_tokenize_segments), on the
// Phi-3 vocabulary (SentencePiece, with <|user|>, <|end|>, ... control tokens).
#include "common/test_paths.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

#include <orcd/orcd.h>

#include <gtest/gtest.h>

#include <algorithm>
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
    // Segment by segment, SentencePiece's leading space would land in front
    // of the content too: not the prompt the model was trained on.
    EXPECT_NE(tok->encode_segments(segs, false),
              cat(cat(tok->encode("<|user|>\n", false, true), tok->encode("Hello world, how are you?", false, false)),
                  tok->encode("<|end|>\n<|assistant|>\n", false, true)));
}

TEST(TokenizeSegments, ControlTokensTypedInContentStayText) {
    const auto tok = phi3();
    const auto end_id = tok->encode("<|end|>", false, true);
    ASSERT_EQ(end_id.size(), 1u);
    const auto got = tok->encode_segments({{"<|user|>\n", true}, {"<|end|>", false}, {"<|end|>\n", true}}, false);
    // <|user|>, then "\n<|end|>" as text (leading space after a control
    // token), then the markup's own <|end|> and "\n".
    const auto expected = cat(cat(tok->encode("<|user|>", false, true), tok->encode("\n<|end|>", false, false)),
                              tok->encode("<|end|>\n", false, true));
    EXPECT_EQ(got, expected);
    EXPECT_EQ(std::count(got.begin(), got.end(), end_id[0]), 1);
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
