#include "engine/model_config.h"

#include "common/error.h"
#include "gguf/gguf.h"

#include <cmath>
#include <optional>
#include <string>

namespace orcd {

namespace {

// The most layers a model may declare (the largest published models have a
// few hundred): more is a corrupt file.
constexpr uint32_t kMaxLayers = 1024;

[[noreturn]] void bad(const ModelConfig& c, const std::string& why) {
    fail(ORCD_MODEL_LOAD_FAILED, "invalid " + c.architecture + " hyper-parameters: " + why);
}

// The YaRN correction dimension of a wavelength budget `beta`: the pair
// index whose wavelength fits n_ctx_orig / beta rotations.
float yarn_corr_dim(uint32_t dims, uint32_t n_ctx_orig, float beta, float base) {
    return float(dims) * std::log(float(n_ctx_orig) / (beta * 2.0f * float(M_PI))) / (2.0f * std::log(base));
}

}  // namespace

const char* rope_mode_name(RopeMode m) {
    switch (m) {
        case RopeMode::None: return "none";
        case RopeMode::Normal: return "normal";
        case RopeMode::Neox: return "neox";
    }
    return "?";
}

const char* norm_kind_name(NormKind k) { return k == NormKind::Rms ? "rms" : "layer"; }

const char* activation_name(Activation a) {
    switch (a) {
        case Activation::SwiGlu: return "swiglu";
        case Activation::Gelu: return "gelu";
        case Activation::SwiGluOai: return "swiglu-oai";
    }
    return "?";
}

std::string ModelConfig::describe() const {
    std::string s = architecture + ": " + std::to_string(n_layer) + " layers, " + std::to_string(n_embd) +
                    " hidden, " + std::to_string(n_head) + ":" + std::to_string(n_head_kv) + " heads of " +
                    std::to_string(head_dim) + ", rope " + rope_mode_name(rope.mode);
    if (rope.yarn) s += "+yarn";
    s += std::string(", norm ") + norm_kind_name(norm) + ", " + activation_name(act);
    if (n_expert) s += ", " + std::to_string(n_expert) + " experts top-" + std::to_string(n_expert_used);
    if (qkv_bias) s += ", qkv bias";
    if (fused_qkv) s += ", fused qkv";
    if (fused_gate_up) s += ", fused gate-up";
    if (learned_pos) s += ", learned positions";
    if (tied_output) s += ", tied output";
    if (attn_sinks) s += ", sinks";
    for (uint32_t w : layer_window)
        if (w) {
            s += ", sliding window " + std::to_string(w);
            break;
        }
    return s;
}

void read_common_hparams(const gguf::File& f, ModelConfig& c) {
    c.architecture = std::string(f.get_string("general.architecture"));
    const std::string a = c.architecture + ".";
    c.name = std::string(f.try_string("general.name").value_or(""));
    c.n_embd = f.get_u32(a + "embedding_length");
    c.n_layer = f.get_u32(a + "block_count");
    // Checked before anything is sized by it (the per-layer lists here, the
    // adapter's layer table): a corrupt count must not allocate first.
    if (c.n_layer > kMaxLayers) bad(c, "block_count " + std::to_string(c.n_layer) + " is implausibly large");
    c.n_head = f.get_u32(a + "attention.head_count");
    c.n_head_kv = f.try_u32(a + "attention.head_count_kv").value_or(c.n_head);
    c.n_ff = f.try_u32(a + "feed_forward_length").value_or(0);
    c.n_ctx_train = f.get_u32(a + "context_length");
    c.n_vocab = uint32_t(f.get_array("tokenizer.ggml.tokens").arr.size());
    if (c.n_head == 0) bad(c, "attention.head_count is zero");
    const std::optional<uint32_t> key_len = f.try_u32(a + "attention.key_length");
    if (!key_len && c.n_embd % c.n_head != 0) bad(c, "embedding_length is not a multiple of head_count");
    c.head_dim = uint32_t(key_len.value_or(c.n_embd / c.n_head));
    const uint32_t v_len = f.try_u32(a + "attention.value_length").value_or(c.head_dim);
    if (v_len != c.head_dim) bad(c, "attention.value_length differs from key_length (not supported)");
    c.rope.dims = f.try_u32(a + "rope.dimension_count").value_or(c.head_dim);
    c.rope.freq_base = float(f.try_float(a + "rope.freq_base").value_or(10000.0));
    c.attn_scale = 1.0f / std::sqrt(float(c.head_dim));
    c.layer_window.assign(c.n_layer, 0);
    c.n_expert = f.try_u32(a + "expert_count").value_or(0);
    c.n_expert_used = f.try_u32(a + "expert_used_count").value_or(0);
}

void read_rope_scaling(const gguf::File& f, ModelConfig& c) {
    const std::string a = c.architecture + ".";
    const std::string type(f.try_string(a + "rope.scaling.type").value_or("linear"));
    const double factor = f.try_float(a + "rope.scaling.factor").value_or(0.0);
    if (type == "none") return;
    if (type != "linear" && type != "yarn")
        fail(ORCD_MODEL_LOAD_FAILED, "rope scaling '" + type + "' of " + c.architecture +
                                         " is not supported yet (supported: none, linear, yarn)");
    if (factor < 0 || !std::isfinite(factor)) bad(c, "rope.scaling.factor must be positive");
    c.rope.freq_scale = factor == 0.0 ? 1.0f : float(1.0 / factor);
    if (type == "yarn") {
        const uint32_t orig = f.try_u32(a + "rope.scaling.original_context_length").value_or(c.n_ctx_train);
        const float attn_factor = float(f.try_float(a + "rope.scaling.attn_factor").value_or(1.0));
        // Defaults of the reference implementation: beta_fast 32, beta_slow 1,
        // extrapolation mix 1 for YaRN.
        const float beta_fast = 32.0f, beta_slow = 1.0f;
        c.rope.yarn = true;
        c.rope.yarn_ext_factor = 1.0f;
        const float low = std::floor(yarn_corr_dim(c.rope.dims, orig, beta_fast, c.rope.freq_base));
        const float high = std::ceil(yarn_corr_dim(c.rope.dims, orig, beta_slow, c.rope.freq_base));
        c.rope.yarn_low = std::max(0.0f, low);
        c.rope.yarn_high = std::min(float(c.rope.dims - 1), high);
        // YaRN's magnitude correction: cos and sin grow by 1 + 0.1 ln(factor).
        c.rope.mscale = attn_factor * (1.0f + 0.1f * std::log(1.0f / c.rope.freq_scale));
    }
}

void validate_config(const ModelConfig& c) {
    if (c.n_embd == 0 || c.n_layer == 0 || c.n_head == 0 || c.n_head_kv == 0 || c.head_dim == 0 || c.n_vocab == 0 ||
        c.n_ctx_train == 0)
        bad(c, "a dimension is zero");
    if (c.n_expert == 0 && c.n_ff == 0) bad(c, "feed_forward_length is zero");
    if (c.n_embd > (1u << 16) || c.n_layer > kMaxLayers || c.n_ff > (1u << 20) || c.n_vocab > (1u << 24) ||
        c.head_dim > 1024 || c.n_head > 1024 || c.n_expert > 1024 || c.n_ff_expert > (1u << 20))
        bad(c, "a dimension is implausibly large");
    if (c.n_head % c.n_head_kv != 0) bad(c, "head_count is not a multiple of head_count_kv");
    if (c.rope.mode != RopeMode::None && (c.rope.dims == 0 || c.rope.dims > c.head_dim || c.rope.dims % 2 != 0))
        bad(c, "rope.dimension_count " + std::to_string(c.rope.dims) + " must be even and at most head_dim " +
                   std::to_string(c.head_dim));
    if (!(c.norm_eps > 0.0f)) bad(c, "the norm epsilon must be positive");
    if (c.rope.mode != RopeMode::None && !(c.rope.freq_base > 0.0f)) bad(c, "rope.freq_base must be positive");
    if (c.n_expert && (c.n_expert_used == 0 || c.n_expert_used > c.n_expert || c.n_ff_expert == 0))
        bad(c, "expert_used_count must be in [1, expert_count] and the expert FFN size positive");
    if (c.layer_window.size() != c.n_layer) bad(c, "per-layer window list has the wrong length");
}

}  // namespace orcd
