// The production backend: a model in VRAM in its file's weight formats, the
// adapter's forward pass over CudaBlockOps (CUDA kernels and cuBLAS),
// sampling on the device. It mirrors the CPU reference backend op by op
// (backend/cpu), with an F16 KV cache.
#pragma once

#include "backend/cuda/cuda_block_ops.h"
#include "backend/cuda/cuda_context.h"
#include "backend/cuda/device_memory.h"
#include "backend/cuda/logprobs.h"
#include "backend/cuda/matmul.h"
#include "backend/cuda/prefill_attention.h"
#include "backend/cuda/sampling.h"
#include "backend/cuda/weight_upload.h"
#include "engine/backend.h"

#include <memory>
#include <string>
#include <vector>

namespace orcd::cuda {

// What a model needs on the device, computed before anything is allocated.
// Each allocation is counted rounded up to the driver's 2 MiB granularity.
struct VramBudget {
    uint64_t weights = 0, kv_cache = 0, activations = 0, workspace = 0, sampling = 0;
    uint64_t total() const { return weights + kv_cache + activations + workspace + sampling; }
    std::string describe() const;  // "weights=... kv_cache=... ..."
};

// One device allocation of a loaded model. plan() and load() read the same
// list (allocations()), so the budget checked before loading is what load
// then takes.
enum class Buffer { Weights, KvCache, Activations, X16, SplitWs, GemmWorkspace, DequantWs, PrefillWs, Sampler };
struct Allocation {
    Buffer what;
    MemCategory category;
    uint64_t bytes;
};

class CudaBackend final : public Backend {
public:
    explicit CudaBackend(std::shared_ptr<CudaContext> ctx);
    ~CudaBackend() override;

    uint32_t kv_elem_bytes() const override { return 2; }  // F16 cache
    void load(const ModelAdapter& adapter, const KvLayout& kv, uint32_t max_batch, const LoadOptions& opt) override;
    void forward(const Batch& batch) override;
    using Backend::forward;
    void read_logits(std::span<float> out) override;
    // On the device (GpuLogprobs): n + 1 values read back, not the row.
    TokenLogprob logprobs(int32_t chosen, size_t n, std::vector<TokenLogprob>& top) override;
    int32_t sample(const SamplingConfig& cfg, std::span<const int32_t> history, uint64_t seed,
                   uint64_t step) override;
    int32_t sample_then_step(const SamplingConfig& cfg, std::span<const int32_t> history, uint64_t seed,
                             uint64_t step, uint32_t next_pos) override;
    void begin_job() override;
    bool check_residency() override;
    MemoryStats memory_stats() const override;
    uint64_t weight_bytes() const override { return image_bytes_; }
    uint64_t kv_bytes() const override { return kv_layout_.total_bytes(); }
    void* native_stream() const override { return ctx_ ? static_cast<void*>(ctx_->stream) : nullptr; }

    // End of a job: returns the job's device allocations (the sampling
    // history buffer), so that between jobs the tracked bytes equal the
    // post-load baseline.
    void end_job() override;

    // For tests, tools and benchmarks.
    static std::vector<Allocation> allocations(const ModelAdapter& adapter, const KvLayout& kv, uint32_t max_batch);
    static VramBudget plan(const ModelAdapter& adapter, const KvLayout& kv, uint32_t max_batch);
    const UploadStats& load_stats() const { return load_stats_; }
    const float* device_logits() const;
    const std::string& residency_error() const { return residency_error_; }
    const CudaContext& context() const { return *ctx_; }
    bool job_buffer_held() const { return sampler_ && sampler_->holds_job_buffer(); }

    // Decode steps (forward of one token) replay a CUDA graph of the whole
    // step (adapter.forward over the CUDA ops), captured after the first
    // plain decode step of the model (when every kernel is loaded). The graph
    // runs the same kernels with the same arguments in the same order as the
    // plain launches: it only removes the launch cost. Disabling it (tests
    // comparing both paths) makes decode steps launch kernel by kernel; the
    // captured graph is kept.
    void set_decode_graph_enabled(bool on) { graph_enabled_ = on; }
    // "graph", "not captured yet", "disabled", or "plain launches: capture
    // failed: <why>".
    std::string decode_graph_status() const;
    // Decode steps run through the graph since load.
    uint64_t decode_graph_steps() const { return graph_steps_; }

