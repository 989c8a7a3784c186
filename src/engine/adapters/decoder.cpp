#include "engine/adapters/decoder.h"

namespace orcd {

void Decoder::forward(Ops& ops) const {
    const ModelConfig& c = cfg_;
    // Token embedding (+ learned positions).
    ops.embed(w_.tok_embd, w_.pos_embd);
    for (uint32_t l = 0; l < c.n_layer; ++l) {
        const LayerWeights& L = w_.layers[l];
        // Attention block: x += Wo attention(rope(Wq h), rope(Wk h), Wv h) + bo
        ops.norm({c.norm, c.norm_eps, L.attn_norm, L.attn_norm_b});
        ops.qkv({L.wq, L.bq}, {L.wk, L.bk}, {L.wv, L.bv});
        ops.rope_store_kv(l, c.rope);
        ops.attention(l, {c.attn_scale, c.window(l), L.sinks});
        ops.out_proj_add({L.wo, L.bo});
        // Feed-forward block: x += FFN(h), dense or a mixture of experts.
        ops.norm({c.norm, c.norm_eps, L.ffn_norm, L.ffn_norm_b});
        if (c.n_expert)
            ops.moe({c.n_expert_used, c.act, L.router, L.router_b, L.exp_gate, L.exp_gate_b, L.exp_up, L.exp_up_b,
                     L.exp_down, L.exp_down_b});
        else
            ops.ffn({c.act, L.w_gate, L.b_gate, L.w_up, L.b_up, L.w_down, L.b_down});
    }
    ops.logits({c.norm, c.norm_eps, w_.output_norm, w_.output_norm_b}, {w_.output, w_.output_b});
}

}  // namespace orcd
