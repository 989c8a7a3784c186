// Importing a Hugging Face tokenizer.json (byte-level BPE) into GGUF
// tokenizer metadata, written the way llama.cpp's converter
// (convert_hf_to_gguf.py with gguf-py's SpecialVocab) writes it, so that
// llama.cpp and worker-orcd read the synthesized file alike.
#pragma once

#include "gguf/gguf_writer.h"

#include <cstdint>
#include <string>

namespace orcd::synth {

// Writes tokenizer.ggml.{model,pre,tokens,token_type,merges}, the special
// token ids and add_*_token flags, and tokenizer.chat_template, reading
// tokenizer_config.json and config.json beside the tokenizer.json where they
// exist. The vocabulary is padded with unused "[PAD<id>]" tokens up to
// vocab_size or config.json's vocab_size, whichever is larger, as the
// converter pads it to the model's embedding rows (Qwen2.5: 151,665 tokens,
// 151,936 rows); never cut. Returns the vocabulary size. Throws
// std::runtime_error naming the problem for anything it cannot convert (not
// byte-level BPE, a split regex of no known family, ...).
uint64_t import_tokenizer_json(gguf::Writer& w, const std::string& tokenizer_json_path, uint64_t vocab_size = 0);

}  // namespace orcd::synth
