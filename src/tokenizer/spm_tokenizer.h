// SentencePiece BPE ("llama" vocabularies), bit-for-bit what llama.cpp's
// llm_tokenizer_spm produces: escape spaces as U+2581, split into UTF-8
// characters, greedily merge the adjacent pair whose concatenation is the
// highest-scoring vocabulary entry (leftmost on ties), and spell whatever
// stays outside the vocabulary as <0xNN> byte tokens.
#pragma once

#include "tokenizer/special_tokens.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab_keys.h"

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace orcd {

// Everything a SentencePiece vocabulary carries; ids are -1 when absent.
struct SpmVocab {
    std::vector<std::string> tokens;
    std::vector<float> scores;
    std::vector<TokenAttr> attrs;
    SpecialIds ids;
    bool add_bos = true;
    bool add_space_prefix = true;
    std::vector<bool> rstrip;  // per token: swallows the whitespace after it (empty: none)
};

// Reads the tokenizer.ggml.* keys of a "llama" vocabulary; MODEL_LOAD_FAILED
// with the offending key when the arrays or ids are malformed.
SpmVocab read_spm_vocab(const gguf::File& file);

class SpmTokenizer final : public Tokenizer {
public:
    // Validates the vocabulary (MODEL_LOAD_FAILED on any inconsistency).
    explicit SpmTokenizer(SpmVocab vocab);

    const char* kind() const override { return "spm"; }
    std::vector<int32_t> encode(std::string_view text, bool add_bos, bool parse_special) const override;
    // As one text: raw text that continues across segments is merged, so the
    // leading-space rule applies to the whole (after BOS, after a verbatim
    // token), never at a segment boundary.
    std::vector<int32_t> encode_segments(const std::vector<TextSegment>& segments, bool add_bos) const override;
    std::string token_text(int32_t id) const override { return v_.tokens.at(size_t(id)); }
    int32_t bos() const override { return v_.ids.bos; }
    int32_t eos() const override { return v_.ids.eos; }
    bool add_bos_default() const override { return v_.add_bos; }

    bool add_space_prefix() const { return v_.add_space_prefix; }
    // The token's text as stored in the vocabulary; -1 when no token has it.
    int32_t find(std::string_view text) const;

private:
    struct Hash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
    };
    // Encodes pieces in order; consecutive raw pieces are one text.
    std::vector<int32_t> encode_pieces(const std::vector<SpecialTokens::Piece>& pieces, bool add_bos,
                                       size_t size_hint) const;
    // Runs the merge loop on escaped text and appends the resulting ids.
    void encode_escaped(std::string_view text, std::vector<int32_t>& out) const;
    void append_bytes(std::string_view piece, std::vector<int32_t>& out) const;

    SpmVocab v_;
    std::unordered_map<std::string, int32_t, Hash, std::equal_to<>> ids_;
    std::array<int32_t, 256> byte_ids_{};  // <0xNN> token of each byte, or -1
    SpecialTokens specials_;               // control and user-defined tokens cut out before merging
    size_t max_token_len_ = 0;
};

}  // namespace orcd
