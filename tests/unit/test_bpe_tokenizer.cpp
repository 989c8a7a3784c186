// Byte-level BPE: GPT-2's vocabulary with the conformance vectors published
// with llama.cpp (ids from the Hugging Face tokenizers), the rules of
// special tokens, end of generation and BOS, streaming decode of byte-level
// pieces, and the checks a malformed vocabulary must fail.
#include "common/error.h"
#include "common/test_paths.h"
#include "gguf/gguf.h"
#include "gguf_builder.h"
#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/tokenizer.h"
#include "vocab_vectors.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace orcd {
namespace {

using test::escaped;
using test::ids_str;

std::unique_ptr<Tokenizer> load_gpt2() {
    auto file = gguf::File::open(test::data_path("tokenizer/ggml-vocab-gpt-2.gguf"));
    return Tokenizer::from_gguf(*file);  // the file is closed on return: nothing may point into it
}

TEST(Gpt2, EncodesEveryLlamaCppVector) {
    const auto tok = load_gpt2();
    ASSERT_STREQ(tok->kind(), "bpe");
    const std::string base = test::data_path("tokenizer/ggml-vocab-gpt-2.gguf");
    const auto inputs = test::read_inputs(base + ".inp");
    const auto expected = test::read_outputs(base + ".out");
    ASSERT_EQ(inputs.size(), expected.size());
    ASSERT_GT(inputs.size(), 40u);
    for (size_t i = 0; i < inputs.size(); ++i) {
        const auto got = tok->encode(inputs[i], false, false);
        EXPECT_EQ(got, expected[i]) << "string " << i << ": " << escaped(inputs[i]) << "\n  expected "
                                    << ids_str(expected[i]) << "\n  got      " << ids_str(got);
        EXPECT_EQ(tok->decode(got), inputs[i]) << "string " << i;
    }
}

// Long runs of one character class are single words: neither the regex
// engine's stack nor the merge loop may give out on them, under any
// pre-tokenizer.
TEST(Gpt2, LongRunsEncodeAndRoundTrip) {
    auto file = gguf::File::open(test::data_path("tokenizer/ggml-vocab-gpt-2.gguf"));
    const std::vector<std::string> runs = {
        std::string(40000, ' '), std::string(40000, 'a'), std::string(40000, '7'), std::string(20000, '\n'),
        [] { std::string s; for (int i = 0; i < 10000; ++i) s += "e\xCC\x81"; return s; }(),  // e + U+0301
        [] { std::string s; for (int i = 0; i < 10000; ++i) s += "\xE4\xB8\x96"; return s; }(),
        std::string(20000, '!') + std::string(20000, '\t'),
    };
    for (const char* pre : {"gpt-2", "llama-bpe", "qwen2", "gpt-4o", "default"}) {
        BpeVocab v = read_bpe_vocab(*file);
        v.pre = pre;
        v.add_bos = false;
        const BpeTokenizer tok(std::move(v));
        for (const std::string& text : runs) {
            const auto ids = tok.encode(text, false, false);
            ASSERT_FALSE(ids.empty()) << pre;
            // Qwen's NFC composes e + U+0301 into one character.
            const bool composed = std::string(pre) == "qwen2" && text[1] == '\xCC';
            if (!composed) {
                EXPECT_EQ(tok.decode(ids), text) << pre << ", a run of " << text.size() << " bytes";
            }
        }
    }
}

// ---- merge rules on hand-made vocabularies --------------------------------

// GPT-2's 256 byte tokens (its first 256 ids spell every byte), then extra
// tokens and merges.
BpeVocab tiny_vocab(const std::vector<std::string>& extra, const std::vector<std::string>& merges,
                    std::string pre = "gpt-2") {
    auto file = gguf::File::open(test::data_path("tokenizer/ggml-vocab-gpt-2.gguf"));
    BpeVocab v = read_bpe_vocab(*file);
    v.tokens.resize(256);
    v.attrs.assign(256, TokenAttr::Normal);
    for (const std::string& t : extra) {
        v.tokens.push_back(t);
        v.attrs.push_back(TokenAttr::Normal);
    }
    v.merges = merges;
    v.pre = std::move(pre);
    v.ids = SpecialIds{};
    v.add_bos.reset();
    return v;
}

std::vector<std::string> texts(const BpeVocab& v, const std::vector<int32_t>& ids) {
    std::vector<std::string> out;
    for (int32_t id : ids) out.push_back(v.tokens[static_cast<size_t>(id)]);
    return out;
}

TEST(BpeMerge, LowestRankFirst) {
    const BpeVocab v = tiny_vocab({"ab", "bc", "abc"}, {"b c", "a b", "ab c"});
    const BpeTokenizer tok(v);
    EXPECT_EQ(texts(v, tok.encode("abc", false, false)), (std::vector<std::string>{"a", "bc"}));
    const BpeVocab w = tiny_vocab({"ab", "bc", "abc"}, {"a b", "b c", "ab c"});
    const BpeTokenizer tok2(w);
    EXPECT_EQ(texts(w, tok2.encode("abc", false, false)), (std::vector<std::string>{"abc"}));
}

TEST(BpeMerge, LeftmostPairFirstOnEqualRanks) {
    const BpeVocab v = tiny_vocab({"aa"}, {"a a"});
    const BpeTokenizer tok(v);
    EXPECT_EQ(texts(v, tok.encode("aaa", false, false)), (std::vector<std::string>{"aa", "a"}));
    EXPECT_EQ(texts(v, tok.encode("aaaa", false, false)), (std::vector<std::string>{"aa", "aa"}));
}

// Merges never cross the words the pre-tokenizer cut: "Ġ" (the spelled
// space) starts a word, and the merge "a Ġ" cannot apply.
TEST(BpeMerge, WordsAreMergedSeparately) {
    const BpeVocab v = tiny_vocab({"a\xC4\xA0", "\xC4\xA0" "a"}, {"a \xC4\xA0", "\xC4\xA0 a"});
    const BpeTokenizer tok(v);
    EXPECT_EQ(texts(v, tok.encode("a a", false, false)), (std::vector<std::string>{"a", "\xC4\xA0" "a"}));
}

// Vocabularies that came from tiktoken take a word that is a token whole,
// even where no chain of merges builds it.
TEST(BpeMerge, IgnoreMergesTakesWholeWords) {
    const BpeVocab plain = tiny_vocab({"abc"}, {}, "gpt-2");
    EXPECT_EQ(texts(plain, BpeTokenizer(plain).encode("abc", false, false)),
              (std::vector<std::string>{"a", "b", "c"}));
    BpeVocab whole = tiny_vocab({"abc"}, {}, "llama-bpe");
    whole.add_bos = false;  // Llama 3's pre-tokenizer would add one
    EXPECT_EQ(texts(whole, BpeTokenizer(whole).encode("abc", false, false)), (std::vector<std::string>{"abc"}));
}

TEST(BpeMerge, TokenBytesUndoTheByteSpelling) {
    const BpeVocab v = tiny_vocab({"\xC4\xA0\xC3\xA4", "\xC4\x8A"}, {});  // "Ġä", "Ċ"
    const BpeTokenizer tok(v);
    EXPECT_EQ(tok.token_bytes(256), " \xE4");  // space, then the byte 0xE4 alone
    EXPECT_EQ(tok.token_bytes(257), "\n");
}

// ---- special tokens -----------------------------------------------------------

TEST(BpeSpecial, ControlOnlyWithParseSpecialUserDefinedAlways) {
    BpeVocab v = tiny_vocab({"<|x|>", "<y>"}, {});
    v.attrs[256] = TokenAttr::Control;
    v.attrs[257] = TokenAttr::UserDefined;
    const BpeTokenizer tok(v);
    EXPECT_EQ(tok.encode("a<|x|>", false, true), (std::vector<int32_t>{tok.find("a"), 256}));
    const auto plain = tok.encode("a<|x|>", false, false);
    EXPECT_EQ(std::count(plain.begin(), plain.end(), 256), 0);
    EXPECT_EQ(tok.decode(plain), "a<|x|>");
    EXPECT_EQ(tok.encode("a<y>", false, false), (std::vector<int32_t>{tok.find("a"), 257}));
    EXPECT_EQ(tok.token_bytes(256), "");      // control tokens render as nothing
    EXPECT_EQ(tok.token_bytes(257), "<y>");   // user-defined ones as their text
}

TEST(BpeSpecial, BosAndEosFollowTheVocabulary) {
    BpeVocab v = tiny_vocab({"<s>", "</s>"}, {});
    v.attrs[256] = v.attrs[257] = TokenAttr::Control;
    v.ids.bos = 256;
    v.ids.eos = 257;
    v.add_bos = true;
    v.add_eos = true;
    const BpeTokenizer tok(v);
    EXPECT_EQ(tok.encode("a", true, false), (std::vector<int32_t>{256, tok.find("a"), 257}));
    EXPECT_EQ(tok.encode("a", false, false), (std::vector<int32_t>{tok.find("a")}));
    EXPECT_TRUE(tok.is_end_of_generation(257));
    EXPECT_FALSE(tok.is_end_of_generation(256));
}

// ---- malformed vocabularies ------------------------------------------------

using test::expect_load_failure;
using test::load_error;

test::GgufBuilder gpt2_builder(const std::string& pre) {
    auto file = gguf::File::open(test::data_path("tokenizer/ggml-vocab-gpt-2.gguf"));
    const BpeVocab v = read_bpe_vocab(*file);
    std::vector<std::string> tokens(v.tokens.begin(), v.tokens.begin() + 256);
    test::GgufBuilder b;
    b.str("tokenizer.ggml.model", "gpt2").strings("tokenizer.ggml.tokens", tokens);
    if (!pre.empty()) b.str("tokenizer.ggml.pre", pre);
    return b;
}

TEST(BpeVocabChecks, HandMadeVocabularyLoads) {
    auto b = gpt2_builder("qwen2");
    b.strings("tokenizer.ggml.merges", {});
    EXPECT_EQ(load_error(b).first, ORCD_OK) << load_error(b).second;
}

TEST(BpeVocabChecks, UnknownPreTokenizerIsNamed) {
    auto b = gpt2_builder("klingon-bpe");
    b.strings("tokenizer.ggml.merges", {});
    expect_load_failure(b, "unsupported pre-tokenizer 'klingon-bpe'");
}

TEST(BpeVocabChecks, MergesAreRequiredAndWellFormed) {
    expect_load_failure(gpt2_builder("gpt-2"), "tokenizer.ggml.merges is missing");
    auto b = gpt2_builder("gpt-2");
    b.strings("tokenizer.ggml.merges", {"ab"});
    expect_load_failure(b, "tokenizer.ggml.merges[0] = 'ab' is not two parts");
}

TEST(BpeVocabChecks, EveryByteNeedsAToken) {
    test::GgufBuilder b;
    b.str("tokenizer.ggml.model", "gpt2").strings("tokenizer.ggml.tokens", {"a", "b"}).strings("tokenizer.ggml.merges", {});
    expect_load_failure(b, "no token for byte 0");
}

TEST(BpeVocabChecks, AddBosNeedsABosToken) {
    auto b = gpt2_builder("llama-bpe");  // adds BOS unless the file says otherwise
    b.strings("tokenizer.ggml.merges", {});
    expect_load_failure(b, "adds BOS but has no BOS token");
    auto off = gpt2_builder("llama-bpe");
    off.strings("tokenizer.ggml.merges", {}).boolean("tokenizer.ggml.add_bos_token", false);
    EXPECT_EQ(load_error(off).first, ORCD_OK) << load_error(off).second;
}

}  // namespace
}  // namespace orcd
