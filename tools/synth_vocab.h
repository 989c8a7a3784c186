// Tokenizer metadata for synthesized models: either copied from a vocab-only
// GGUF file, or a minimal byte-level SentencePiece vocabulary that can
// tokenize any text through byte fallback.
#pragma once

#include "gguf/gguf_writer.h"

#include <cstdint>
#include <string>

namespace orcd::synth {

// The smallest byte-level vocabulary: <unk>, <s>, </s> and 256 byte tokens.
inline constexpr uint64_t kMinByteVocab = 3 + 256;

// Copies every tokenizer.* key of the vocab file; returns its token count.
uint64_t copy_vocab(gguf::Writer& w, const std::string& vocab_path);
// <unk>=0, <s>=1, </s>=2, <0x00>..<0xFF>, then filler tokens up to
// vocab_size (which must be at least kMinByteVocab). Fillers are unused
// tokens that render as nothing, or with word_fillers normal tokens
// "\u2581w<N>" that render as " w<N>": a random-weight model mostly samples
// fillers, and only text reaches an HTTP client as a token event. Encoding
// never produces a filler (SentencePiece joins two pieces into a third, and
// neither "\u2581w" nor "w<N>" is a piece), so text still encodes byte by
// byte.
void add_byte_vocab(gguf::Writer& w, uint64_t vocab_size, bool word_fillers = false);

}  // namespace orcd::synth
