// Reading a SentencePiece vocabulary out of GGUF metadata.
#include "common/error.h"
#include "gguf/gguf.h"
#include "tokenizer/spm_tokenizer.h"

#include <cstdint>
#include <string>

namespace orcd {

namespace {

[[noreturn]] void bad(std::string_view key, const std::string& what) {
    fail(ORCD_MODEL_LOAD_FAILED, "tokenizer: " + std::string(key) + " " + what);
}

const gguf::Value* array_of(const gguf::File& f, std::string_view key, bool required) {
    const gguf::Value* v = f.find(key);
    if (!v) {
        if (required) bad(key, "is missing");
        return nullptr;
    }
    if (v->type != gguf::ValueType::ARRAY)
        bad(key, std::string("must be an array, not ") + gguf::value_type_name(v->type));
    return v;
}

TokenAttr attr_of(int64_t type, size_t index) {
    switch (type) {
        case 1: return TokenAttr::Normal;
        case 2: return TokenAttr::Unknown;
        case 3: return TokenAttr::Control;
        case 4: return TokenAttr::UserDefined;
        case 5: return TokenAttr::Unused;
        case 6: return TokenAttr::Byte;
        default:
        {
            // Built by appending: GCC 12 misreports '"literal" + std::string' as an overlapping copy.
            std::string what = "tokenizer: tokenizer.ggml.token_type[";
            what += std::to_string(index);
            what += "] = ";
            what += std::to_string(type);
            what += " is not a token type (1..6)";
            fail(ORCD_MODEL_LOAD_FAILED, what);
        }
    }
}

// A special-token id: absent keys take the SentencePiece default (as
// llama.cpp does), and -1 / 0xFFFFFFFF, which converters write for "none",
// mean absent. Anything else outside the vocabulary is an error.
int32_t special_id(const gguf::File& f, std::string_view key, int64_t fallback, size_t n) {
    const gguf::Value* v = f.find(key);
    if (!v) return fallback >= 0 && static_cast<size_t>(fallback) < n ? static_cast<int32_t>(fallback) : -1;
    if (!v->is_integer() || v->type == gguf::ValueType::BOOL)
        bad(key, std::string("must be an integer, not ") + gguf::value_type_name(v->type));
    const int64_t id = v->as_int(key);
    if (id == -1 || id == int64_t{0xFFFFFFFF}) return -1;
    if (id < 0 || static_cast<uint64_t>(id) >= n)
        bad(key, "= " + std::to_string(id) + " is outside the vocabulary of " + std::to_string(n) + " tokens");
    return static_cast<int32_t>(id);
}

bool flag(const gguf::File& f, std::string_view key, bool fallback) {
    const gguf::Value* v = f.find(key);
    if (!v) return fallback;
    if (v->type != gguf::ValueType::BOOL) bad(key, std::string("must be a bool, not ") + gguf::value_type_name(v->type));
    return v->u != 0;
}

}  // namespace

SpmVocab read_spm_vocab(const gguf::File& f) {
    SpmVocab v;
    const gguf::Value* tokens = array_of(f, "tokenizer.ggml.tokens", true);
    if (tokens->elem_type != gguf::ValueType::STRING)
        bad("tokenizer.ggml.tokens", std::string("must hold strings, not ") + gguf::value_type_name(tokens->elem_type));
    const size_t n = tokens->arr.size();
    if (n == 0) bad("tokenizer.ggml.tokens", "is empty");
    v.tokens.reserve(n);
    for (const gguf::Value& t : tokens->arr) v.tokens.emplace_back(t.str);

    // Scores and types may be left out (llama.cpp then uses 0 and "normal");
    // when present they must describe every token.
    v.scores.assign(n, 0.0f);
    if (const gguf::Value* scores = array_of(f, "tokenizer.ggml.scores", false)) {
        if (scores->arr.size() != n)
            bad("tokenizer.ggml.scores", "has " + std::to_string(scores->arr.size()) + " entries for " +
                                             std::to_string(n) + " tokens");
        for (size_t i = 0; i < n; ++i)
            v.scores[i] = static_cast<float>(scores->arr[i].as_float("tokenizer.ggml.scores"));
    }
    v.attrs.assign(n, TokenAttr::Normal);
    if (const gguf::Value* types = array_of(f, "tokenizer.ggml.token_type", false)) {
        if (types->arr.size() != n)
            bad("tokenizer.ggml.token_type", "has " + std::to_string(types->arr.size()) + " entries for " +
                                                 std::to_string(n) + " tokens");
        for (size_t i = 0; i < n; ++i)
            v.attrs[i] = attr_of(types->arr[i].as_int("tokenizer.ggml.token_type"), i);
    }

    v.bos = special_id(f, "tokenizer.ggml.bos_token_id", 1, n);
    v.eos = special_id(f, "tokenizer.ggml.eos_token_id", 2, n);
    v.unk = special_id(f, "tokenizer.ggml.unknown_token_id", 0, n);
    v.pad = special_id(f, "tokenizer.ggml.padding_token_id", -1, n);
    for (std::string_view key : {"tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"})
        if (int32_t id = special_id(f, key, -1, n); id >= 0) v.extra_end_ids.push_back(id);
    v.add_bos = flag(f, "tokenizer.ggml.add_bos_token", true);
    v.add_space_prefix = flag(f, "tokenizer.ggml.add_space_prefix", true);
    return v;
}

}  // namespace orcd
