#include "backend/cpu/cpu_block_ops.h"

#include "common/error.h"

#include <algorithm>
#include <cstring>

namespace orcd::cpu {

CpuBlockOps::CpuBlockOps(const ModelConfig& cfg, const KvLayout& kv, uint32_t max_batch,
                         std::vector<const uint8_t*> bases)
    : cfg_(cfg), kv_layout_(kv), bases_(std::move(bases)) {
    const uint64_t B = max_batch, E = cfg.n_embd, Q = cfg.q_dim(), KV = cfg.kv_dim();
    const uint64_t F = std::max(cfg.n_ff, cfg.n_ff_expert);
    kv_.assign(kv.total_elems(), 0.0f);
    x_.resize(B * E);
    h_.resize(B * E);
    q_.resize(B * Q);
    k_.resize(B * KV);
    v_.resize(B * KV);
    att_.resize(B * Q);
    proj_.resize(B * std::max(E, Q));
    gate_.resize(B * F);
    up_.resize(B * F);
    logits_.resize(cfg.n_vocab);
    if (cfg.n_expert) {
        moe_acc_.resize(E);
        router_.resize(cfg.n_expert);
    }
}

uint64_t CpuBlockOps::activation_bytes() const {
    uint64_t n = 0;
    for (const std::vector<float>* v : {&x_, &h_, &q_, &k_, &v_, &att_, &proj_, &gate_, &up_, &logits_, &moe_acc_, &router_})
        n += v->size();
    return n * sizeof(float);
}

void CpuBlockOps::begin(const Batch& batch) { batch_ = batch; }

TensorView CpuBlockOps::resolve(const TensorView& v) const {
    TensorView r = v;
    r.data = bases_.at(v.id) + v.offset;
    return r;
}

const float* CpuBlockOps::f32(const TensorView& v) const {
    return v.empty() ? nullptr : reinterpret_cast<const float*>(bases_.at(v.id) + v.offset);
}

void CpuBlockOps::linear(float* out, const float* in, const Linear& l, uint32_t n) const {
    matmul(out, in, resolve(l.w), n);
    if (!l.b.empty()) add_bias(out, f32(l.b), n, l.w.ne1);
}

void CpuBlockOps::norm_row(float* out, const float* x, const NormSpec& n) const {
    if (n.kind == NormKind::Rms)
        rmsnorm(out, x, f32(n.w), cfg_.n_embd, n.eps);
    else
        layernorm(out, x, f32(n.w), f32(n.b), cfg_.n_embd, n.eps);
}

void CpuBlockOps::activate(Activation act, float* gate, const float* up, uint64_t n) const {
    switch (act) {
        case Activation::SwiGlu: swiglu(gate, gate, up, n); break;
        case Activation::SwiGluOai: swiglu_oai(gate, gate, up, n); break;
        case Activation::Gelu: gelu(gate, up, n); break;
    }
}

void CpuBlockOps::embed(const TensorView& tok_embd, const TensorView& pos_embd) {
    const uint32_t E = cfg_.n_embd;
    const TensorView tok = resolve(tok_embd);
    std::vector<float> row(pos_embd.empty() ? 0 : E);
    for (uint32_t t = 0; t < batch_.size(); ++t) {
        get_row(&x_[uint64_t(t) * E], tok, uint64_t(batch_.tokens[t]));
        if (!pos_embd.empty()) {
            get_row(row.data(), resolve(pos_embd), batch_.pos[t]);
            add_inplace(&x_[uint64_t(t) * E], row.data(), E);
        }
    }
}

void CpuBlockOps::norm(const NormSpec& n) {
    const uint32_t E = cfg_.n_embd;
    for (uint32_t t = 0; t < batch_.size(); ++t) norm_row(&h_[uint64_t(t) * E], &x_[uint64_t(t) * E], n);
}

void CpuBlockOps::qkv(const Linear& q, const Linear& k, const Linear& v) {
    const uint32_t n = batch_.size();
    linear(q_.data(), h_.data(), q, n);
    linear(k_.data(), h_.data(), k, n);
    linear(v_.data(), h_.data(), v, n);
}

void CpuBlockOps::rope_store_kv(uint32_t layer, const RopeConfig& r) {
    const uint64_t Q = cfg_.q_dim(), KV = cfg_.kv_dim();
    for (uint32_t t = 0; t < batch_.size(); ++t) {
        float* qt = &q_[t * Q];
        float* kt = &k_[t * KV];
        rope(qt, cfg_.n_head, cfg_.head_dim, batch_.pos[t], r);
        rope(kt, cfg_.n_head_kv, cfg_.head_dim, batch_.pos[t], r);
        std::memcpy(&kv_[kv_layout_.offset(layer, 0, batch_.seq[t], batch_.pos[t])], kt, KV * sizeof(float));
        std::memcpy(&kv_[kv_layout_.offset(layer, 1, batch_.seq[t], batch_.pos[t])], &v_[t * KV], KV * sizeof(float));
    }
}

void CpuBlockOps::attention(uint32_t layer, const AttentionSpec& a) {
    const AttentionShape shape{cfg_.n_head, cfg_.n_head_kv, cfg_.head_dim, a.scale, a.window, f32(a.sinks)};
    const uint64_t Q = cfg_.q_dim();
    const uint32_t n = batch_.size();
    const bool parallel = uint64_t(n) * cfg_.n_head * (batch_.pos[n - 1] + 1) * cfg_.head_dim >= (1u << 18);
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t t = 0; t < int64_t(n); ++t) {
        const uint32_t s = batch_.seq[t];
        attention_row(&att_[uint64_t(t) * Q], &q_[uint64_t(t) * Q], &kv_[kv_layout_.offset(layer, 0, s, 0)],
                      &kv_[kv_layout_.offset(layer, 1, s, 0)], batch_.pos[t], shape);
    }
}

