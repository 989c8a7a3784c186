// Byte-level BPE ("gpt2" vocabularies: GPT-2, Llama 3, Qwen2, GPT-OSS), as
// the reference tokenizers (Hugging Face tokenizers, tiktoken) define it:
//   1. cut special tokens out of the text (SpecialTokens),
//   2. NFC-normalize the rest where the family does (Qwen),
//   3. split it into words with the family's regex (RegexSplitter),
//   4. spell each word's bytes with GPT-2's byte-to-character map and merge
//      adjacent symbols, always the pair of lowest merge rank first (the
//      leftmost among equal ranks), until no listed merge applies.
// Families whose vocabulary came from tiktoken take a word that is itself a
// token whole (ignore_merges), as tiktoken does.
#pragma once

#include "tokenizer/bpe_pretokenizer.h"
#include "tokenizer/special_tokens.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab_keys.h"

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace orcd {

// Everything a byte-level BPE vocabulary carries; every string is owned.
struct BpeVocab {
    std::vector<std::string> tokens;  // byte-level spelling, e.g. "Ġthe"
    std::vector<TokenAttr> attrs;
    std::vector<std::string> merges;  // "left right", rank = index
    std::string pre = "default";      // tokenizer.ggml.pre
    SpecialIds ids;
    std::optional<bool> add_bos;      // absent: the pre-tokenizer's default
    bool add_eos = false;
};

// Reads the tokenizer.ggml.* keys of a "gpt2" vocabulary (MODEL_LOAD_FAILED
// naming the key when malformed).
BpeVocab read_bpe_vocab(const gguf::File& file);

class BpeTokenizer final : public Tokenizer {
public:
    // Validates the vocabulary; MODEL_LOAD_FAILED for an unknown
    // pre-tokenizer (named), a merge or token table that cannot work.
    explicit BpeTokenizer(BpeVocab vocab);

    const char* kind() const override { return "bpe"; }
    std::vector<int32_t> encode(std::string_view text, bool add_bos, bool parse_special) const override;
    // As one text: control tokens matched only in segments that ask for it,
    // raw text joined across segment boundaries before pre-tokenizing.
    std::vector<int32_t> encode_segments(const std::vector<TextSegment>& segments, bool add_bos) const override;
    std::string token_text(int32_t id) const override { return v_.tokens.at(size_t(id)); }
    int32_t bos() const override { return v_.ids.bos; }
    int32_t eos() const override { return v_.ids.eos; }
    bool add_bos_default() const override { return add_bos_; }

    std::string_view pre() const override { return v_.pre; }
    // The id of a token by its vocabulary text; -1 when none has it.
    int32_t find(std::string_view text) const;

private:
    std::vector<int32_t> encode_pieces(const std::vector<SpecialTokens::Piece>& pieces, bool add_bos,
                                       size_t size_hint) const;

    struct Hash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
    };
    struct Merge {
        uint32_t rank;
        int32_t id;  // the merged token
    };

    void encode_word(std::string_view word, std::string& spelled, std::vector<int32_t>& out) const;
    const Merge* merge_of(int32_t left, int32_t right) const;

    BpeVocab v_;
    const PreTokenizerSpec* spec_ = nullptr;
    std::unique_ptr<RegexSplitter> splitter_;
    bool add_bos_ = false;
    std::unordered_map<std::string_view, int32_t, Hash, std::equal_to<>> ids_;  // views into v_.tokens
    std::unordered_map<uint64_t, Merge> merges_;  // (left id << 32 | right id) -> merge
    std::array<std::string, 256> byte_chars_;     // the character each byte is spelled with
    std::array<int32_t, 256> byte_ids_{};         // the token of each byte's character
    SpecialTokens specials_;
};

}  // namespace orcd
