// The utf8:: functions and the streaming decoder. With the 512-token stories260K
// vocabulary nearly every non-ASCII character is spelled as <0xNN> byte
// tokens, so a character's bytes arrive in separate pushes.
#include "common/test_paths.h"
#include "gguf/gguf.h"
#include "tokenizer/spm_tokenizer.h"
#include "tokenizer/tokenizer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace orcd {
namespace {

const std::string kFffd = "\xEF\xBF\xBD";

TEST(Utf8, SequenceLength) {
    EXPECT_EQ(utf8::sequence_length(0x00), 1);
    EXPECT_EQ(utf8::sequence_length('A'), 1);
    EXPECT_EQ(utf8::sequence_length(0x7F), 1);
    EXPECT_EQ(utf8::sequence_length(0x80), 0);  // continuation byte
    EXPECT_EQ(utf8::sequence_length(0xBF), 0);
    EXPECT_EQ(utf8::sequence_length(0xC0), 0);  // only ever overlong
    EXPECT_EQ(utf8::sequence_length(0xC1), 0);
    EXPECT_EQ(utf8::sequence_length(0xC2), 2);
    EXPECT_EQ(utf8::sequence_length(0xDF), 2);
    EXPECT_EQ(utf8::sequence_length(0xE0), 3);
    EXPECT_EQ(utf8::sequence_length(0xEF), 3);
    EXPECT_EQ(utf8::sequence_length(0xF0), 4);
    EXPECT_EQ(utf8::sequence_length(0xF4), 4);
    EXPECT_EQ(utf8::sequence_length(0xF5), 0);  // beyond U+10FFFF
    EXPECT_EQ(utf8::sequence_length(0xFF), 0);
}

TEST(Utf8, Validity) {
    EXPECT_TRUE(utf8::is_valid(""));
    EXPECT_TRUE(utf8::is_valid("plain ascii"));
    EXPECT_TRUE(utf8::is_valid("Gr\xC3\xBC\xC3\x9F" "e \xE4\xBD\xA0\xE5\xA5\xBD \xF0\x9F\x99\x82"));
    EXPECT_TRUE(utf8::is_valid("\xED\x9F\xBF"));          // U+D7FF, last before the surrogates
    EXPECT_TRUE(utf8::is_valid("\xF4\x8F\xBF\xBF"));      // U+10FFFF
    EXPECT_FALSE(utf8::is_valid("\xC0\xAF"));             // overlong '/'
    EXPECT_FALSE(utf8::is_valid("\xE0\x80\xAF"));         // overlong
    EXPECT_FALSE(utf8::is_valid("\xF0\x80\x80\xAF"));     // overlong
    EXPECT_FALSE(utf8::is_valid("\xED\xA0\x80"));         // surrogate U+D800
    EXPECT_FALSE(utf8::is_valid("\xF4\x90\x80\x80"));     // U+110000
    EXPECT_FALSE(utf8::is_valid("\x80"));                 // lone continuation
    EXPECT_FALSE(utf8::is_valid("\xE4\xBD"));             // truncated
    EXPECT_FALSE(utf8::is_valid("\xE4\xBD" "A"));         // interrupted
}

TEST(Utf8, CountCodePoints) {
    EXPECT_EQ(utf8::count_code_points(""), 0u);
    EXPECT_EQ(utf8::count_code_points("abc"), 3u);
    EXPECT_EQ(utf8::count_code_points("\xE4\xBD\xA0\xE5\xA5\xBD"), 2u);
    EXPECT_EQ(utf8::count_code_points("a\xF0\x9F\x99\x82" "b"), 3u);
    EXPECT_EQ(utf8::count_code_points("a\xFF\xFE"), 3u);   // each invalid byte counts
    EXPECT_EQ(utf8::count_code_points("a\xE4\xBD"), 3u);   // so does a truncated tail
}

class Stories : public ::testing::Test {
protected:
    void SetUp() override {
        auto file = gguf::File::open(test::stories_model());
        tok_ = Tokenizer::from_gguf(*file);
        spm_ = dynamic_cast<const SpmTokenizer*>(tok_.get());
        ASSERT_NE(spm_, nullptr);
    }
    int32_t byte_token(unsigned b) const {
        static constexpr char kHex[] = "0123456789ABCDEF";
        const std::string name = std::string("<0x") + kHex[b >> 4] + kHex[b & 15] + ">";
        const int32_t id = spm_->find(name);
        EXPECT_GE(id, 0) << name;
        return id;
    }
    std::vector<std::string> pushes(const std::vector<int32_t>& ids) const {
        StreamDecoder dec(*tok_);
        std::vector<std::string> out;
        for (int32_t id : ids) out.push_back(dec.push(id));
        out.push_back(dec.finish());
        return out;
    }

