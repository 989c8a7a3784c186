#include "engine/weights.h"

#include "common/error.h"
#include "engine/model_config.h"

#include <map>
#include <set>
#include <string>

namespace orcd {

namespace {

using gguf::TensorType;

TensorView view(const gguf::TensorInfo& t) {
    TensorView v;
    v.type = t.type;
    v.ne0 = t.ne[0];
    v.ne1 = t.ne[1] * t.ne[2] * t.ne[3];
    v.data = t.data;
    v.n_bytes = t.n_bytes;
    v.name = t.name;
    return v;
}

struct Binder {
    const gguf::File& file;

    [[noreturn]] void bad(const std::string& name, const std::string& why) const {
        fail(ORCD_MODEL_LOAD_FAILED, "tensor '" + name + "': " + why);
    }

    TensorView matrix(const std::string& name, uint64_t ne0, uint64_t ne1) const {
        const gguf::TensorInfo* t = file.find_tensor(name);
        if (!t) fail(ORCD_MODEL_LOAD_FAILED, "required tensor '" + name + "' is missing");
        if (t->type != TensorType::F32 && t->type != TensorType::F16)
            bad(name, std::string("type ") + gguf::tensor_type_name(t->type) + " is not supported yet (F32, F16)");
        if (t->n_dims != 2 || t->ne[0] != ne0 || t->ne[1] != ne1)
            bad(name, "shape [" + std::to_string(t->ne[0]) + ", " + std::to_string(t->ne[1]) + "], expected [" +
                          std::to_string(ne0) + ", " + std::to_string(ne1) + "]");
        return view(*t);
    }

    TensorView vector(const std::string& name, uint64_t n) const {
        const gguf::TensorInfo* t = file.find_tensor(name);
        if (!t) fail(ORCD_MODEL_LOAD_FAILED, "required tensor '" + name + "' is missing");
        if (t->type != TensorType::F32) bad(name, "norm weights must be F32");
        if (t->n_elements != n) bad(name, std::to_string(t->n_elements) + " elements, expected " + std::to_string(n));
        return view(*t);
    }
};

}  // namespace

ModelWeights ModelWeights::bind(const gguf::File& file, const ModelConfig& c) {
    Binder b{file};
    ModelWeights w;
    const uint64_t q_dim = uint64_t(c.n_head) * c.head_dim, kv_dim = uint64_t(c.n_head_kv) * c.head_dim;
    w.tok_embd = b.matrix("token_embd.weight", c.n_embd, c.n_vocab);
    w.output_norm = b.vector("output_norm.weight", c.n_embd);
    if (file.find_tensor("output.weight")) {
        w.output = b.matrix("output.weight", c.n_embd, c.n_vocab);
    } else {
        w.output = w.tok_embd;  // tied embeddings
        w.output_tied = true;
    }
    w.layers.resize(c.n_layer);
    for (uint32_t l = 0; l < c.n_layer; ++l) {
        const std::string p = "blk." + std::to_string(l) + ".";
        LayerWeights& L = w.layers[l];
        L.attn_norm = b.vector(p + "attn_norm.weight", c.n_embd);
        L.wq = b.matrix(p + "attn_q.weight", c.n_embd, q_dim);
        L.wk = b.matrix(p + "attn_k.weight", c.n_embd, kv_dim);
        L.wv = b.matrix(p + "attn_v.weight", c.n_embd, kv_dim);
        L.wo = b.matrix(p + "attn_output.weight", q_dim, c.n_embd);
        L.ffn_norm = b.vector(p + "ffn_norm.weight", c.n_embd);
        L.w_gate = b.matrix(p + "ffn_gate.weight", c.n_embd, c.n_ff);
        L.w_up = b.matrix(p + "ffn_up.weight", c.n_embd, c.n_ff);
        L.w_down = b.matrix(p + "ffn_down.weight", c.n_ff, c.n_embd);
    }
    return w;
}

namespace {
template <typename F>
void for_each_tensor(const ModelWeights& w, F&& f) {
    f(w.tok_embd);
    f(w.output_norm);
    if (!w.output_tied) f(w.output);
    for (const LayerWeights& L : w.layers)
        for (const TensorView* t : {&L.attn_norm, &L.wq, &L.wk, &L.wv, &L.wo, &L.ffn_norm, &L.w_gate, &L.w_up, &L.w_down})
            f(*t);
}
}  // namespace

const char* ModelWeights::quant_kind() const {
    // The type holding the most matrix bytes names the model's format.
    std::map<gguf::TensorType, uint64_t> bytes;
    for (const LayerWeights& L : layers)
        for (const TensorView* t : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down}) bytes[t->type] += t->n_bytes;
    bytes[tok_embd.type] += tok_embd.n_bytes;
    gguf::TensorType best = gguf::TensorType::F32;
    uint64_t most = 0;
    for (auto [type, n] : bytes)
        if (n > most) most = n, best = type;
    return gguf::tensor_type_name(best);
}

uint64_t ModelWeights::total_bytes() const {
    uint64_t n = 0;
    for_each_tensor(*this, [&](const TensorView& t) { n += t.n_bytes; });
    return n;
}

}  // namespace orcd
