#include "backend/cuda/cuda_block_ops.h"

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/formats.h"
#include "backend/cuda/kernels.h"
#include "common/error.h"

namespace orcd::cuda {
namespace {

// From this many rows of a prompt chunk on, a mixture of experts runs
// grouped by expert (moe_grouped): each selected expert's weights are read
// once per tile of its rows instead of once per (token, slot), but a tile
// multiplies its full height (16 rows for a chunk this short) whatever its
// count. GPT-OSS-20B on an H200, prompts of 2 / 4 / 8 / 16 / 24 tokens:
// 7.4 / 8.6 / 10.0 / 11.1 / 11.9 ms grouped against 4.5 / 5.8 / 8.5 / 13.9 /
// 17.8 ms through the per-token expert kernels (about 0.68 ms a token more
// against the grouped path's 0.14): the two cross near 11 tokens.
constexpr uint32_t kGroupedExpertTokens = 12;

}  // namespace

CudaBlockOps::CudaBlockOps(const ModelConfig& cfg, const KvLayout& kv, f16_bits* cache, const DeviceActivations& act,
                           std::vector<const uint8_t*> bases, Gemm& gemm, const PrefillAttentionPlan& prefill)
    : cfg_(cfg), kv_(kv), cache_(cache), a_(act), bases_(std::move(bases)), gemm_(gemm), prefill_(prefill) {}

void CudaBlockOps::begin(uint32_t n, uint32_t pos, uint32_t seq, cudaStream_t stream) {
    pending_ = false;
    n_ = n;
    pos_ = pos;
    seq_ = seq;
    s_ = stream;
}

DeviceMatrix CudaBlockOps::matrix(const TensorView& v) const {
    return DeviceMatrix{v.type, v.ne0, v.ne1 * v.ne2, bases_.at(v.id) + v.offset};
}

const float* CudaBlockOps::f32(const TensorView& v) const {
    return v.empty() ? nullptr : reinterpret_cast<const float*>(bases_.at(v.id) + v.offset);
}

void CudaBlockOps::linear(float* y, const float* x, const Linear& l) {
    if (n_ == 1) {
        matvec(y, x, matrix(l.w), s_, f32(l.b));
        return;
    }
    gemm_.matmul(y, x, matrix(l.w), n_, a_.x16);
    if (!l.b.empty()) add_bias(y, f32(l.b), n_, l.w.ne1, s_);
}

void CudaBlockOps::norm_rows(float* out, const float* x, uint32_t rows, const NormSpec& n) {
    if (n.kind == NormKind::Rms)
        rmsnorm(out, x, f32(n.w), rows, cfg_.n_embd, n.eps, s_);
    else
        layernorm(out, x, f32(n.w), f32(n.b), rows, cfg_.n_embd, n.eps, s_);
}

void CudaBlockOps::embed(const TensorView& tok_embd, const TensorView& pos_embd) {
    normed();  // x is about to change
    embedding(a_.x, bases_.at(tok_embd.id) + tok_embd.offset, tok_embd.type, cfg_.n_embd, a_.tokens, n_, s_);
    if (!pos_embd.empty()) add_position_embedding(a_.x, f32(pos_embd), cfg_.n_embd, n_, 0, a_.step, s_);
}

void CudaBlockOps::norm(const NormSpec& n) {
    normed();
    if (n_ == 1 && n.kind == NormKind::Rms) {
        pending_ = true;
        pending_norm_ = RowNorm{f32(n.w), n.eps, a_.xb};
        return;
    }
    norm_rows(a_.xb, a_.x, n_, n);
}

const float* CudaBlockOps::normed() {
    if (pending_) {
        rmsnorm(a_.xb, a_.x, pending_norm_.w, 1, cfg_.n_embd, pending_norm_.eps, s_);
        pending_ = false;
    }
    return a_.xb;
}

const RowNorm* CudaBlockOps::take_norm() {
    if (!pending_) return nullptr;
    pending_ = false;
    return &pending_norm_;
}

void CudaBlockOps::qkv(const Linear& q, const Linear& k, const Linear& v) {
    if (n_ == 1) {
        const RowNorm* norm = take_norm();
        matvec_qkv(a_.q, a_.k, a_.v, norm ? a_.x : a_.xb, matrix(q.w), matrix(k.w), matrix(v.w), s_, f32(q.b),
                   f32(k.b), f32(v.b), norm);
        return;
    }
    const float* h = normed();
    linear(a_.q, h, q);
    linear(a_.k, h, k);
    linear(a_.v, h, v);
}

void CudaBlockOps::rope_store_kv(uint32_t layer, const RopeConfig& rope) {
    flush_rope();
    if (n_ == 1) {  // done by the attention that follows
        rope_pending_ = true;
        rope_layer_ = layer;
        rope_ = rope;
        return;
    }
    cuda::rope_store_kv(a_.q, a_.k, a_.v, cache_, kv_, layer, seq_, n_, cfg_.n_head, rope, 0, s_, a_.step);
}

void CudaBlockOps::flush_rope() {
    if (!rope_pending_) return;
    rope_pending_ = false;
    cuda::rope_store_kv(a_.q, a_.k, a_.v, cache_, kv_, rope_layer_, seq_, n_, cfg_.n_head, rope_, 0, s_, a_.step);
}

void CudaBlockOps::attention(uint32_t layer, const AttentionSpec& spec) {
    f16_bits* kc = cache_ + kv_.offset(layer, 0, seq_, 0);
    f16_bits* vc = cache_ + kv_.offset(layer, 1, seq_, 0);
    const AttentionParams params{spec.scale, spec.window, f32(spec.sinks)};
    if (rope_pending_ && rope_layer_ == layer) {
        rope_pending_ = false;
        if (attention_rope_store(a_.att, a_.q, a_.k, a_.v, kc, vc, cfg_.n_head, cfg_.n_head_kv, cfg_.head_dim,
                                 a_.split_ws, s_, a_.step, kv_.n_ctx, params, rope_))
            return;
        rope_pending_ = true;
    }
    flush_rope();
    // A prompt chunk: tensor-core products (prefill_attention.h); the
    // kernel when the plan is off (a context so large that one query row's
    // scores exceed the cap) or the chunk is too small for the products to
    // pay off.
    if (prefill_attention_pays_off(prefill_, n_, pos_))
        prefill_attention(gemm_, prefill_, a_.prefill_ws, a_.att, a_.q, kc, vc, n_, pos_, params);
    else
        cuda::attention(a_.att, a_.q, kc, vc, n_, 0, cfg_.n_head, cfg_.n_head_kv, cfg_.head_dim, a_.split_ws, s_,
                        a_.step, kv_.n_ctx, params);
}

void CudaBlockOps::out_proj_add(const Linear& o) {
    normed();  // x is about to change
    // Batch 1 fuses the residual add into the product (same bits as the
    // separate kernels, fewer launches and passes).
    if (n_ == 1) {
        matvec_add(a_.x, a_.att, matrix(o.w), s_, f32(o.b));
        return;
    }
    linear(a_.proj, a_.att, o);
    add_inplace(a_.x, a_.proj, uint64_t(n_) * cfg_.n_embd, s_);
}

void CudaBlockOps::ffn(const FfnSpec& f) {
    const uint64_t F = f.w_up.ne1;
    if (f.act == Activation::Gelu) {
        linear(a_.up, normed(), {f.w_up, f.b_up});
        gelu(a_.gate, a_.up, uint64_t(n_) * F, s_);
    } else if (n_ == 1 && f.w_gate.type == f.w_up.type && f.w_gate.ne1 == f.w_up.ne1) {
        // Both products and the gate activation in one launch.
        const RowNorm* norm = take_norm();
        matvec_swiglu(a_.gate, norm ? a_.x : a_.xb, matrix(f.w_gate), matrix(f.w_up), s_, f32(f.b_gate), f32(f.b_up),
                      f.act == Activation::SwiGlu ? GateAct::Silu : GateAct::SiluOai, norm);
    } else {
        const float* h = normed();
        linear(a_.gate, h, {f.w_gate, f.b_gate});
        linear(a_.up, h, {f.w_up, f.b_up});
        if (f.act == Activation::SwiGlu)
            swiglu(a_.gate, a_.gate, a_.up, uint64_t(n_) * F, s_);
        else
            swiglu_oai(a_.gate, a_.gate, a_.up, uint64_t(n_) * F, s_);
    }
    if (n_ == 1) {
        matvec_add(a_.x, a_.gate, matrix(f.w_down), s_, f32(f.b_down));
        return;
    }
    linear(a_.proj, a_.gate, {f.w_down, f.b_down});
    add_inplace(a_.x, a_.proj, uint64_t(n_) * cfg_.n_embd, s_);
}

void CudaBlockOps::moe(const MoeSpec& m) {
    normed();  // the router and the experts read h
    // Router logits, the selection (on the device: nothing comes back to the
    // host, so a decode step stays one graph), then the selected experts'
    // rows only: gate and up with the activation, down with the weighted
    // sum and the residual add.
    const uint32_t n_expert = uint32_t(m.router.ne1), F = uint32_t(m.up.ne1), E = cfg_.n_embd;
    linear(a_.moe_logits, a_.xb, {m.router, m.router_b});
    moe_route(a_.moe_logits, n_expert, m.n_used, a_.moe_ids, a_.moe_weights, n_, s_);
    if (n_ >= kGroupedExpertTokens) {
        moe_grouped(m);
        return;
    }
    const Format* gate_fmt = layout_of(m.gate.type, true);
    const Format* down_fmt = layout_of(m.down.type, true);
    if (!gate_fmt || !gate_fmt->moe_gate_up || m.up.type != m.gate.type || !down_fmt || !down_fmt->moe_down)
        fail(ORCD_INTERNAL, "CUDA backend: experts in a format without expert kernels");
    // A down product against 8-bit activations takes them rounded once by
    // the gate/up product where that product can (MoeGateUpArgs::units).
    const MoeGateUpArgs gu{matrix(m.gate).data,
                           matrix(m.up).data,
                           f32(m.gate_b),
                           f32(m.up_b),
                           m.gate.ne1 * expert_row_bytes(m.gate),
                           a_.xb,
                           a_.moe_ids,
                           a_.moe_act,
                           F,
                           E,
                           m.n_used,
                           n_,
                           m.act == Activation::SwiGlu ? GateAct::Silu : GateAct::SiluOai,
                           down_fmt->q8_activations ? a_.moe_units : nullptr,
                           true};  // h: the router's product and the routing launch in between
    const bool rounded = gate_fmt->moe_gate_up(gu, s_);
    check_launch("moe_gate_up");
    const MoeDownArgs dn{matrix(m.down).data, f32(m.down_b), m.down.ne1 * expert_row_bytes(m.down), a_.moe_act,
                         a_.moe_ids,          a_.moe_weights, a_.x,                          E,
                         F,                   m.n_used,       n_,                            rounded ? a_.moe_units : nullptr};
    down_fmt->moe_down(dn, s_);
    check_launch("moe_down");
}

DeviceMatrix CudaBlockOps::expert(const TensorView& v, uint32_t e) const {
    return DeviceMatrix{v.type, v.ne0, v.ne1, bases_.at(v.id) + v.offset + uint64_t(e) * v.ne1 * expert_row_bytes(v),
                        true};
}

uint64_t CudaBlockOps::expert_row_bytes(const TensorView& v) { return device_row_bytes(v.type, true, v.ne0); }

void CudaBlockOps::moe_grouped(const MoeSpec& m) {
    const uint32_t K = m.n_used, P = n_ * K, X = uint32_t(m.router.ne1);
    const uint32_t F = uint32_t(m.up.ne1), E = cfg_.n_embd;
    const Format* gate_fmt = layout_of(m.gate.type, true);
    const Format* down_fmt = layout_of(m.down.type, true);
    if (gate_fmt && gate_fmt->moe_grouped && m.up.type == m.gate.type && down_fmt && down_fmt->moe_grouped) {
        // Grouped on the device and multiplied in the weights' own format:
        // no round trip, four launches. h in F16 (the rows each expert
        // reads), gate and up with their biases and the activation (stored
        // in F16 in moe_act, the down product's input), down with its
        // bias into moe_rows, then the weighted sum per token.
        const uint32_t tile_rows = moe_tile_rows(P, X), tiles = moe_max_tiles(P, X, tile_rows);
        moe_sort(a_.moe_ids, P, K, X, tile_rows, a_.moe_order, a_.moe_tiles, s_);
        to_f16(a_.x16, a_.xb, uint64_t(n_) * E, s_);
        f16_bits* act16 = reinterpret_cast<f16_bits*>(a_.moe_act);
        const MoeGroupedArgs gu{.w = matrix(m.gate).data,
                                .w_up = matrix(m.up).data,
                                .bias = f32(m.gate_b),
                                .bias_up = f32(m.up_b),
                                .expert_bytes = m.gate.ne1 * expert_row_bytes(m.gate),
                                .x = a_.x16,
                                .x_row = a_.moe_order,  // the token of each grouped row
                                .tiles = a_.moe_tiles,
                                .max_tiles = tiles,
                                .tile_rows = tile_rows,
                                .y16 = act16,
                                .rows = F,
                                .cols = E,
                                .act = m.act == Activation::SwiGlu ? GateAct::Silu : GateAct::SiluOai};
        gate_fmt->moe_grouped(gu, s_);
        const MoeGroupedArgs dn{.w = matrix(m.down).data,
                                .bias = f32(m.down_b),
                                .expert_bytes = m.down.ne1 * expert_row_bytes(m.down),
                                .x = act16,
                                .tiles = a_.moe_tiles,
                                .max_tiles = tiles,
                                .tile_rows = tile_rows,
                                .y = a_.moe_rows,
                                .rows = E,
                                .cols = F};
        down_fmt->moe_grouped(dn, s_);
        moe_combine(a_.x, a_.moe_rows, a_.moe_order + P, a_.moe_weights, n_, K, E, s_);
        return;
    }
    // Other formats: the selection comes back to the host (a prompt chunk is
    // never part of the decode graph), is sorted by expert (stable: within an
    // expert in token order), and each expert multiplies its rows as one
    // GEMM. The outputs are combined per token in selection order, as the
    // expert kernels do. Which tokens share an expert changes a GEMM's shape,
    // not the result's determinism: the same prompt gives the same bits.
    //
    // A chunk is bound by the host's launches (about 400 a layer when each
    // expert's GEMM rounded its own rows to F16 and added its own bias), so
    // the grouped rows are rounded to F16 once for gate and up and once for
    // down, and each bias is one launch over all experts: the same values,
    // about half the launches.
    ids_host_.resize(P);
    ORCD_CUDA_CHECK(cudaMemcpyAsync(ids_host_.data(), a_.moe_ids, uint64_t(P) * 4, cudaMemcpyDeviceToHost, s_));
    ORCD_CUDA_CHECK(cudaStreamSynchronize(s_));
    expert_start_.assign(X + 1, 0);
    for (int32_t e : ids_host_) {
        if (e < 0 || uint32_t(e) >= X) fail(ORCD_INTERNAL, "CUDA backend: expert id out of range");
        ++expert_start_[uint32_t(e) + 1];
    }
    for (uint32_t e = 0; e < X; ++e) expert_start_[e + 1] += expert_start_[e];
    // order_host_: [0, P) the token of each grouped row, [P, 2P) the grouped
    // row of each (token, slot), [2P, 3P) the expert of each grouped row.
    order_host_.resize(3 * uint64_t(P));
    std::vector<uint32_t> cursor(expert_start_.begin(), expert_start_.end() - 1);
    for (uint32_t p = 0; p < P; ++p) {
        const uint32_t q = cursor[uint32_t(ids_host_[p])]++;
        order_host_[q] = int32_t(p / K);
        order_host_[P + p] = int32_t(q);
        order_host_[2 * uint64_t(P) + q] = ids_host_[p];
    }
    // Pageable source: the call returns once the bytes are staged, so the
    // vector may change afterwards.
    ORCD_CUDA_CHECK(cudaMemcpyAsync(a_.moe_order, order_host_.data(), order_host_.size() * 4, cudaMemcpyHostToDevice, s_));
    const int32_t* row_expert = a_.moe_order + 2 * uint64_t(P);
    moe_gather(a_.moe_rows, a_.xb, a_.moe_order, P, E, s_);
    // Each expert's GEMM over its rows [r0, r0 + c) of x (F32) or of x16, the
    // same rows rounded to F16 (F32 weights take F32 rows); `rounded`: x16
    // holds them already.
    auto products = [&](float* y, uint32_t y_cols, const float* x, uint32_t x_cols, const TensorView& w,
                        bool rounded) {
        const bool f16x = w.type != gguf::TensorType::F32;
        if (f16x && !rounded) to_f16(a_.x16, x, uint64_t(P) * x_cols, s_);
        for (uint32_t e = 0; e < X; ++e) {
            const uint32_t r0 = expert_start_[e], c = expert_start_[e + 1] - r0;
            if (c == 0) continue;
            if (f16x)
                gemm_.gemm_f16x(y + uint64_t(r0) * y_cols, a_.x16 + uint64_t(r0) * x_cols, expert(w, e), c);
            else
                gemm_.gemm(y + uint64_t(r0) * y_cols, x + uint64_t(r0) * x_cols, expert(w, e), c, a_.x16);
        }
    };
    products(a_.moe_act, F, a_.moe_rows, E, m.gate, false);
    if (const float* bg = f32(m.gate_b)) moe_add_bias(a_.moe_act, bg, row_expert, P, F, s_);
    // Up reads the rows gate rounded, when gate rounded them.
    products(a_.moe_up, F, a_.moe_rows, E, m.up, m.gate.type != gguf::TensorType::F32);
    if (const float* bu = f32(m.up_b)) moe_add_bias(a_.moe_up, bu, row_expert, P, F, s_);
    if (m.act == Activation::SwiGlu)
        swiglu(a_.moe_act, a_.moe_act, a_.moe_up, uint64_t(P) * F, s_);
    else
        swiglu_oai(a_.moe_act, a_.moe_act, a_.moe_up, uint64_t(P) * F, s_);
    // The gathered inputs are dead: their rows take the experts' outputs.
    products(a_.moe_rows, E, a_.moe_act, F, m.down, false);
    if (const float* bd = f32(m.down_b)) moe_add_bias(a_.moe_rows, bd, row_expert, P, E, s_);
    moe_combine(a_.x, a_.moe_rows, a_.moe_order + P, a_.moe_weights, n_, K, E, s_);
}

void CudaBlockOps::logits(const NormSpec& n, const Linear& out) {
    norm_rows(a_.xlast, a_.x + uint64_t(n_ - 1) * cfg_.n_embd, 1, n);
    matvec(a_.logits, a_.xlast, matrix(out.w), s_, f32(out.b));
}

}  // namespace orcd::cuda