    std::unique_ptr<Tokenizer> tok_;
    const SpmTokenizer* spm_ = nullptr;
};

TEST_F(Stories, SplitCharactersStreamAsWholeCharacters) {
    const std::vector<std::string> texts = {
        "\xE4\xBD\xA0\xE5\xA5\xBD\xEF\xBC\x8C\xE4\xB8\x96\xE7\x95\x8C",  // 你好，世界
        "Lily saw a \xF0\x9F\x90\xB6 and a \xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD!",  // dog, thumbs up + skin tone
        "Gr\xC3\xBC\xC3\x9F" "e, \xCE\xBA\xCF\x8C\xCF\x83\xCE\xBC\xCE\xB5 \xD0\xBC\xD0\xB8\xD1\x80",
    };
    for (const std::string& text : texts) {
        const auto ids = tok_->encode(text, true, false);
        // The point of the test: characters must really arrive split.
        size_t byte_tokens = 0;
        for (int32_t id : ids)
            if (tok_->token_bytes(id).size() == 1 && static_cast<unsigned char>(tok_->token_bytes(id)[0]) >= 0x80)
                ++byte_tokens;
        ASSERT_GE(byte_tokens, 4u) << text;

        const std::string whole = tok_->decode(ids);
        EXPECT_EQ(whole, " " + text);
        std::string joined;
        size_t held = 0;
        const auto pieces = pushes(ids);
        for (const std::string& p : pieces) {
            EXPECT_TRUE(utf8::is_valid(p)) << "a piece of " << text << " is not valid UTF-8";
            EXPECT_EQ(p.find(kFffd), std::string::npos) << text;
            if (p.empty()) ++held;
            joined += p;
        }
        EXPECT_EQ(pieces.back(), "") << "nothing may be left for finish()";
        EXPECT_GT(held, 0u) << "no push held back a partial character";
        EXPECT_EQ(joined, whole);
    }
}

TEST_F(Stories, IncompleteTailWaitsForFinish) {
    // 你 is E4 BD A0: its first two bytes alone are a valid, unfinished prefix.
    StreamDecoder dec(*tok_);
    EXPECT_EQ(dec.push(byte_token(0xE4)), "");
    EXPECT_EQ(dec.push(byte_token(0xBD)), "");
    EXPECT_EQ(dec.finish(), kFffd);
    EXPECT_EQ(dec.finish(), "");  // finish() leaves the decoder empty
    EXPECT_EQ(dec.push(byte_token(0xE4)), "");
    EXPECT_EQ(dec.push(byte_token(0xBD)), "");
    EXPECT_EQ(dec.push(byte_token(0xA0)), "\xE4\xBD\xA0");
    EXPECT_EQ(dec.finish(), "");
}

TEST_F(Stories, InvalidBytesBecomeReplacementAtOnce) {
    StreamDecoder dec(*tok_);
    EXPECT_EQ(dec.push(byte_token(0xFF)), kFffd);  // can never start a character
    EXPECT_EQ(dec.push(byte_token(0x80)), kFffd);  // continuation with no lead
    EXPECT_EQ(dec.push(byte_token(0xE4)), "");
    EXPECT_EQ(dec.push(byte_token(0xBD)), "");
    // A byte that cannot continue the sequence: the held prefix is one U+FFFD,
    // and the new byte is decoded on its own.
    EXPECT_EQ(dec.push(byte_token('A')), kFffd + "A");
    EXPECT_EQ(dec.push(byte_token(0xED)), "");
    EXPECT_EQ(dec.push(byte_token(0xA0)), kFffd + kFffd);  // a surrogate is known bad at its second byte
    EXPECT_EQ(dec.push(byte_token(0xF0)), "");
    const int32_t the = spm_->find("\xE2\x96\x81the");
    ASSERT_GE(the, 0);
    EXPECT_EQ(dec.push(the), kFffd + " the");
    EXPECT_EQ(dec.finish(), "");
}

TEST_F(Stories, DecodeRepairsLikeTheStream) {
    const std::vector<int32_t> ids = {byte_token(0xE4), byte_token(0xBD), byte_token('A'), byte_token(0xC3),
                                      byte_token(0xBC), byte_token(0xFF), byte_token(0xF0), byte_token(0x9F)};
    const std::string want = kFffd + "A\xC3\xBC" + kFffd + kFffd;
    EXPECT_EQ(tok_->decode(ids), want);
    std::string streamed;
    for (const auto& p : pushes(ids)) streamed += p;
    EXPECT_EQ(streamed, want);
}

TEST_F(Stories, ControlTokensStreamNothing) {
    StreamDecoder dec(*tok_);
    EXPECT_EQ(dec.push(byte_token(0xC3)), "");
    EXPECT_EQ(dec.push(tok_->bos()), "");  // renders as no bytes, so the character stays open
    EXPECT_EQ(dec.push(byte_token(0xBC)), "\xC3\xBC");
    EXPECT_EQ(dec.push(tok_->eos()), "");
    EXPECT_EQ(dec.finish(), "");
}

}  // namespace
}  // namespace orcd
