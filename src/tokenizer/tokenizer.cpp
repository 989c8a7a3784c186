#include "tokenizer/tokenizer.h"

#include "common/error.h"
#include "gguf/gguf.h"
#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/spm_tokenizer.h"
#include "tokenizer/utf8_repair.h"

namespace orcd {

std::unique_ptr<Tokenizer> Tokenizer::from_gguf(const gguf::File& file) {
    try {
        const gguf::Value* model = file.find("tokenizer.ggml.model");
        if (!model) fail(ORCD_MODEL_LOAD_FAILED, "tokenizer: tokenizer.ggml.model is missing");
        if (model->type != gguf::ValueType::STRING)
            fail(ORCD_MODEL_LOAD_FAILED, std::string("tokenizer: tokenizer.ggml.model must be a string, not ") +
                                             gguf::value_type_name(model->type));
        if (model->str == "llama") return std::make_unique<SpmTokenizer>(read_spm_vocab(file));
        if (model->str == "gpt2") return std::make_unique<BpeTokenizer>(read_bpe_vocab(file));
        fail(ORCD_MODEL_LOAD_FAILED, "unsupported tokenizer model '" + std::string(model->str) + "'");
    } catch (const gguf::GgufError& e) {
        // Metadata of the wrong shape is a model that cannot load.
        fail(ORCD_MODEL_LOAD_FAILED, std::string("tokenizer: ") + e.what());
    }
}

std::vector<int32_t> Tokenizer::encode_segments(const std::vector<TextSegment>& segments, bool add_bos) const {
    std::vector<int32_t> out;
    for (size_t i = 0; i < segments.size(); ++i) {
        const auto ids = encode(segments[i].text, add_bos && i == 0, segments[i].parse_special);
        out.insert(out.end(), ids.begin(), ids.end());
    }
    if (segments.empty() && add_bos) out = encode("", true, false);
    return out;
}

std::string Tokenizer::token_bytes(int32_t id) const {
    if (id < 0 || static_cast<size_t>(id) >= pieces_.size())
        fail(ORCD_INVALID_REQUEST, "token id " + std::to_string(id) + " is outside the vocabulary of " +
                                       std::to_string(pieces_.size()) + " tokens");
    return pieces_[static_cast<size_t>(id)];
}

bool Tokenizer::is_end_of_generation(int32_t id) const {
    return id >= 0 && static_cast<size_t>(id) < end_of_generation_.size() &&
           end_of_generation_[static_cast<size_t>(id)];
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids) const {
    std::string bytes;
    for (int32_t id : ids) bytes += token_bytes(id);
    std::string out;
    out.reserve(bytes.size());
    utf8::detail::append_repaired(bytes, out, /*final=*/true);
    return out;
}

}  // namespace orcd
