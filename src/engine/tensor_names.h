// The one table of GGUF tensor names. Adapters bind tensors by role; no
// other file spells a tensor name.
#pragma once

#include <cstdint>
#include <string>

namespace orcd {

enum class TensorRole : uint8_t {
    // Model-wide.
    TokEmbd, PosEmbd, OutputNorm, OutputNormBias, Output, OutputBias, RopeFactorsLong, RopeFactorsShort,
    // Per layer (blk.N.).
    AttnNorm, AttnNormBias, AttnQ, AttnQBias, AttnK, AttnKBias, AttnV, AttnVBias, AttnQkv, AttnQkvBias,
    AttnOut, AttnOutBias, AttnSinks, FfnNorm, FfnNormBias, PostAttnNorm, FfnGate, FfnGateBias, FfnUp,
    FfnUpBias, FfnDown, FfnDownBias, MoeRouter, MoeRouterBias, MoeGate, MoeGateBias, MoeUp, MoeUpBias, MoeDown,
    MoeDownBias,
};

// The GGUF name of a role: "token_embd.weight", or "blk.<layer>.attn_q.weight"
// for a per-layer role (layer must then be >= 0).
std::string tensor_name(TensorRole role, int layer = -1);
bool is_layer_role(TensorRole role);

}  // namespace orcd
