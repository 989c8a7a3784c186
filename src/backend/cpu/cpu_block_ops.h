// The CPU backend's implementation of the block-level Ops (engine/ops.h):
// each operation is a few calls of the reference functions of cpu_ops.h on
// the activation state, so the CPU forward pass is the reference.
#pragma once

#include "backend/cpu/cpu_ops.h"
#include "engine/kv_cache.h"
#include "engine/model_config.h"
#include "engine/ops.h"

#include <cstdint>
#include <vector>

namespace orcd::cpu {

class CpuBlockOps final : public Ops {
public:
    // `bases[id]` holds file tensor id's bytes (the backend's own copy).
    CpuBlockOps(const ModelConfig& cfg, const KvLayout& kv, uint32_t max_batch, std::vector<const uint8_t*> bases);

    // Sets the rows the next forward pass computes (already validated).
    void begin(const Batch& batch);

    void embed(const TensorView& tok_embd, const TensorView& pos_embd) override;
    void norm(const NormSpec& n) override;
    void qkv(const Linear& q, const Linear& k, const Linear& v) override;
    void rope_store_kv(uint32_t layer, const RopeConfig& rope) override;
    void attention(uint32_t layer, const AttentionSpec& a) override;
    void out_proj_add(const Linear& o) override;
    void ffn(const FfnSpec& f) override;
    void moe(const MoeSpec& m) override;
    void logits(const NormSpec& n, const Linear& out) override;

    const std::vector<float>& logits_out() const { return logits_; }
    std::vector<float>& kv_storage() { return kv_; }
    uint64_t activation_bytes() const;

private:
    // The view with its data pointing into the backend's copy.
    TensorView resolve(const TensorView& v) const;
    const float* f32(const TensorView& v) const;
    // out[t] = W in[t] (+ b) for the batch's rows.
    void linear(float* out, const float* in, const Linear& l, uint32_t n) const;
    void norm_row(float* out, const float* x, const NormSpec& n) const;
    // out = act(gate, up) over n elements (gate is overwritten).
    void activate(Activation act, float* gate, const float* up, uint64_t n) const;

    ModelConfig cfg_;
    KvLayout kv_layout_;
    std::vector<const uint8_t*> bases_;
    Batch batch_{};
    std::vector<float> kv_;
    std::vector<float> x_, h_, q_, k_, v_, att_, proj_, gate_, up_, logits_;
    std::vector<float> moe_acc_, router_;
};

}  // namespace orcd::cpu
