#include "synth_vocab.h"

#include <cstdio>
#include <stdexcept>
#include <vector>

namespace orcd::synth {

namespace {
// llama.cpp's token types.
constexpr int32_t kNormal = 1, kUnknown = 2, kControl = 3, kUnused = 5, kByte = 6;
}  // namespace

uint64_t copy_vocab(gguf::Writer& w, const std::string& vocab_path) {
    const auto vocab = gguf::File::open(vocab_path);
    const uint64_t n_tokens = vocab->get_array("tokenizer.ggml.tokens").arr.size();
    if (n_tokens == 0) throw std::runtime_error(vocab_path + ": tokenizer.ggml.tokens is empty");
    // The vocab files carry general.* keys of their own; only the tokenizer
    // travels, the model's identity is ours.
    w.copy_metadata(*vocab, "tokenizer.");
    return n_tokens;
}

void add_byte_vocab(gguf::Writer& w, uint64_t vocab_size, bool word_fillers) {
    if (vocab_size < kMinByteVocab)
        throw std::invalid_argument("a byte-level vocabulary needs at least " +
                                    std::to_string(kMinByteVocab) + " tokens");
    std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
    std::vector<int32_t> types = {kUnknown, kControl, kControl};
    tokens.reserve(vocab_size);
    types.reserve(vocab_size);
    for (int b = 0; b < 256; ++b) {
        char name[8];
        std::snprintf(name, sizeof name, "<0x%02X>", b);
        tokens.emplace_back(name);
        types.push_back(kByte);
    }
    for (uint64_t i = 0; tokens.size() < vocab_size; ++i) {
        tokens.push_back(word_fillers ? "\u2581w" + std::to_string(i) : "<unused" + std::to_string(i) + ">");
        types.push_back(word_fillers ? kNormal : kUnused);
    }
    w.set_string("tokenizer.ggml.model", "llama");
    w.set_string_array("tokenizer.ggml.tokens", tokens);
    w.set_float32_array("tokenizer.ggml.scores", std::vector<float>(tokens.size(), 0.0f));
    w.set_int32_array("tokenizer.ggml.token_type", types);
    w.set_uint32("tokenizer.ggml.unknown_token_id", 0);
    w.set_uint32("tokenizer.ggml.bos_token_id", 1);
    w.set_uint32("tokenizer.ggml.eos_token_id", 2);
    w.set_bool("tokenizer.ggml.add_bos_token", true);
    w.set_bool("tokenizer.ggml.add_eos_token", false);
}

}  // namespace orcd::synth
