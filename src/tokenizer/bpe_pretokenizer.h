// The pre-tokenizer of a byte-level BPE vocabulary: the regular expressions
// that cut text into words before the merges run, selected by the GGUF key
// tokenizer.ggml.pre, plus the few other per-family rules that key implies.
//
// The regexes are the reference tokenizers' own (the Hugging Face
// tokenizer.json of each family), run by PCRE2 with Unicode properties and
// JIT; every match and every stretch between matches becomes a word, as the
// reference's "Isolated" split does.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace orcd {

struct PreTokenizerSpec {
    std::string_view name;                  // canonical tokenizer.ggml.pre value
    std::vector<std::string_view> regexes;  // applied in turn, each to the words of the previous
    bool ignore_merges = false;             // a word that is a token is taken whole
    bool nfc = false;                       // text is NFC-normalized first (Qwen)
    bool add_bos = false;                   // add_bos_token when the file does not say
};

// The spec a tokenizer.ggml.pre value names (aliases included); nullptr for
// an unknown name.
const PreTokenizerSpec* find_pre_tokenizer(std::string_view pre);
// The spec whose single split pattern is exactly `regex` (as a
// tokenizer.json writes it); nullptr when no family uses it.
const PreTokenizerSpec* find_pre_tokenizer_by_regex(std::string_view regex);
// The known names, for error messages.
std::string known_pre_tokenizers();

class RegexSplitter {
public:
    // Compiles the patterns (UTF-8, Unicode properties, JIT when available);
    // throws orcd::Error(INTERNAL) for a pattern PCRE2 rejects.
    explicit RegexSplitter(const std::vector<std::string_view>& patterns);
    ~RegexSplitter();
    RegexSplitter(const RegexSplitter&) = delete;
    RegexSplitter& operator=(const RegexSplitter&) = delete;

    // Appends the words of text to out (views into text), in order; their
    // concatenation is text. Invalid UTF-8 never matches and so ends up in
    // words of its own. Thread-safe.
    void split(std::string_view text, std::vector<std::string_view>& out) const;

private:
    struct Compiled;
    void split_one(const Compiled& re, std::string_view text, std::vector<std::string_view>& out) const;
    std::vector<std::unique_ptr<Compiled>> patterns_;
};

// NFC normalization of UTF-8 text; invalid byte sequences are kept as they
// are and the valid stretches between them are normalized.
std::string nfc_normalize(std::string_view text);

}  // namespace orcd
