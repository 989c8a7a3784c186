// The CUDA backend's implementation of the block-level Ops (engine/ops.h):
// each operation launches the kernels of kernels.h / matmul.h on the
// activation buffers, fused where the batch allows (decode: QKV in one
// launch, the residual add and the gate activation in the matvec
// epilogues, rope with the KV store, an RMSNorm in the staging of the
// products that read it). Everything it launches depends on the
// step only through device memory (the token ids and the position written by
// set_step), so a decode step's launches can be captured once as a graph.
#pragma once

#include "backend/cuda/matmul.h"
#include "backend/cuda/prefill_attention.h"
#include "engine/kv_cache.h"
#include "engine/model_config.h"
#include "engine/ops.h"

#include <cuda_runtime_api.h>

#include <cstdint>
#include <vector>

namespace orcd::cuda {

// Device pointers of the activation state and scratch the ops work on.
struct DeviceActivations {
    int32_t* tokens;   // [max_batch] ids of the batch
    uint32_t* step;    // the position of the batch's first row (set_step)
    float *x, *xb, *q, *k, *v, *att, *proj, *gate, *up, *xlast, *logits;
    float* moe_logits;  // [max_batch][n_expert] router logits
    int32_t* moe_ids;   // [max_batch][n_used] selected experts
    float* moe_weights; // [max_batch][n_used] their weights
    float* moe_act;     // [max_batch][n_used][n_ff_expert] expert activations (grouped in-format: F16)
    void* moe_units;    // the same rounded to 8 bits for the down product (MoeGateUpArgs::units)
    // A prompt's experts grouped by expert (moe_grouped): the (token, slot)
    // pairs sorted by expert, each pair's token, each pair's place in the
    // order, each grouped row's expert ([3][max_batch * n_used]); the
    // gathered input rows, later the experts' outputs
    // ([max_batch * n_used][n_embd]); the up products
    // ([max_batch * n_used][n_ff_expert]).
    int32_t* moe_order;
    float* moe_rows;
    float* moe_up;
    int32_t* moe_tiles;  // the tile table of the grouped rows (moe_sort)
    f16_bits* x16;     // activations rounded to F16 for the tensor-core GEMMs (a chunk's grouped expert rows fit)
    float* split_ws;   // flash-decoding partial results
    void* prefill_ws;  // prefill attention's S and P (null: plan off)
};

class CudaBlockOps final : public Ops {
public:
    // bases[id]: device address of file tensor id in the weight image.
    CudaBlockOps(const ModelConfig& cfg, const KvLayout& kv, f16_bits* cache, const DeviceActivations& act,
                 std::vector<const uint8_t*> bases, Gemm& gemm, const PrefillAttentionPlan& prefill);

    // The next forward pass: n rows of slot `seq` from position pos (the
    // kernels read the position from act.step; pos sizes the prefill
    // products), launched on `stream`.
    void begin(uint32_t n, uint32_t pos, uint32_t seq, cudaStream_t stream);

    void embed(const TensorView& tok_embd, const TensorView& pos_embd) override;
    void norm(const NormSpec& n) override;
    void qkv(const Linear& q, const Linear& k, const Linear& v) override;
    void rope_store_kv(uint32_t layer, const RopeConfig& rope) override;
    void attention(uint32_t layer, const AttentionSpec& a) override;
    void out_proj_add(const Linear& o) override;
    void ffn(const FfnSpec& f) override;
    void moe(const MoeSpec& m) override;
    void logits(const NormSpec& n, const Linear& out) override;

    // The device matrix of a view (its rows in the weight image).
    DeviceMatrix matrix(const TensorView& v) const;

private:
    const float* f32(const TensorView& v) const;
    // y = W x (+ b) for the batch's rows: matvec for one row, else GEMM.
    void linear(float* y, const float* x, const Linear& l);
    void norm_rows(float* out, const float* x, uint32_t rows, const NormSpec& n);
    // h (a_.xb) for the ops that read it: a norm() left for the next
    // product to apply (pending_) is applied now.
    const float* normed();
    // The pending norm for a matvec_qkv / matvec_swiglu to stage (null: h is
    // in a_.xb already); the norm counts as applied.
    const RowNorm* take_norm();
    // The selected experts of a prompt chunk as GEMMs, one per expert over
    // the rows routed to it (the expert kernels re-read an expert's weights
    // for every token that picked it).
    void moe_grouped(const MoeSpec& m);
    // Runs a rotation and cache store left for the attention.
    void flush_rope();
    // Expert e of a stacked [n_expert][rows][cols] tensor.
    DeviceMatrix expert(const TensorView& v, uint32_t e) const;
    // Bytes of a row of an expert stack in VRAM (formats.h: its layout).
    static uint64_t expert_row_bytes(const TensorView& v);

    ModelConfig cfg_;
    KvLayout kv_;
    f16_bits* cache_;
    DeviceActivations a_;
    std::vector<const uint8_t*> bases_;
    Gemm& gemm_;
    PrefillAttentionPlan prefill_;
    uint32_t n_ = 0, pos_ = 0, seq_ = 0;
    cudaStream_t s_ = nullptr;
    // A decode step's RMSNorm, not yet applied: the product after it (QKV,
    // gate and up) normalises x as it stages it, saving the norm's launch.
    bool pending_ = false;
    RowNorm pending_norm_{};
    // A single row's rotation and cache store, not yet done: the attention
    // after it does them in its own kernel (attention_rope_store), saving
    // rope_store_kv's launch.
    bool rope_pending_ = false;
    uint32_t rope_layer_ = 0;
    RopeConfig rope_{};
    std::vector<int32_t> ids_host_, order_host_;  // moe_grouped's sort
    std::vector<uint32_t> expert_start_;
};

}  // namespace orcd::cuda