void CpuBlockOps::out_proj_add(const Linear& o) {
    const uint32_t n = batch_.size();
    linear(proj_.data(), att_.data(), o, n);
    add_inplace(x_.data(), proj_.data(), uint64_t(n) * cfg_.n_embd);
}

void CpuBlockOps::ffn(const FfnSpec& f) {
    const uint32_t n = batch_.size();
    const uint64_t F = f.w_up.ne1;
    if (f.act == Activation::Gelu) {
        linear(up_.data(), h_.data(), {f.w_up, f.b_up}, n);
        gelu(gate_.data(), up_.data(), uint64_t(n) * F);
    } else {
        linear(gate_.data(), h_.data(), {f.w_gate, f.b_gate}, n);
        linear(up_.data(), h_.data(), {f.w_up, f.b_up}, n);
        activate(f.act, gate_.data(), up_.data(), uint64_t(n) * F);
    }
    linear(proj_.data(), gate_.data(), {f.w_down, f.b_down}, n);
    add_inplace(x_.data(), proj_.data(), uint64_t(n) * cfg_.n_embd);
}

void CpuBlockOps::moe(const MoeSpec& m) {
    const uint32_t E = cfg_.n_embd;
    const uint64_t F = m.up.ne1;
    std::vector<int32_t> ids(m.n_used);
    std::vector<float> weights(m.n_used);
    for (uint32_t t = 0; t < batch_.size(); ++t) {
        const float* ht = &h_[uint64_t(t) * E];
        linear(router_.data(), ht, {m.router, m.router_b}, 1);
        top_k_softmax(router_.data(), uint32_t(router_.size()), m.n_used, ids.data(), weights.data());
        // Expert outputs are weighted, then added in selection order.
        for (uint32_t j = 0; j < m.n_used; ++j) {
            const uint64_t e = uint64_t(ids[j]);
            auto bias_row = [&](const TensorView& b) { return b.empty() ? b : b.rows(e, 1); };
            const TensorView gb = bias_row(m.gate_b), ub = bias_row(m.up_b), db = bias_row(m.down_b);
            const TensorView g = m.gate.expert(e), u = m.up.expert(e), d = m.down.expert(e);
            linear(gate_.data(), ht, {g, gb}, 1);
            linear(up_.data(), ht, {u, ub}, 1);
            activate(m.act, gate_.data(), up_.data(), F);
            linear(proj_.data(), gate_.data(), {d, db}, 1);
            for (uint32_t i = 0; i < E; ++i) {
                const float y = weights[j] * proj_[i];
                moe_acc_[i] = j == 0 ? y : moe_acc_[i] + y;
            }
        }
        add_inplace(&x_[uint64_t(t) * E], moe_acc_.data(), E);
    }
}

void CpuBlockOps::logits(const NormSpec& n, const Linear& out) {
    // Only the last row's logits are needed to sample the next token.
    const uint32_t E = cfg_.n_embd;
    norm_row(h_.data(), &x_[uint64_t(batch_.size() - 1) * E], n);
    linear(logits_.data(), h_.data(), out, 1);
}

}  // namespace orcd::cpu
