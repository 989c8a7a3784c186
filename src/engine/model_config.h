// Hyper-parameters of a model, read from GGUF metadata by its adapter
// (engine/adapter.h). One struct serves every architecture: what differs
// between them is data here (rope mode, norm kind, activation, biases,
// windows, experts), never a copy of the forward pass.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace orcd::gguf { class File; }

namespace orcd {

enum class RopeMode : uint8_t {
    None,    // no rotary embedding (learned positions)
    Normal,  // rotates adjacent pairs (x[2i], x[2i+1]): GGUF llama files
    Neox,    // rotates (x[i], x[i + dims/2]): the HF "rotate_half" form
};

enum class NormKind : uint8_t {
    Rms,    // x / sqrt(mean(x^2) + eps) * w
    Layer,  // (x - mean) / sqrt(var + eps) * w + b, biased variance
};

enum class Activation : uint8_t {
    SwiGlu,     // silu(gate) * up
    Gelu,       // gelu_tanh(up), no gate
    SwiGluOai,  // GPT-OSS: min(g, 7) * sigmoid(1.702 min(g, 7)) * (clamp(u, -7, 7) + 1)
};

const char* rope_mode_name(RopeMode m);
const char* norm_kind_name(NormKind k);
const char* activation_name(Activation a);

// Rotary position embedding of one model. theta_i = pos * base^(-2i/dims)
// for pair i < dims/2; linear scaling multiplies it by freq_scale, YaRN
// blends the scaled and unscaled angle per pair (ramp between the
// correction dimensions) and multiplies cos and sin by mscale.
struct RopeConfig {
    RopeMode mode = RopeMode::Normal;
    uint32_t dims = 0;        // rotated dimensions per head (<= head_dim)
    float freq_base = 10000.0f;
    float freq_scale = 1.0f;  // 1 / scaling factor; 1 = no scaling
    bool yarn = false;
    float yarn_ext_factor = 0.0f;
    float yarn_low = 0.0f, yarn_high = 0.0f;  // correction dimensions (pair units)
    float mscale = 1.0f;      // multiplies cos and sin (YaRN)
};

struct ModelConfig {
    std::string architecture;  // GGUF general.architecture
    std::string name;
    uint32_t n_embd = 0;       // hidden size
    uint32_t n_layer = 0;
    uint32_t n_head = 0;       // query heads
    uint32_t n_head_kv = 0;    // key/value heads (GQA when < n_head)
    uint32_t head_dim = 0;     // per head (may differ from n_embd / n_head)
    uint32_t n_ff = 0;         // dense FFN inner size (0 for MoE-only models)
    uint32_t n_vocab = 0;
    uint32_t n_ctx_train = 0;  // the model's context length

    RopeConfig rope;
    NormKind norm = NormKind::Rms;
    float norm_eps = 1e-5f;
    Activation act = Activation::SwiGlu;
    float attn_scale = 0.0f;   // scores = q.k * attn_scale (1/sqrt(head_dim))

    // Tensor layout variants, set when the weights are bound.
    bool qkv_bias = false;       // Q/K/V projections carry biases
    bool out_bias = false;       // attention output projection bias
    bool ffn_bias = false;       // FFN projections carry biases
    bool fused_qkv = false;      // one attn_qkv tensor, bound as three row views
    bool fused_gate_up = false;  // ffn_up holds gate rows then up rows
    bool learned_pos = false;    // position_embd added to the token embedding
    bool tied_output = false;    // the LM head is the token embedding
    bool attn_sinks = false;     // one learned logit per head joins the softmax

    // Sliding-window attention: layer l attends to the last window[l]
    // positions (itself included); 0 = the whole causal context.
    std::vector<uint32_t> layer_window;

    // Mixture of experts (0 experts = dense FFN).
    uint32_t n_expert = 0;
    uint32_t n_expert_used = 0;
    uint32_t n_ff_expert = 0;

    uint64_t q_dim() const { return uint64_t(n_head) * head_dim; }
    uint64_t kv_dim() const { return uint64_t(n_head_kv) * head_dim; }
    uint32_t window(uint32_t layer) const { return layer < layer_window.size() ? layer_window[layer] : 0; }
    // One line naming the variants, for logs and --version.
    std::string describe() const;
};

// Reads the keys every architecture shares ({arch}.embedding_length,
// block_count, attention.head_count[_kv], key_length, context_length,
// rope.*, the vocabulary size) into `c`, and checks them. Adapters call it
// first, then set their variants. MODEL_LOAD_FAILED names a missing or
// invalid key.
void read_common_hparams(const gguf::File& file, ModelConfig& c);

// Fills the rope scaling of `c` from {arch}.rope.scaling.* ("none",
// "linear", "yarn"); "longrope" and unknown types fail at load.
void read_rope_scaling(const gguf::File& file, ModelConfig& c);

// Checks the invariants every backend relies on (dimensions, GQA grouping,
// rope dims); MODEL_LOAD_FAILED says which one is broken.
void validate_config(const ModelConfig& c);

}  // namespace orcd
