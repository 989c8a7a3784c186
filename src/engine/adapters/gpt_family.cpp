// The GPT family, on the Decoder's forward pass (decoder.cpp):
//   gpt2     GPT-2: LayerNorm with biases, learned positions (no rope),
//            fused QKV with bias, GELU (tanh) FFN with biases, tied output
//   gpt-oss  GPT-OSS: RMSNorm, Q/K/V/O biases, attention sinks, sliding
//            window on even layers, NEOX rope with YaRN, a mixture of
//            experts (top-k of raw router logits, softmax over the selected,
//            clamped SwiGLU with per-expert biases); post_attention_norm is
//            the norm before the experts
#include "common/error.h"
#include "engine/adapter.h"
#include "engine/adapters/builtin.h"
#include "engine/adapters/decoder.h"
#include "gguf/gguf.h"

#include <string>

namespace orcd {

namespace {

class Gpt2 final : public Decoder {
public:
    explicit Gpt2(const gguf::File& f) {
        ModelConfig& c = cfg_;
        read_common_hparams(f, c);
        c.rope.mode = RopeMode::None;
        c.norm = NormKind::Layer;
        c.norm_eps = float(f.get_float("gpt2.attention.layer_norm_epsilon"));
        c.act = Activation::Gelu;
        c.learned_pos = true;
        if (c.n_ff == 0) fail(ORCD_MODEL_LOAD_FAILED, "gpt2.feed_forward_length is missing or zero");
        bind(f);
    }

private:
    void bind(const gguf::File& f) {
        WeightBinder b(f, w_);
        const ModelConfig& c = cfg_;
        const uint64_t E = c.n_embd, V = c.n_vocab, Q = c.q_dim(), KV = c.kv_dim(), F = c.n_ff;
        w_.tok_embd = b.matrix(TensorRole::TokEmbd, -1, E, V);
        w_.pos_embd = b.matrix(TensorRole::PosEmbd, -1, E, c.n_ctx_train);
        if (w_.pos_embd.type != gguf::TensorType::F32)
            fail(ORCD_MODEL_LOAD_FAILED, "tensor 'position_embd.weight' must be F32");
        w_.output_norm = b.vector(TensorRole::OutputNorm, -1, E);
        w_.output_norm_b = b.vector(TensorRole::OutputNormBias, -1, E);
        if (b.has(TensorRole::Output)) {
            w_.output = b.matrix(TensorRole::Output, -1, E, V);
        } else {
            w_.output = w_.tok_embd;
            cfg_.tied_output = true;
        }
        w_.layers.resize(c.n_layer);
        for (uint32_t l = 0; l < c.n_layer; ++l) {
            const int i = int(l);
            LayerWeights& L = w_.layers[l];
            L.attn_norm = b.vector(TensorRole::AttnNorm, i, E);
            L.attn_norm_b = b.vector(TensorRole::AttnNormBias, i, E);
            const TensorView qkv = b.matrix(TensorRole::AttnQkv, i, E, Q + 2 * KV);
            const TensorView qkv_b = b.vector(TensorRole::AttnQkvBias, i, Q + 2 * KV);
            L.wq = qkv.rows(0, Q);
            L.wk = qkv.rows(Q, KV);
            L.wv = qkv.rows(Q + KV, KV);
            L.bq = qkv_b.elements(0, Q);
            L.bk = qkv_b.elements(Q, KV);
            L.bv = qkv_b.elements(Q + KV, KV);
            L.wo = b.matrix(TensorRole::AttnOut, i, Q, E);
            L.bo = b.vector(TensorRole::AttnOutBias, i, E);
            L.ffn_norm = b.vector(TensorRole::FfnNorm, i, E);
            L.ffn_norm_b = b.vector(TensorRole::FfnNormBias, i, E);
            L.w_up = b.matrix(TensorRole::FfnUp, i, E, F);
            L.b_up = b.vector(TensorRole::FfnUpBias, i, F);
            L.w_down = b.matrix(TensorRole::FfnDown, i, F, E);
            L.b_down = b.vector(TensorRole::FfnDownBias, i, E);
        }
        cfg_.fused_qkv = cfg_.qkv_bias = cfg_.out_bias = cfg_.ffn_bias = true;
    }
};

class GptOss final : public Decoder {
public:
    explicit GptOss(const gguf::File& f) {
        ModelConfig& c = cfg_;
        const std::string a = "gpt-oss.";
        read_common_hparams(f, c);
        c.rope.mode = RopeMode::Neox;
        read_rope_scaling(f, c);
        c.norm = NormKind::Rms;
        c.norm_eps = float(f.get_float(a + "attention.layer_norm_rms_epsilon"));
        c.act = Activation::SwiGluOai;
        c.n_ff_expert = f.get_u32(a + "expert_feed_forward_length");
        if (c.n_expert == 0) fail(ORCD_MODEL_LOAD_FAILED, "gpt-oss.expert_count is missing or zero");
        // Sliding-window attention on every other layer, starting with layer 0
        // (the pattern of 2 the reference implementation hard-wires).
        const uint32_t window = f.get_u32(a + "attention.sliding_window");
        const uint32_t pattern = f.try_u32(a + "attention.sliding_window_pattern").value_or(2);
        if (pattern == 0) fail(ORCD_MODEL_LOAD_FAILED, "gpt-oss.attention.sliding_window_pattern is zero");
        for (uint32_t l = 0; l < c.n_layer; ++l) c.layer_window[l] = l % pattern < pattern - 1 ? window : 0;
        c.attn_sinks = c.qkv_bias = c.out_bias = c.ffn_bias = true;
        bind(f);
    }

private:
    void bind(const gguf::File& f) {
        WeightBinder b(f, w_);
        const ModelConfig& c = cfg_;
        const uint64_t E = c.n_embd, V = c.n_vocab, Q = c.q_dim(), KV = c.kv_dim(), F = c.n_ff_expert, X = c.n_expert;
        w_.tok_embd = b.matrix(TensorRole::TokEmbd, -1, E, V);
        w_.output_norm = b.vector(TensorRole::OutputNorm, -1, E);
        w_.output = b.matrix(TensorRole::Output, -1, E, V);
        w_.layers.resize(c.n_layer);
        for (uint32_t l = 0; l < c.n_layer; ++l) {
            const int i = int(l);
            LayerWeights& L = w_.layers[l];
            L.attn_norm = b.vector(TensorRole::AttnNorm, i, E);
            L.wq = b.matrix(TensorRole::AttnQ, i, E, Q);
            L.bq = b.vector(TensorRole::AttnQBias, i, Q);
            L.wk = b.matrix(TensorRole::AttnK, i, E, KV);
            L.bk = b.vector(TensorRole::AttnKBias, i, KV);
            L.wv = b.matrix(TensorRole::AttnV, i, E, KV);
            L.bv = b.vector(TensorRole::AttnVBias, i, KV);
            L.wo = b.matrix(TensorRole::AttnOut, i, Q, E);
            L.bo = b.vector(TensorRole::AttnOutBias, i, E);
            L.sinks = b.vector(TensorRole::AttnSinks, i, c.n_head);
            L.ffn_norm = b.vector(TensorRole::PostAttnNorm, i, E);
            L.router = b.matrix(TensorRole::MoeRouter, i, E, X);
            L.router_b = b.vector(TensorRole::MoeRouterBias, i, X);
            L.exp_gate = b.experts(TensorRole::MoeGate, i, E, F, X);
            L.exp_gate_b = b.vector(TensorRole::MoeGateBias, i, F, X);
            L.exp_up = b.experts(TensorRole::MoeUp, i, E, F, X);
            L.exp_up_b = b.vector(TensorRole::MoeUpBias, i, F, X);
            L.exp_down = b.experts(TensorRole::MoeDown, i, F, E, X);
            L.exp_down_b = b.vector(TensorRole::MoeDownBias, i, E, X);
        }
    }
};

template <class A>
std::unique_ptr<ModelAdapter> make(const gguf::File& f) {
    return std::make_unique<A>(f);
}

}  // namespace

void register_gpt_family() {
    register_adapter("gpt2", make<Gpt2>);
    register_adapter("gpt-oss", make<GptOss>);
}

}  // namespace orcd
