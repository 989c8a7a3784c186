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
// exist. Returns the vocabulary size. Throws std::runtime_error naming the
// problem for anything it cannot convert (not byte-level BPE, a split regex
// of no known family, ...).
uint64_t import_tokenizer_json(gguf::Writer& w, const std::string& tokenizer_json_path);

}  // namespace orcd::synth
