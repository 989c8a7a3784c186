// Tokenizer interface. One implementation per vocabulary kind; the factory
// picks it from `tokenizer.ggml.model`: SentencePiece ("llama") or byte-level
// BPE ("gpt2"). A tokenizer copies everything it needs out of the GGUF file
// and never points into it, so the file may be closed once it is built.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace orcd::gguf { class File; }

namespace orcd {

enum class TokenAttr : uint8_t { Normal, Control, Byte, Unknown, UserDefined, Unused };

// A piece of a text to encode and whether control tokens written in it are
// matched (a chat template's markup) or not (message content).
struct TextSegment {
    std::string_view text;
    bool parse_special = false;
};

// The length of the segments' concatenation.
inline size_t total_size(const std::vector<TextSegment>& segments) {
    size_t n = 0;
    for (const TextSegment& s : segments) n += s.text.size();
    return n;
}

class Tokenizer {
public:
    virtual ~Tokenizer() = default;

    // Builds the tokenizer the GGUF file describes; MODEL_LOAD_FAILED when
    // the kind is unsupported or the vocabulary is malformed.
    static std::unique_ptr<Tokenizer> from_gguf(const gguf::File& file);

    // "spm" for SentencePiece, "bpe" for byte-level BPE.
    virtual const char* kind() const = 0;
    // The pre-tokenizer's name (tokenizer.ggml.pre) where the kind has one.
    virtual std::string_view pre() const { return {}; }
    // Encodes UTF-8 text. add_bos prepends BOS when the vocabulary asks for
    // it. parse_special: when false, no text ever becomes a control token
    // (a user typing "<|im_start|>" gets the tokens of that text); when true,
    // control tokens written in the text are matched, longest first, as chat
    // templates need for their own markup. User-defined tokens are matched
    // either way, as the reference tokenizers do.
    virtual std::vector<int32_t> encode(std::string_view text, bool add_bos, bool parse_special) const = 0;
    // Encodes the segments' concatenation as one text, control tokens matched
    // only inside the segments that allow it. The default encodes segment by
    // segment; a tokenizer whose result depends on what precedes a piece of
    // text (SentencePiece's leading space) overrides it.
    virtual std::vector<int32_t> encode_segments(const std::vector<TextSegment>& segments, bool add_bos) const;
    // The raw bytes a token stands for: "▁" becomes ' ', a byte token
    // <0xNN> its single byte, a byte-level BPE token its bytes, control
    // tokens (BOS/EOS/...) nothing. May be a partial UTF-8 sequence.
    // INVALID_REQUEST for an id outside the vocabulary.
    std::string token_bytes(int32_t id) const;
    // The token's text as the vocabulary stores it ("<s>", "\u2581the",
    // "<0x0A>", byte-level BPE's "\u0120the"): what a chat template prints
    // for bos_token / eos_token.
    virtual std::string token_text(int32_t id) const = 0;

    size_t vocab_size() const { return pieces_.size(); }
    virtual int32_t bos() const = 0;
    virtual int32_t eos() const = 0;
    virtual bool add_bos_default() const = 0;
    // True for tokens that end generation (EOS, and EOT-like tokens).
    bool is_end_of_generation(int32_t id) const;

    // Decodes a whole sequence (UTF-8 repaired with U+FFFD where invalid).
    std::string decode(const std::vector<int32_t>& ids) const;

protected:
    // Filled by each implementation's constructor, one entry per token.
    std::vector<std::string> pieces_;      // token_bytes() of every id
    std::vector<bool> end_of_generation_;
};

// Streaming, UTF-8-safe decoding: fed one token at a time, it returns only
// complete UTF-8 characters, holding back a split multi-byte sequence until
// its last byte arrives. Invalid bytes become U+FFFD as soon as they are
// known to be invalid; finish() flushes an incomplete tail as U+FFFD.
class StreamDecoder {
public:
    explicit StreamDecoder(const Tokenizer& tok) : tok_(tok) {}
    std::string push(int32_t id);
    std::string finish();

private:
    const Tokenizer& tok_;
    std::string pending_;  // bytes of an incomplete UTF-8 character
};

// UTF-8 helpers shared by the tokenizer, the stream decoder and the server.
namespace utf8 {
// Length of the sequence a lead byte starts (1..4), or 0 for an invalid lead.
int sequence_length(unsigned char lead);
// True when s is entirely valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF).
bool is_valid(std::string_view s);
// Number of code points in valid UTF-8 (invalid bytes count one each).
size_t count_code_points(std::string_view s);
}  // namespace utf8

}  // namespace orcd
