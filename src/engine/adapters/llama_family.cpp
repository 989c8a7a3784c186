// The Llama family: pre-norm decoders with RMSNorm, rotary positions,
// grouped-query attention and a SwiGLU FFN.
//   llama  Llama 2/3, TinyLlama, Mistral: NORMAL rope (the converter
//          permuted Q/K rows for it), no biases
//   qwen2  Qwen2/Qwen2.5: NEOX rope, Q/K/V biases, usually tied output
//   phi3   Phi-3 mini: NEOX rope, fused attn_qkv and gate||up tensors (bound
//          as row views, not copied)
// What differs is data (the Variant table and the tensors present); the
// forward pass below is the same for all three.
#include "common/error.h"
#include "engine/adapter.h"
#include "engine/adapters/builtin.h"
#include "gguf/gguf.h"

#include <string>

namespace orcd {

namespace {

struct Variant {
    const char* arch;
    RopeMode rope;
    bool eps_required;  // attention.layer_norm_rms_epsilon must be present
};

constexpr Variant kLlama{"llama", RopeMode::Normal, false};
constexpr Variant kQwen2{"qwen2", RopeMode::Neox, true};
constexpr Variant kPhi3{"phi3", RopeMode::Neox, true};

class LlamaFamily final : public ModelAdapter {
public:
    LlamaFamily(const gguf::File& f, const Variant& v) {
        read_config(f, v);
        bind(f);
    }

    void forward(Ops& ops) const override {
        const ModelConfig& c = cfg_;
        ops.embed(w_.tok_embd, w_.pos_embd);
        for (uint32_t l = 0; l < c.n_layer; ++l) {
            const LayerWeights& L = w_.layers[l];
            // Attention block: x += Wo attention(rope(Wq h), rope(Wk h), Wv h)
            ops.norm({c.norm, c.norm_eps, L.attn_norm, L.attn_norm_b});
            ops.qkv({L.wq, L.bq}, {L.wk, L.bk}, {L.wv, L.bv});
            ops.rope_store_kv(l, c.rope);
            ops.attention(l, {c.attn_scale, c.window(l), L.sinks});
            ops.out_proj_add({L.wo, L.bo});
            // Feed-forward block: x += Wdown (silu(Wgate h) * Wup h)
            ops.norm({c.norm, c.norm_eps, L.ffn_norm, L.ffn_norm_b});
            ops.ffn({c.act, L.w_gate, L.b_gate, L.w_up, L.b_up, L.w_down, L.b_down});
        }
        ops.logits({c.norm, c.norm_eps, w_.output_norm, w_.output_norm_b}, {w_.output, w_.output_b});
    }

private:
    void read_config(const gguf::File& f, const Variant& v) {
        ModelConfig& c = cfg_;
        read_common_hparams(f, c);
        const std::string a = c.architecture + ".";
        c.rope.mode = v.rope;
        read_rope_scaling(f, c);
        const std::string eps_key = a + "attention.layer_norm_rms_epsilon";
        c.norm = NormKind::Rms;
        c.norm_eps = float(v.eps_required ? f.get_float(eps_key) : f.try_float(eps_key).value_or(1e-5));
        c.act = Activation::SwiGlu;
        if (c.n_ff == 0) fail(ORCD_MODEL_LOAD_FAILED, a + "feed_forward_length is missing or zero");
        if (c.n_expert)
            fail(ORCD_MODEL_LOAD_FAILED, c.architecture + " with experts (expert_count " + std::to_string(c.n_expert) +
                                             ") is not supported yet");
        // Phi-3's attention.sliding_window is read by the reference
        // implementation and then deliberately not applied: every layer
        // attends to the whole context there, and so here.
    }

