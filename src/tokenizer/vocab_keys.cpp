#include "tokenizer/vocab_keys.h"

#include "common/error.h"
#include "gguf/gguf.h"

#include <algorithm>
#include <limits>

namespace orcd::vocab_keys {

void bad(std::string_view key, const std::string& what) {
    fail(ORCD_MODEL_LOAD_FAILED, "tokenizer: " + std::string(key) + " " + what);
}

namespace {

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

void check_length(std::string_view key, size_t have, size_t n) {
    if (have != n) bad(key, "has " + std::to_string(have) + " entries for " + std::to_string(n) + " tokens");
}

}  // namespace

std::vector<std::string> strings(const gguf::File& f, std::string_view key, bool required) {
    std::vector<std::string> out;
    const gguf::Value* v = array_of(f, key, required);
    if (!v) return out;
    if (v->elem_type != gguf::ValueType::STRING)
        bad(key, std::string("must hold strings, not ") + gguf::value_type_name(v->elem_type));
    out.reserve(v->arr.size());
    for (const gguf::Value& s : v->arr) out.emplace_back(s.str);
    return out;
}

std::vector<std::string> tokens(const gguf::File& f) {
    std::vector<std::string> out = strings(f, "tokenizer.ggml.tokens", true);
    if (out.empty()) bad("tokenizer.ggml.tokens", "is empty");
    return out;
}

std::vector<TokenAttr> token_types(const gguf::File& f, size_t n) {
    std::vector<TokenAttr> attrs(n, TokenAttr::Normal);
    constexpr std::string_view key = "tokenizer.ggml.token_type";
    if (const gguf::Value* types = array_of(f, key, false)) {
        check_length(key, types->arr.size(), n);
        for (size_t i = 0; i < n; ++i) attrs[i] = attr_of(types->arr[i].as_int(key), i);
    }
    return attrs;
}

std::vector<float> scores(const gguf::File& f, size_t n) {
    std::vector<float> out(n, 0.0f);
    constexpr std::string_view key = "tokenizer.ggml.scores";
    if (const gguf::Value* v = array_of(f, key, false)) {
        check_length(key, v->arr.size(), n);
        for (size_t i = 0; i < n; ++i) out[i] = static_cast<float>(v->arr[i].as_float(key));
    }
    return out;
}

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

std::optional<bool> flag(const gguf::File& f, std::string_view key) {
    const gguf::Value* v = f.find(key);
    if (!v) return std::nullopt;
    if (v->type != gguf::ValueType::BOOL) bad(key, std::string("must be a bool, not ") + gguf::value_type_name(v->type));
    return v->u != 0;
}

std::optional<std::string> text(const gguf::File& f, std::string_view key) {
    const gguf::Value* v = f.find(key);
    if (!v) return std::nullopt;
    if (v->type != gguf::ValueType::STRING)
        bad(key, std::string("must be a string, not ") + gguf::value_type_name(v->type));
    return std::string(v->str);
}

}  // namespace orcd::vocab_keys

namespace orcd {

namespace {

// Token texts that end a turn in common chat vocabularies; llama.cpp treats
// them as end-of-generation whatever the file says, and so do we.
constexpr std::string_view kEndTexts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<end_of_turn>", "<|endoftext|>",
    "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "<|end_of_text|>", "<end_of_utterance>",
    // fill-in-the-middle padding, repository and file separators
    "<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>",
    "<reponame>", "<|file_sep|>", "<file_sep>",
};

}  // namespace

SpecialIds read_special_ids(const gguf::File& f, size_t n, int64_t bos, int64_t eos, int64_t unk) {
    SpecialIds ids;
    ids.bos = vocab_keys::special_id(f, "tokenizer.ggml.bos_token_id", bos, n);
    ids.eos = vocab_keys::special_id(f, "tokenizer.ggml.eos_token_id", eos, n);
    ids.unk = vocab_keys::special_id(f, "tokenizer.ggml.unknown_token_id", unk, n);
    ids.pad = vocab_keys::special_id(f, "tokenizer.ggml.padding_token_id", -1, n);
    ids.eot = vocab_keys::special_id(f, "tokenizer.ggml.eot_token_id", -1, n);
    ids.eom = vocab_keys::special_id(f, "tokenizer.ggml.eom_token_id", -1, n);
    return ids;
}

void check_vocabulary(size_t n, size_t n_attrs, const SpecialIds& ids) {
    if (n == 0) fail(ORCD_MODEL_LOAD_FAILED, "tokenizer: the vocabulary is empty");
    if (n > static_cast<size_t>(std::numeric_limits<int32_t>::max()))
        fail(ORCD_MODEL_LOAD_FAILED, "tokenizer: the vocabulary has too many tokens (" + std::to_string(n) + ")");
    if (n_attrs != n)
        fail(ORCD_MODEL_LOAD_FAILED,
             "tokenizer: " + std::to_string(n) + " tokens but " + std::to_string(n_attrs) + " token types");
    const auto check_id = [n](int32_t id, const char* what) {
        if (id < -1 || id >= static_cast<int64_t>(n))
            fail(ORCD_MODEL_LOAD_FAILED, std::string("tokenizer: ") + what + " token id " + std::to_string(id) +
                                             " is outside the vocabulary of " + std::to_string(n) + " tokens");
    };
    check_id(ids.bos, "BOS");
    check_id(ids.eos, "EOS");
    check_id(ids.unk, "UNK");
    check_id(ids.pad, "padding");
    check_id(ids.eot, "end-of-turn");
    check_id(ids.eom, "end-of-message");
}

std::vector<bool> end_of_generation_set(const std::vector<std::string>& tokens, const SpecialIds& ids) {
    std::vector<bool> eog(tokens.size(), false);
    int32_t end = -1, ret = -1, call = -1;
    for (size_t i = 0; i < tokens.size(); ++i) {
        const std::string& t = tokens[i];
        if (std::find(std::begin(kEndTexts), std::end(kEndTexts), t) == std::end(kEndTexts)) continue;
        eog[i] = true;
        if (t == "<|end|>") end = static_cast<int32_t>(i);
        if (t == "<|return|>") ret = static_cast<int32_t>(i);
        if (t == "<|call|>") call = static_cast<int32_t>(i);
    }
    for (int32_t id : {ids.eos, ids.eot, ids.eom})
        if (id >= 0) eog[static_cast<size_t>(id)] = true;
    if (ret >= 0 && call >= 0 && end >= 0 && end != ids.eos && end != ids.eot && end != ids.eom)
        eog[static_cast<size_t>(end)] = false;
    return eog;
}

std::vector<bool> control_like(const SpecialIds& ids, std::vector<bool> end_of_generation) {
    for (int32_t id : {ids.bos, ids.eos, ids.unk, ids.pad, ids.eot, ids.eom})
        if (id >= 0) end_of_generation[static_cast<size_t>(id)] = true;
    return end_of_generation;
}

}  // namespace orcd
