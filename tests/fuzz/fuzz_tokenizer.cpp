// libFuzzer target for the tokenizers: random bytes -> encode -> decode.
// Nothing may crash or throw; every id must be inside the vocabulary; the
// decoded text is always valid UTF-8 and streams out exactly as it decodes
// whole; and valid UTF-8 without special-token parsing comes back as it went
// in (NFC-normalized for Qwen; for SentencePiece after its leading space and
// with U+2581 read as a space).
//
// The first input byte picks the tokenizer and parse_special; the rest is
// the text. Vocabularies: GPT-2's under each byte-level pre-tokenizer (the
// split patterns are what differs between the families), and Llama 2's
// SentencePiece, from $ORCD_DATA_DIR (default: testdata/ of the checkout).
#include "gguf/gguf.h"
#include "tokenizer/bpe_pretokenizer.h"
#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/tokenizer.h"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

namespace {

struct Subject {
    std::unique_ptr<orcd::Tokenizer> tok;
    bool nfc = false;
    bool space_prefix = false;
};

std::vector<Subject>& subjects() {
    static std::vector<Subject> s;
    return s;
}

std::string data_dir() {
    const char* env = std::getenv("ORCD_DATA_DIR");
    return env && *env ? env : ORCD_FUZZ_DATA_DIR;
}

void check(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "fuzz_tokenizer: %s\n", what);
        __builtin_trap();
    }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    const auto gpt2 = orcd::gguf::File::open(data_dir() + "/tokenizer/ggml-vocab-gpt-2.gguf");
    for (const char* pre : {"gpt-2", "llama-bpe", "qwen2", "gpt-4o", "default"}) {
        orcd::BpeVocab v = orcd::read_bpe_vocab(*gpt2);
        v.pre = pre;
        v.add_bos = false;
        subjects().push_back({std::make_unique<orcd::BpeTokenizer>(std::move(v)), std::string(pre) == "qwen2", false});
    }
    const auto spm = orcd::gguf::File::open(data_dir() + "/tokenizer/ggml-vocab-llama-spm.gguf");
    subjects().push_back({orcd::Tokenizer::from_gguf(*spm), false, true});
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const Subject& s = subjects()[data[0] % subjects().size()];
    const bool parse_special = (data[0] / subjects().size()) % 2 == 1;
    const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);

    const std::vector<int32_t> ids = s.tok->encode(text, true, parse_special);
    for (int32_t id : ids) check(id >= 0 && static_cast<size_t>(id) < s.tok->vocab_size(), "id outside the vocabulary");
    const std::string decoded = s.tok->decode(ids);
    check(orcd::utf8::is_valid(decoded), "decode gave invalid UTF-8");
    orcd::StreamDecoder dec(*s.tok);
    std::string streamed;
    for (int32_t id : ids) streamed += dec.push(id);
    streamed += dec.finish();
    check(streamed == decoded, "streaming decode differs from whole decode");

    if (!parse_special && orcd::utf8::is_valid(text)) {
        std::string want = s.nfc ? orcd::nfc_normalize(text) : text;
        if (s.space_prefix) {
            // SentencePiece spells spaces as U+2581, so a U+2581 in the text
            // comes back as a space, as in every SentencePiece tokenizer.
            for (size_t pos = want.find("\xE2\x96\x81"); pos != std::string::npos; pos = want.find("\xE2\x96\x81", pos))
                want.replace(pos, 3, " ");
            if (!want.empty()) want = " " + want;
        }
        check(decoded == want, "valid UTF-8 did not round-trip");
    }
    return 0;
}
