// Reading a SentencePiece vocabulary out of GGUF metadata.
#include "gguf/gguf.h"
#include "tokenizer/spm_tokenizer.h"
#include "tokenizer/vocab_keys.h"

namespace orcd {

SpmVocab read_spm_vocab(const gguf::File& f) {
    SpmVocab v;
    v.tokens = vocab_keys::tokens(f);
    const size_t n = v.tokens.size();
    // Scores and types may be left out (llama.cpp then uses 0 and "normal");
    // when present they must describe every token.
    v.scores = vocab_keys::scores(f, n);
    v.attrs = vocab_keys::token_types(f, n);
    // SentencePiece's default ids when the keys are absent: <unk> 0, <s> 1, </s> 2.
    v.ids = read_special_ids(f, n, 1, 2, 0);
    v.add_bos = vocab_keys::flag(f, "tokenizer.ggml.add_bos_token").value_or(true);
    v.add_space_prefix = vocab_keys::flag(f, "tokenizer.ggml.add_space_prefix").value_or(true);
    // Phi-3 (and 3.5) mini: the tokenizer.json marks its chat markup and </s>
    // rstrip, so "<|user|>\nHi" is <|user|> "Hi". llama.cpp applies the same
    // rule to files whose general.name says phi-3; the architecture is the
    // surer sign (Phi-4 shares it but has a byte-level vocabulary, not this one).
    if (f.try_string("general.architecture").value_or("") == "phi3") {
        v.rstrip.assign(n, false);
        for (size_t i = 0; i < n; ++i) {
            const std::string& t = v.tokens[i];
            const bool special = v.attrs[i] == TokenAttr::Control || v.attrs[i] == TokenAttr::UserDefined;
            v.rstrip[i] = (special || t == "</s>") && t != "<unk>" && t != "<s>" && t != "<|endoftext|>";
        }
    }
    return v;
}

}  // namespace orcd