    // Steps ahead: sample_then_step() puts the next decode step (a replay
    // of the graph, its token read where the sampler left it on the
    // device) on the stream behind the sampling and the token's copy, and
    // waits for the copy alone; forward() of that token at that position
    // then returns at once. The step's logits overwrite the sampled ones,
    // which are kept (a copy on the device) until the next forward():
    // read_logits() and sample() read them. A forward() of another token or
    // position runs as usual after the started step, whose K/V row it
    // rewrites or leaves beyond the job's positions. Disabling it (tests
    // comparing both ways) samples only.
    void set_steps_ahead_enabled(bool on) { ahead_enabled_ = on; }
    // Steps started ahead that forward() then took, since load.
    uint64_t steps_ahead_taken() const { return ahead_taken_; }

private:
    struct ActivationLayout {  // offsets into act_, in bytes
        uint64_t step, tokens, x, xb, q, k, v, att, proj, gate, up, xlast, logits;
        uint64_t logits_kept;  // the sampled logits while a step runs ahead
        uint64_t moe_logits, moe_ids, moe_weights, moe_act, moe_units;  // empty without experts
        uint64_t moe_order, moe_rows, moe_up, moe_tiles;      // a prompt's experts grouped (CudaBlockOps::moe)
        uint64_t total;
    };
    static ActivationLayout act_layout(const ModelConfig& cfg, uint32_t max_batch);
    static uint64_t x16_elems(const ModelConfig& cfg, uint32_t max_batch);
    template <class T>
    T* act(uint64_t off) const {
        return reinterpret_cast<T*>(act_.as<uint8_t>() + off);
    }
    void release_all();
    // Launches the adapter's forward pass of n tokens of slot `seq` on `s`,
    // reading the token ids and the position from the device (set_step), so
    // the launches of a decode step do not depend on the step: the decode
    // graph is a capture of encode(1, ...). A prompt chunk (n > 1) also sizes
    // its attention products from the host position `pos`.
    void encode(uint32_t n, uint32_t pos, uint32_t seq, cudaStream_t s);
    void capture_decode_graph();
    void drop_decode_graph();
    // The logits the next sample() or read_logits() reads.
    const float* current_logits() const;
    int32_t sample_on(const SamplingConfig& cfg, std::span<const int32_t> history, uint64_t seed, uint64_t step,
                      const uint32_t* next_pos);

    std::shared_ptr<CudaContext> ctx_;  // first: outlives every buffer below
    const ModelAdapter* adapter_ = nullptr;
    ModelConfig cfg_;
    KvLayout kv_layout_;
    uint32_t max_batch_ = 0;
    uint64_t image_bytes_ = 0;
    bool loaded_ = false;

    DeviceBuffer weights_, kv_, act_, x16_, split_ws_, dequant_ws_, prefill_ws_;
    PrefillAttentionPlan prefill_plan_;
    std::unique_ptr<Gemm> gemm_;
    std::unique_ptr<GpuSampler> sampler_;
    std::unique_ptr<GpuLogprobs> logprobs_;
    bool logprobs_asked_ = false;  // the job has asked logprobs: a step started ahead marks its logits for them
    std::unique_ptr<CudaBlockOps> ops_;
    ActivationLayout a_{};
    UploadStats load_stats_;
    std::string residency_error_;

    cudaGraphExec_t decode_graph_ = nullptr;
    std::vector<const char*> graph_launches_;  // the launch checks a replay counts
    bool graph_enabled_ = true;
    bool graph_tried_ = false;
    std::string graph_error_;
    uint64_t graph_steps_ = 0;

    struct Ahead {
        bool started = false;
        uint32_t pos = 0;
        int32_t token = -1;  // the token the device read (-1: none the host knows)
    };
    Ahead ahead_;
    bool ahead_enabled_ = true;
    uint64_t ahead_taken_ = 0;
};

}  // namespace orcd::cuda
