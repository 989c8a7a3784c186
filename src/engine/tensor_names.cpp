#include "engine/tensor_names.h"

#include "common/error.h"

namespace orcd {

namespace {

struct Entry {
    TensorRole role;
    bool per_layer;
    const char* name;
};

constexpr Entry kNames[] = {
    {TensorRole::TokEmbd, false, "token_embd.weight"},
    {TensorRole::PosEmbd, false, "position_embd.weight"},
    {TensorRole::OutputNorm, false, "output_norm.weight"},
    {TensorRole::OutputNormBias, false, "output_norm.bias"},
    {TensorRole::Output, false, "output.weight"},
    {TensorRole::OutputBias, false, "output.bias"},
    {TensorRole::RopeFactorsLong, false, "rope_factors_long.weight"},
    {TensorRole::RopeFactorsShort, false, "rope_factors_short.weight"},
    {TensorRole::AttnNorm, true, "attn_norm.weight"},
    {TensorRole::AttnNormBias, true, "attn_norm.bias"},
    {TensorRole::AttnQ, true, "attn_q.weight"},
    {TensorRole::AttnQBias, true, "attn_q.bias"},
    {TensorRole::AttnK, true, "attn_k.weight"},
    {TensorRole::AttnKBias, true, "attn_k.bias"},
    {TensorRole::AttnV, true, "attn_v.weight"},
    {TensorRole::AttnVBias, true, "attn_v.bias"},
    {TensorRole::AttnQkv, true, "attn_qkv.weight"},
    {TensorRole::AttnQkvBias, true, "attn_qkv.bias"},
    {TensorRole::AttnOut, true, "attn_output.weight"},
    {TensorRole::AttnOutBias, true, "attn_output.bias"},
    {TensorRole::AttnSinks, true, "attn_sinks.weight"},
    {TensorRole::FfnNorm, true, "ffn_norm.weight"},
    {TensorRole::FfnNormBias, true, "ffn_norm.bias"},
    {TensorRole::PostAttnNorm, true, "post_attention_norm.weight"},
    {TensorRole::FfnGate, true, "ffn_gate.weight"},
    {TensorRole::FfnGateBias, true, "ffn_gate.bias"},
    {TensorRole::FfnUp, true, "ffn_up.weight"},
    {TensorRole::FfnUpBias, true, "ffn_up.bias"},
    {TensorRole::FfnDown, true, "ffn_down.weight"},
    {TensorRole::FfnDownBias, true, "ffn_down.bias"},
    {TensorRole::MoeRouter, true, "ffn_gate_inp.weight"},
    {TensorRole::MoeRouterBias, true, "ffn_gate_inp.bias"},
    {TensorRole::MoeGate, true, "ffn_gate_exps.weight"},
    {TensorRole::MoeGateBias, true, "ffn_gate_exps.bias"},
    {TensorRole::MoeUp, true, "ffn_up_exps.weight"},
    {TensorRole::MoeUpBias, true, "ffn_up_exps.bias"},
    {TensorRole::MoeDown, true, "ffn_down_exps.weight"},
    {TensorRole::MoeDownBias, true, "ffn_down_exps.bias"},
};

const Entry& entry(TensorRole role) {
    for (const Entry& e : kNames)
        if (e.role == role) return e;
    fail(ORCD_INTERNAL, "tensor role without a name");
}

}  // namespace

bool is_layer_role(TensorRole role) { return entry(role).per_layer; }

std::string tensor_name(TensorRole role, int layer) {
    const Entry& e = entry(role);
    if (!e.per_layer) return e.name;
    if (layer < 0) fail(ORCD_INTERNAL, std::string("tensor ") + e.name + " needs a layer index");
    return "blk." + std::to_string(layer) + "." + e.name;
}

}  // namespace orcd