    void bind(const gguf::File& f) {
        const ModelConfig& c0 = cfg_;
        WeightBinder b(f, w_);
        if (b.has(TensorRole::RopeFactorsLong) || b.has(TensorRole::RopeFactorsShort))
            fail(ORCD_MODEL_LOAD_FAILED, c0.architecture + " with LongRoPE factors (128k variants) is not supported yet");
        const uint64_t E = c0.n_embd, V = c0.n_vocab, Q = c0.q_dim(), KV = c0.kv_dim(), F = c0.n_ff;
        w_.tok_embd = b.matrix(TensorRole::TokEmbd, -1, E, V);
        w_.output_norm = b.vector(TensorRole::OutputNorm, -1, E);
        if (b.has(TensorRole::Output)) {
            w_.output = b.matrix(TensorRole::Output, -1, E, V);
        } else {
            w_.output = w_.tok_embd;  // tied embeddings
            cfg_.tied_output = true;
        }
        w_.output_b = b.optional_vector(TensorRole::OutputBias, -1, V);
        w_.layers.resize(c0.n_layer);
        for (uint32_t l = 0; l < c0.n_layer; ++l) {
            const int i = int(l);
            LayerWeights& L = w_.layers[l];
            L.attn_norm = b.vector(TensorRole::AttnNorm, i, E);
            if (b.has(TensorRole::AttnQkv, i)) {
                const TensorView qkv = b.matrix(TensorRole::AttnQkv, i, E, Q + 2 * KV);
                L.wq = qkv.rows(0, Q);
                L.wk = qkv.rows(Q, KV);
                L.wv = qkv.rows(Q + KV, KV);
                if (const TensorView bias = b.optional_vector(TensorRole::AttnQkvBias, i, Q + 2 * KV); !bias.empty()) {
                    L.bq = bias.elements(0, Q);
                    L.bk = bias.elements(Q, KV);
                    L.bv = bias.elements(Q + KV, KV);
                }
                cfg_.fused_qkv = true;
            } else {
                L.wq = b.matrix(TensorRole::AttnQ, i, E, Q);
                L.wk = b.matrix(TensorRole::AttnK, i, E, KV);
                L.wv = b.matrix(TensorRole::AttnV, i, E, KV);
                L.bq = b.optional_vector(TensorRole::AttnQBias, i, Q);
                L.bk = b.optional_vector(TensorRole::AttnKBias, i, KV);
                L.bv = b.optional_vector(TensorRole::AttnVBias, i, KV);
            }
            if (!L.bq.empty() || !L.bk.empty() || !L.bv.empty()) {
                if (L.bq.empty() || L.bk.empty() || L.bv.empty())
                    fail(ORCD_MODEL_LOAD_FAILED, "layer " + std::to_string(l) + " has biases on only some of Q/K/V");
                cfg_.qkv_bias = true;
            }
            L.wo = b.matrix(TensorRole::AttnOut, i, Q, E);
            L.bo = b.optional_vector(TensorRole::AttnOutBias, i, E);
            cfg_.out_bias = cfg_.out_bias || !L.bo.empty();
            L.ffn_norm = b.vector(TensorRole::FfnNorm, i, E);
            if (b.has(TensorRole::FfnGate, i)) {
                L.w_gate = b.matrix(TensorRole::FfnGate, i, E, F);
                L.w_up = b.matrix(TensorRole::FfnUp, i, E, F);
            } else {
                // gate||up in one tensor: gate rows first.
                const TensorView gate_up = b.matrix(TensorRole::FfnUp, i, E, 2 * F);
                L.w_gate = gate_up.rows(0, F);
                L.w_up = gate_up.rows(F, F);
                cfg_.fused_gate_up = true;
            }
            L.w_down = b.matrix(TensorRole::FfnDown, i, F, E);
        }
    }
};

template <const Variant& V>
std::unique_ptr<ModelAdapter> make(const gguf::File& f) {
    return std::make_unique<LlamaFamily>(f, V);
}

}  // namespace

void register_llama_family() {
    register_adapter(kLlama.arch, make<kLlama>);
    register_adapter(kQwen2.arch, make<kQwen2>);
    register_adapter(kPhi3.arch, make<kPhi3>);
}

}  // namespace orcd
