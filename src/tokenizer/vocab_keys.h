// Reading the tokenizer.ggml.* keys of a GGUF file, shared by every
// vocabulary kind. Everything returned is a copy: a tokenizer outlives the
// file mapping it was read from. Malformed keys fail with
// MODEL_LOAD_FAILED naming the key.
#pragma once

#include "tokenizer/tokenizer.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace orcd::gguf { class File; }

namespace orcd::vocab_keys {

[[noreturn]] void bad(std::string_view key, const std::string& what);

// A string array; missing is an error when required, else an empty vector.
std::vector<std::string> strings(const gguf::File& f, std::string_view key, bool required);
// tokenizer.ggml.tokens, which must be present and not empty.
std::vector<std::string> tokens(const gguf::File& f);
// tokenizer.ggml.token_type for n tokens; absent means every token is normal.
std::vector<TokenAttr> token_types(const gguf::File& f, size_t n);
// tokenizer.ggml.scores for n tokens; absent means 0 for every token.
std::vector<float> scores(const gguf::File& f, size_t n);
// A special-token id: an absent key gives `fallback` when it is inside the
// vocabulary (else -1); -1 and 0xFFFFFFFF, which converters write for
// "none", give -1; anything else outside the vocabulary is an error.
int32_t special_id(const gguf::File& f, std::string_view key, int64_t fallback, size_t n);
// A bool key; nullopt when absent.
std::optional<bool> flag(const gguf::File& f, std::string_view key);
// A string key; nullopt when absent.
std::optional<std::string> text(const gguf::File& f, std::string_view key);

}  // namespace orcd::vocab_keys

namespace orcd {

// The ids a vocabulary names as special: BOS, EOS, UNK, padding and the end
// of turn / message tokens (-1 where absent).
struct SpecialIds {
    int32_t bos = -1;
    int32_t eos = -1;
    int32_t unk = -1;
    int32_t pad = -1;
    int32_t eot = -1;
    int32_t eom = -1;
};

// Reads tokenizer.ggml.{bos,eos,unknown,padding,eot,eom}_token_id with the
// given defaults for BOS/EOS/UNK (the defaults of the vocabulary kind).
SpecialIds read_special_ids(const gguf::File& f, size_t n, int64_t bos, int64_t eos, int64_t unk);

// MODEL_LOAD_FAILED unless the vocabulary has 1..INT32_MAX tokens, `attrs`
// one per token, and every id is -1 or inside it.
void check_vocabulary(size_t n_tokens, size_t n_attrs, const SpecialIds& ids);

// Which tokens end generation: EOS, EOT and EOM, every token whose text is
// one that chat vocabularies use to end a turn (<|im_end|>, <|eot_id|>,
// <|end|>, <|return|>, </s>, ...), and the fill-in-the-middle padding /
// repository / file-separator tokens, as llama.cpp decides. A vocabulary
// with both <|return|> and <|call|> (OpenAI's harmony format) keeps <|end|>
// out: there it closes a message, not the turn.
std::vector<bool> end_of_generation_set(const std::vector<std::string>& tokens, const SpecialIds& ids);

// The tokens that count as control when text is split on special tokens:
// the end-of-generation set plus every special id (see SpecialTokens).
std::vector<bool> control_like(const SpecialIds& ids, std::vector<bool> end_of_generation);

}  // namespace orcd
