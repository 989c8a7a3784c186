// SentencePiece tokenizer: conformance with the reference vectors published
// with llama.cpp (ids produced by the Hugging Face tokenizers), with the
// prompt ids llama.cpp gave for the golden stories260K runs, and the
// vocabulary checks a malformed file must fail.
#include "common/error.h"
#include "common/test_paths.h"
#include "gguf/gguf.h"
#include "tokenizer/spm_tokenizer.h"
#include "tokenizer/tokenizer.h"
#include "gguf_builder.h"
#include "vocab_vectors.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace orcd {
namespace {

std::unique_ptr<Tokenizer> load(const std::string& path) {
    auto file = gguf::File::open(path);
    return Tokenizer::from_gguf(*file);
}

using test::escaped;
using test::ids_str;
using test::read_inputs;
using test::read_outputs;

class VocabVectors : public ::testing::TestWithParam<const char*> {
protected:
    std::string base() const { return test::data_path(std::string("tokenizer/") + GetParam() + ".gguf"); }
};

TEST_P(VocabVectors, EncodesEveryReferenceVector) {
    const auto tok = load(base());
    ASSERT_STREQ(tok->kind(), "spm");
    const auto inputs = read_inputs(base() + ".inp");
    const auto expected = read_outputs(base() + ".out");
    ASSERT_EQ(inputs.size(), expected.size()) << "the .inp and .out files disagree on the number of strings";
    ASSERT_GT(inputs.size(), 40u);
    for (size_t i = 0; i < inputs.size(); ++i) {
        const auto got = tok->encode(inputs[i], /*add_bos=*/false, false);
        EXPECT_EQ(got, expected[i]) << "string " << i << ": " << escaped(inputs[i]) << "\n  expected "
                                    << ids_str(expected[i]) << "\n  got      " << ids_str(got);
    }
}

// SentencePiece is lossless except for the one space the leading-space rule
// adds in front of a non-empty text.
TEST_P(VocabVectors, DecodeInvertsEncode) {
    const auto tok = load(base());
    const auto* spm = dynamic_cast<const SpmTokenizer*>(tok.get());
    ASSERT_NE(spm, nullptr);
    ASSERT_TRUE(spm->add_space_prefix());
    for (const std::string& s : read_inputs(base() + ".inp")) {
        const std::string want = s.empty() ? s : " " + s;
        EXPECT_EQ(tok->decode(tok->encode(s, false, false)), want) << "string " << escaped(s);
    }
}

TEST_P(VocabVectors, BosComesFirstOnlyWhenAsked) {
    const auto tok = load(base());
    ASSERT_TRUE(tok->add_bos_default());
    const auto plain = tok->encode("Hello world", false, false);
    const auto with_bos = tok->encode("Hello world", true, false);
    ASSERT_EQ(with_bos.size(), plain.size() + 1);
    EXPECT_EQ(with_bos.front(), tok->bos());
    EXPECT_TRUE(std::equal(plain.begin(), plain.end(), with_bos.begin() + 1));
    EXPECT_EQ(tok->encode("", true, false), std::vector<int32_t>{tok->bos()});
    EXPECT_TRUE(tok->encode("", false, false).empty());
}

INSTANTIATE_TEST_SUITE_P(Spm, VocabVectors, ::testing::Values("ggml-vocab-llama-spm", "ggml-vocab-phi-3"),
                         [](const auto& param_info) {
                             std::string name = param_info.param;
                             for (char& c : name)
                                 if (c == '-') c = '_';
                             return name;
                         });

std::vector<nlohmann::json> golden_runs() {
    std::ifstream in(test::data_path("golden/stories260K-greedy.jsonl"));
    if (!in) throw std::runtime_error("cannot read golden/stories260K-greedy.jsonl");
    std::vector<nlohmann::json> runs;
    for (std::string line; std::getline(in, line);)
        if (!line.empty()) runs.push_back(nlohmann::json::parse(line));
    return runs;
}

TEST(Stories260K, PromptIdsMatchLlamaCpp) {
    const auto tok = load(test::stories_model());
    ASSERT_EQ(tok->vocab_size(), 512u);
    ASSERT_EQ(tok->bos(), 1);
    ASSERT_EQ(tok->eos(), 2);
    const auto runs = golden_runs();
    ASSERT_FALSE(runs.empty());
    for (const auto& run : runs) {
        const std::string prompt = run.at("prompt").get<std::string>();
        const auto want = run.at("prompt_ids").get<std::vector<int32_t>>();
        const auto got = tok->encode(prompt, /*add_bos=*/true, false);
        EXPECT_EQ(got, want) << escaped(prompt) << "\n  expected " << ids_str(want) << "\n  got      "
                             << ids_str(got);
    }
}

TEST(Stories260K, GeneratedIdsDecodeToGoldenText) {
    const auto tok = load(test::stories_model());
    for (const auto& run : golden_runs()) {
        const auto ids = run.at("ids").get<std::vector<int32_t>>();
        const std::string want = run.at("text").get<std::string>();
        EXPECT_EQ(tok->decode(ids), want);
        StreamDecoder dec(*tok);
        std::string streamed;
        for (int32_t id : ids) streamed += dec.push(id);
        streamed += dec.finish();
        EXPECT_EQ(streamed, want);
    }
}

TEST(Stories260K, EndOfGenerationIsEos) {
    const auto tok = load(test::stories_model());
    EXPECT_TRUE(tok->is_end_of_generation(tok->eos()));
    EXPECT_FALSE(tok->is_end_of_generation(tok->bos()));
    EXPECT_FALSE(tok->is_end_of_generation(400));
    EXPECT_FALSE(tok->is_end_of_generation(-1));
    EXPECT_FALSE(tok->is_end_of_generation(512));
}

TEST(Phi3, EndOfTurnTokenEndsGeneration) {
    const auto tok = load(test::data_path("tokenizer/ggml-vocab-phi-3.gguf"));
    const auto* spm = dynamic_cast<const SpmTokenizer*>(tok.get());
    ASSERT_NE(spm, nullptr);
    const int32_t end = spm->find("<|end|>");
    ASSERT_GE(end, 0);
    EXPECT_TRUE(tok->is_end_of_generation(end));
    EXPECT_TRUE(tok->is_end_of_generation(tok->eos()));
    EXPECT_FALSE(tok->is_end_of_generation(spm->find("<|user|>")));
}

// parse_special decides whether control-token text is matched. Phi-3 types
// "</s>" user-defined, but as an end-of-generation token it counts as
// control: without parse_special it is text like "<s>" and "<|user|>".
TEST(Phi3, ControlTokensMatchOnlyWithParseSpecial) {
    const auto tok = load(test::data_path("tokenizer/ggml-vocab-phi-3.gguf"));
    const auto* spm = dynamic_cast<const SpmTokenizer*>(tok.get());
    ASSERT_NE(spm, nullptr);
    for (const char* special : {"</s>", "<s>", "<|user|>", "<|end|>", "<|endoftext|>"}) {
        const int32_t id = spm->find(special);
        ASSERT_GE(id, 0) << special;
        const std::string text = std::string("Hi") + special + "there";
        const auto plain = tok->encode(text, false, false);
        EXPECT_EQ(std::count(plain.begin(), plain.end(), id), 0) << special << ": " << ids_str(plain);
        EXPECT_EQ(tok->decode(plain), " " + text) << special;

        // With parse_special the text around the token encodes on its own,
        // the space prefix starting again after the token.
        auto want = tok->encode("Hi", false, false);
        want.push_back(id);
        const auto after = tok->encode("there", false, false);
        want.insert(want.end(), after.begin(), after.end());
        EXPECT_EQ(tok->encode(text, false, true), want) << special;
    }
    EXPECT_EQ(tok->encode("</s>", true, true), (std::vector<int32_t>{tok->bos(), spm->find("</s>")}));
}

TEST(Phi3, EndOfSentenceTextEndsGeneration) {
    const auto tok = load(test::data_path("tokenizer/ggml-vocab-phi-3.gguf"));
    const auto* spm = dynamic_cast<const SpmTokenizer*>(tok.get());
    ASSERT_NE(spm, nullptr);
    EXPECT_TRUE(tok->is_end_of_generation(spm->find("</s>")));
}

TEST(TokenBytes, RendersEachTokenKind) {
    const auto tok = load(test::data_path("tokenizer/ggml-vocab-llama-spm.gguf"));
    const auto* spm = dynamic_cast<const SpmTokenizer*>(tok.get());
    ASSERT_NE(spm, nullptr);
    EXPECT_EQ(tok->token_bytes(spm->find("\xE2\x96\x81Hello")), " Hello");
    EXPECT_EQ(tok->token_bytes(spm->find("<0x0A>")), "\n");
    EXPECT_EQ(tok->token_bytes(spm->find("<0xE4>")), "\xE4");
    EXPECT_EQ(tok->token_bytes(tok->bos()), "");
    EXPECT_EQ(tok->token_bytes(tok->eos()), "");
    EXPECT_EQ(tok->token_bytes(spm->find("<unk>")), "");  // as llama.cpp renders UNK without specials
    try {
        tok->token_bytes(static_cast<int32_t>(tok->vocab_size()));
        ADD_FAILURE() << "an id past the vocabulary was accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ORCD_INVALID_REQUEST);
    }
}

// 32K characters of mixed prose, numbers and byte-fallback text must encode
// far inside a prefill's budget; the bound is loose against machine noise
// but an O(n^2) merge loop misses it by orders of magnitude.
TEST(Performance, Encodes32KCharactersQuickly) {
    const auto tok = load(test::data_path("tokenizer/ggml-vocab-llama-spm.gguf"));
    const std::string unit = "Once upon a time, 3 little pigs built 1234 houses; \xE4\xBD\xA0\xE5\xA5\xBD! ";
    std::string text;
    while (text.size() < 32768) text += unit;
    const auto t0 = std::chrono::steady_clock::now();
    const auto ids = tok->encode(text, true, false);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_EQ(tok->decode(ids), " " + text);
#if defined(__SANITIZE_ADDRESS__)
    const double limit_ms = 1000;
#else
    const double limit_ms = 100;
#endif
    EXPECT_LT(ms, limit_ms) << ids.size() << " tokens";
}

// ---- merge rules on hand-made vocabularies --------------------------------

SpmVocab tiny_vocab(std::vector<std::pair<std::string, float>> entries, bool with_bytes) {
    SpmVocab v;
    const auto add = [&v](std::string text, float score, TokenAttr attr) {
        v.tokens.push_back(std::move(text));
        v.scores.push_back(score);
        v.attrs.push_back(attr);
    };
    add("<unk>", 0, TokenAttr::Unknown);
    add("<s>", 0, TokenAttr::Control);
    add("</s>", 0, TokenAttr::Control);
    if (with_bytes) {
        static constexpr char kHex[] = "0123456789ABCDEF";
        for (int b = 0; b < 256; ++b) add(std::string("<0x") + kHex[b >> 4] + kHex[b & 15] + ">", 0, TokenAttr::Byte);
    }
    for (auto& [text, score] : entries) add(text, score, TokenAttr::Normal);
    v.ids.unk = 0;
    v.ids.bos = 1;
    v.ids.eos = 2;
    return v;
}

std::vector<std::string> texts(const SpmVocab& v, const std::vector<int32_t>& ids) {
    std::vector<std::string> out;
    for (int32_t id : ids) out.push_back(v.tokens[static_cast<size_t>(id)]);
    return out;
}

TEST(SpmMerge, EqualScoresMergeLeftmostFirst) {
    const SpmVocab v = tiny_vocab({{"\xE2\x96\x81", -1}, {"a", -1}, {"aa", -2}}, false);
    const SpmTokenizer tok(v);
    EXPECT_EQ(texts(v, tok.encode("aaa", false, false)), (std::vector<std::string>{"\xE2\x96\x81", "aa", "a"}));
}

TEST(SpmMerge, HigherScoreWinsOverPosition) {
    const SpmVocab v = tiny_vocab({{"\xE2\x96\x81", -1}, {"a", -1}, {"b", -1}, {"ab", -5}, {"ba", -3}}, false);
    const SpmTokenizer tok(v);
    EXPECT_EQ(texts(v, tok.encode("aba", false, false)), (std::vector<std::string>{"\xE2\x96\x81", "a", "ba"}));
}

TEST(SpmMerge, MissingCharactersFallBackToBytesOrUnk) {
    const SpmVocab with = tiny_vocab({{"\xE2\x96\x81", -1}, {"a", -1}}, true);
    const SpmTokenizer bytes(with);
    EXPECT_EQ(texts(with, bytes.encode("a\xC3\xA9", false, false)),
              (std::vector<std::string>{"\xE2\x96\x81", "a", "<0xC3>", "<0xA9>"}));
    const SpmVocab without = tiny_vocab({{"\xE2\x96\x81", -1}, {"a", -1}}, false);
    const SpmTokenizer unk(without);
    EXPECT_EQ(texts(without, unk.encode("a\xC3\xA9", false, false)),
              (std::vector<std::string>{"\xE2\x96\x81", "a", "<unk>", "<unk>"}));
}

TEST(SpmMerge, NoSpacePrefixWhenTheVocabularySaysSo) {
    SpmVocab v = tiny_vocab({{"\xE2\x96\x81", -1}, {"a", -1}, {"\xE2\x96\x81" "a", -0.5}}, false);
    v.add_space_prefix = false;
    const SpmTokenizer tok(v);
    EXPECT_EQ(texts(v, tok.encode("a a", false, false)), (std::vector<std::string>{"a", "\xE2\x96\x81" "a"}));
}

TEST(SpmMerge, UserDefinedTokensMatchVerbatim) {
    SpmVocab v = tiny_vocab({{"\xE2\x96\x81", -1}, {"a", -1}, {"<", -1}, {"x", -1}, {">", -1}}, false);
    v.tokens.push_back("<x>");
    v.scores.push_back(0);
    v.attrs.push_back(TokenAttr::UserDefined);
    const SpmTokenizer tok(v);
    // The space rule applies again after a verbatim token, as in llama.cpp.
    EXPECT_EQ(texts(v, tok.encode("a<x>a", false, false)),
              (std::vector<std::string>{"\xE2\x96\x81", "a", "<x>", "\xE2\x96\x81", "a"}));
    EXPECT_EQ(tok.token_bytes(tok.find("<x>")), "<x>");
}

// A user-defined token is matched verbatim either way; one that is the
// vocabulary's EOS counts as control and needs parse_special.
TEST(SpmSpecial, UserDefinedSpecialIdsCountAsControl) {
    SpmVocab v = tiny_vocab({{"\xE2\x96\x81", -1}, {"a", -1}, {"<", -1}, {"x", -1}, {"y", -1}, {">", -1}}, false);
    for (const char* t : {"<x>", "<y>"}) {
        v.tokens.push_back(t);
        v.scores.push_back(0);
        v.attrs.push_back(TokenAttr::UserDefined);
    }
    v.ids.eos = static_cast<int32_t>(v.tokens.size()) - 1;  // <y>
    const SpmTokenizer tok(v);
    EXPECT_EQ(texts(v, tok.encode("a<x>", false, false)), (std::vector<std::string>{"\xE2\x96\x81", "a", "<x>"}));
    EXPECT_EQ(texts(v, tok.encode("a<y>", false, false)),
              (std::vector<std::string>{"\xE2\x96\x81", "a", "<", "y", ">"}));
    EXPECT_EQ(texts(v, tok.encode("a<y>", false, true)), (std::vector<std::string>{"\xE2\x96\x81", "a", "<y>"}));
    // The control tokens of the vocabulary (<s>, </s>) likewise.
    EXPECT_EQ(texts(v, tok.encode("<s>", false, true)), (std::vector<std::string>{"<s>"}));
}

// Overlapping special tokens: the leftmost match wins, and at one position
// the longest, as the Hugging Face tokenizers split added tokens.
TEST(SpmSpecial, LeftmostLongestMatch) {
    SpmVocab v = tiny_vocab({{"\xE2\x96\x81", -1}, {"a", -1}, {"b", -1}, {"c", -1}}, false);
    for (const char* t : {"ab", "abc", "bc"}) {
        v.tokens.push_back(t);
        v.scores.push_back(0);
        v.attrs.push_back(TokenAttr::UserDefined);
    }
    const SpmTokenizer tok(v);
    EXPECT_EQ(texts(v, tok.encode("abc", false, false)), (std::vector<std::string>{"abc"}));
    EXPECT_EQ(texts(v, tok.encode("abab", false, false)), (std::vector<std::string>{"ab", "ab"}));
    EXPECT_EQ(texts(v, tok.encode("aabca", false, false)),
              (std::vector<std::string>{"\xE2\x96\x81", "a", "abc", "\xE2\x96\x81", "a"}));
}

// ---- malformed vocabularies ------------------------------------------------

using test::expect_load_failure;
using test::GgufBuilder;
using test::load_error;

const std::vector<std::string> kTokens = {"<unk>", "<s>", "</s>", "\xE2\x96\x81", "a"};

GgufBuilder valid_vocab() {
    GgufBuilder b;
    b.str("tokenizer.ggml.model", "llama")
        .strings("tokenizer.ggml.tokens", kTokens)
        .floats("tokenizer.ggml.scores", {0, 0, 0, -1, -2})
        .ints("tokenizer.ggml.token_type", {2, 3, 3, 1, 1});
    return b;
}

TEST(VocabChecks, HandMadeVocabularyLoads) {
    const auto data = valid_vocab().bytes();
    auto file = gguf::File::from_memory(data.data(), data.size());
    const auto tok = Tokenizer::from_gguf(*file);
    EXPECT_EQ(tok->vocab_size(), kTokens.size());
    EXPECT_EQ(tok->bos(), 1);  // SentencePiece's default ids when the keys are absent
    EXPECT_EQ(tok->eos(), 2);
    EXPECT_TRUE(tok->add_bos_default());
    EXPECT_EQ(tok->encode("a a", true, false), (std::vector<int32_t>{1, 3, 4, 3, 4}));
}

TEST(VocabChecks, UnsupportedModelIsNamed) {
    GgufBuilder b;
    b.str("tokenizer.ggml.model", "rwkv").strings("tokenizer.ggml.tokens", kTokens);
    expect_load_failure(b, "unsupported tokenizer model 'rwkv'");
}

TEST(VocabChecks, MissingModelOrTokens) {
    GgufBuilder no_model;
    no_model.strings("tokenizer.ggml.tokens", kTokens);
    expect_load_failure(no_model, "tokenizer.ggml.model");
    GgufBuilder no_tokens;
    no_tokens.str("tokenizer.ggml.model", "llama");
    expect_load_failure(no_tokens, "tokenizer.ggml.tokens is missing");
}

TEST(VocabChecks, ArrayLengthsMustAgree) {
    GgufBuilder scores;
    scores.str("tokenizer.ggml.model", "llama")
        .strings("tokenizer.ggml.tokens", kTokens)
        .floats("tokenizer.ggml.scores", {0, 0, 0});
    expect_load_failure(scores, "tokenizer.ggml.scores has 3 entries for 5 tokens");
    GgufBuilder types;
    types.str("tokenizer.ggml.model", "llama")
        .strings("tokenizer.ggml.tokens", kTokens)
        .ints("tokenizer.ggml.token_type", {2, 3, 3, 1, 1, 1});
    expect_load_failure(types, "tokenizer.ggml.token_type has 6 entries for 5 tokens");
}

TEST(VocabChecks, TokenTypesMustBeKnown) {
    GgufBuilder b;
    b.str("tokenizer.ggml.model", "llama")
        .strings("tokenizer.ggml.tokens", kTokens)
        .ints("tokenizer.ggml.token_type", {2, 3, 3, 9, 1});
    expect_load_failure(b, "tokenizer.ggml.token_type[3] = 9");
}

TEST(VocabChecks, ByteTokensMustNameAByte) {
    GgufBuilder b;
    b.str("tokenizer.ggml.model", "llama")
        .strings("tokenizer.ggml.tokens", kTokens)
        .ints("tokenizer.ggml.token_type", {2, 3, 3, 1, 6});
    expect_load_failure(b, "byte token 4 reads 'a'");
}

TEST(VocabChecks, SpecialIdsMustBeInRange) {
    auto bos = valid_vocab();
    bos.u32("tokenizer.ggml.bos_token_id", 5);
    expect_load_failure(bos, "tokenizer.ggml.bos_token_id = 5 is outside the vocabulary of 5 tokens");
    auto eos = valid_vocab();
    eos.u32("tokenizer.ggml.eos_token_id", 700);
    expect_load_failure(eos, "tokenizer.ggml.eos_token_id = 700");
    // 0xFFFFFFFF is how converters write "no such token".
    auto none = valid_vocab();
    none.u32("tokenizer.ggml.unknown_token_id", 0xFFFFFFFFu);
    EXPECT_EQ(load_error(none).first, ORCD_OK) << load_error(none).second;
}

TEST(VocabChecks, AddBosNeedsABosToken) {
    auto b = valid_vocab();
    b.u32("tokenizer.ggml.bos_token_id", 0xFFFFFFFFu);
    expect_load_failure(b, "no BOS token");
    auto off = valid_vocab();
    off.u32("tokenizer.ggml.bos_token_id", 0xFFFFFFFFu).boolean("tokenizer.ggml.add_bos_token", false);
    EXPECT_EQ(load_error(off).first, ORCD_OK) << load_error(off).second;
}

TEST(VocabChecks, WrongValueTypes) {
    GgufBuilder model;
    model.u32("tokenizer.ggml.model", 1).strings("tokenizer.ggml.tokens", kTokens);
    expect_load_failure(model, "tokenizer.ggml.model must be a string");
    GgufBuilder tokens;
    tokens.str("tokenizer.ggml.model", "llama").floats("tokenizer.ggml.tokens", {1, 2});
    expect_load_failure(tokens, "tokenizer.ggml.tokens must hold strings");
    auto flag = valid_vocab();
    flag.u32("tokenizer.ggml.add_bos_token", 1);
    expect_load_failure(flag, "tokenizer.ggml.add_bos_token must be a bool");
}

}  // namespace
}  // namespace orcd
