#include "engine/model_config.h"

#include "common/error.h"
#include "gguf/gguf.h"

#include <string>

namespace orcd {

namespace {

// Architectures whose forward pass this engine implements.
bool supported(std::string_view arch) { return arch == "llama"; }

}  // namespace

ModelConfig ModelConfig::from_gguf(const gguf::File& f) {
    ModelConfig c;
    c.architecture = std::string(f.get_string("general.architecture"));
    if (!supported(c.architecture))
        fail(ORCD_MODEL_LOAD_FAILED, "unsupported architecture '" + c.architecture + "' (supported: llama)");
    const std::string a = c.architecture + ".";
    c.name = std::string(f.try_string("general.name").value_or(""));
    c.n_embd = uint32_t(f.get_uint(a + "embedding_length"));
    c.n_layer = uint32_t(f.get_uint(a + "block_count"));
    c.n_head = uint32_t(f.get_uint(a + "attention.head_count"));
    c.n_head_kv = uint32_t(f.try_uint(a + "attention.head_count_kv").value_or(c.n_head));
    c.n_ff = uint32_t(f.get_uint(a + "feed_forward_length"));
    c.n_ctx_train = uint32_t(f.get_uint(a + "context_length"));
    c.rope_freq_base = float(f.try_float(a + "rope.freq_base").value_or(10000.0));
    c.rms_eps = float(f.try_float(a + "attention.layer_norm_rms_epsilon").value_or(1e-5));
    c.n_vocab = uint32_t(f.get_array("tokenizer.ggml.tokens").arr.size());

    auto bad = [&](const std::string& why) { fail(ORCD_MODEL_LOAD_FAILED, "invalid " + c.architecture + " hyper-parameters: " + why); };
    if (c.n_embd == 0 || c.n_layer == 0 || c.n_head == 0 || c.n_head_kv == 0 || c.n_ff == 0 || c.n_vocab == 0 ||
        c.n_ctx_train == 0)
        bad("a dimension is zero");
    if (c.n_embd > (1u << 16) || c.n_layer > 1024 || c.n_ff > (1u << 20) || c.n_vocab > (1u << 24))
        bad("a dimension is implausibly large");
    if (c.n_embd % c.n_head != 0) bad("embedding_length is not a multiple of head_count");
    if (c.n_head % c.n_head_kv != 0) bad("head_count is not a multiple of head_count_kv");
    c.head_dim = c.n_embd / c.n_head;
    c.rope_dim = uint32_t(f.try_uint(a + "rope.dimension_count").value_or(c.head_dim));
    if (c.rope_dim == 0 || c.rope_dim > c.head_dim || c.rope_dim % 2 != 0)
        bad("rope.dimension_count " + std::to_string(c.rope_dim) + " must be even and at most head_dim " +
            std::to_string(c.head_dim));
    if (!(c.rms_eps > 0.0f) || !(c.rope_freq_base > 0.0f)) bad("rms epsilon and rope.freq_base must be positive");
    return c;
}

}  // namespace orcd
