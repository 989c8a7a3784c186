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
    return v;
}

}  // namespace orcd
