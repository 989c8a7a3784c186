// Reading a byte-level BPE vocabulary out of GGUF metadata.
#include "gguf/gguf.h"
#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/vocab_keys.h"

namespace orcd {

BpeVocab read_bpe_vocab(const gguf::File& f) {
    BpeVocab v;
    v.tokens = vocab_keys::tokens(f);
    const size_t n = v.tokens.size();
    v.attrs = vocab_keys::token_types(f, n);
    v.merges = vocab_keys::strings(f, "tokenizer.ggml.merges", true);
    // llama.cpp falls back to its "default" splitter when the key is absent.
    v.pre = vocab_keys::text(f, "tokenizer.ggml.pre").value_or("default");
    // BPE vocabularies have no default special ids worth the name: a file
    // without the keys has none.
    v.ids = read_special_ids(f, n, -1, -1, -1);
    v.add_bos = vocab_keys::flag(f, "tokenizer.ggml.add_bos_token");
    v.add_eos = vocab_keys::flag(f, "tokenizer.ggml.add_eos_token").value_or(false);
    return v;
}

}  // namespace orcd
