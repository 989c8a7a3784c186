#include "backend/cuda/cuda_backend.h"

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/formats.h"
#include "backend/cuda/kernels.h"
#include "backend/cuda/launch.h"
#include "backend/cuda/matvec_q8.h"
#include "common/error.h"

#include <algorithm>
#include <cstdio>
#include <string>
#include <unordered_map>

namespace orcd::cuda {
namespace {

constexpr uint64_t kAlign = 256;
constexpr uint64_t kGranule = 2ull << 20;

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

// A stack of experts kept in another layout than the file's (formats.h,
// Format::experts): uploaded as stored to the start of its place, then
// rewritten (regroup_experts).
struct Regroup {
    uint64_t offset;            // into the image
    uint64_t ne0, rows;          // rows of all experts
    uint64_t file_row, dev_row;  // bytes a row as stored and as kept
    const Format* layout;
};

// The device image of the weights: every file tensor the adapter bound, in
// id order, at a 256-byte aligned offset, each as large as its layout in
// VRAM needs.
struct ImagePlan {
    std::vector<uint64_t> offset_of;  // by tensor id
    std::vector<UploadSegment> segments;
    std::vector<Regroup> regroups;
    uint64_t bytes = 0;
};

ImagePlan plan_image(const ModelWeights& w) {
    ImagePlan p;
    for (const FileTensor& t : w.tensors) {
        p.bytes = align_up(p.bytes, kAlign);
        p.offset_of.push_back(p.bytes);
        p.segments.push_back(UploadSegment{p.bytes, t.data, t.n_bytes});
        uint64_t bytes = t.n_bytes;
        const bool experts = t.ne[2] > 1;
        const Format* f = layout_of(t.type, experts);
        if (f && f->regroup && f != format_of(t.type)) {
            const uint64_t rows = t.ne[1] * t.ne[2] * t.ne[3];
            const Regroup g{p.bytes, t.ne[0], rows, t.n_bytes / rows, device_row_bytes(t.type, experts, t.ne[0]), f};
            p.regroups.push_back(g);
            bytes = std::max(bytes, rows * g.dev_row);
        }
        p.bytes += bytes;
    }
    p.bytes = align_up(p.bytes, kAlign);
    return p;
}

// Rewrites each stack of experts to its layout, in place, the last rows
// first: rows [a, b) are copied to scratch, then written from there to [a
// dev_row, b dev_row) of the stack's place. dev_row >= file_row, so the
// rows still as stored (before a) are never overwritten.
void regroup_experts(uint8_t* image, const ImagePlan& plan, uint8_t* scratch, uint64_t scratch_bytes,
                     cudaStream_t s) {
    for (const Regroup& g : plan.regroups) {
        const uint64_t per_piece = scratch_bytes / g.file_row;
        if (g.dev_row < g.file_row || per_piece == 0)
            fail(ORCD_INTERNAL, "regrouping experts: no room for a row (" + std::to_string(g.file_row) + " bytes)");
        uint8_t* base = image + g.offset;
        for (uint64_t b = g.rows; b > 0;) {
            const uint64_t a = b > per_piece ? b - per_piece : 0;
            ORCD_CUDA_CHECK(cudaMemcpyAsync(scratch, base + a * g.file_row, (b - a) * g.file_row,
                                            cudaMemcpyDeviceToDevice, s));
            g.layout->regroup(base + a * g.dev_row, scratch, g.ne0, b - a, s);
            b = a;
        }
    }
}

// The largest matrix in a block format, in F16 bytes (one expert of a stack).
uint64_t largest_block_matrix_f16(const ModelWeights& w) {
    uint64_t most = 0;
    w.for_each_view([&](const TensorView& t) {
        const Format* f = format_of(t.type);
        if (f && f->to_f16) most = std::max(most, t.ne0 * t.ne1 * 2);
    });
    return most;
}

// Every matrix in a format of the table, every vector F32 (the binder made
// sure of the latter).
void check_formats(const ModelWeights& w) {
    w.for_each_view([&](const TensorView& t) {
        const Format* f = format_of(t.type);
        if (f && f->to_f16 && t.ne0 % 32 != 0)
            fail(ORCD_MODEL_LOAD_FAILED, "tensor '" + w.name_of(t) + "': CUDA computes " +
                                             gguf::tensor_type_name(t.type) + " rows in units of 32 elements, and its "
                                             "rows hold " + std::to_string(t.ne0));
        const FileTensor& file = w.tensors.at(t.id);
        const bool regrouped = file.ne[2] > 1 && layout_of(file.type, true) != format_of(file.type);
        if (regrouped && (t.ne2 != file.ne[2] || t.offset != 0))
            fail(ORCD_MODEL_LOAD_FAILED, "tensor '" + w.name_of(t) + "': a stack of experts in " +
                                             gguf::tensor_type_name(t.type) +
                                             " is kept regrouped in VRAM and can only be bound whole");
        if (t.ne2 > 1 && f && !layout_of(t.type, true)->moe_gate_up)
            fail(ORCD_MODEL_LOAD_FAILED, "tensor '" + w.name_of(t) + "': experts in " +
                                             gguf::tensor_type_name(t.type) +
                                             " are not computed by the CUDA backend yet");
        if (!f)
            fail(ORCD_MODEL_LOAD_FAILED, "tensor '" + w.name_of(t) + "' has type " + gguf::tensor_type_name(t.type) +
                                             ", which the CUDA backend does not compute (supported: " +
                                             supported_formats() + ")");
    });
}

}  // namespace

std::string VramBudget::describe() const {
    return "weights=" + std::to_string(weights) + " kv_cache=" + std::to_string(kv_cache) +
           " activations=" + std::to_string(activations) + " workspace=" + std::to_string(workspace) +
           " sampling=" + std::to_string(sampling);
}

CudaBackend::CudaBackend(std::shared_ptr<CudaContext> ctx) : ctx_(std::move(ctx)) {}

CudaBackend::~CudaBackend() { release_all(); }

void CudaBackend::release_all() {
    if (ctx_ && ctx_->stream) (void)cudaStreamSynchronize(ctx_->stream);
    ahead_ = {};
    drop_decode_graph();
    ops_.reset();
    sampler_.reset();
    gemm_.reset();
    split_ws_.reset();
    dequant_ws_.reset();
    prefill_ws_.reset();
    prefill_plan_ = {};
    x16_.reset();
    act_.reset();
    kv_.reset();
    weights_.reset();
    loaded_ = false;
}

CudaBackend::ActivationLayout CudaBackend::act_layout(const ModelConfig& c, uint32_t b) {
    ActivationLayout a{};
    uint64_t off = 0;
    auto take = [&](uint64_t bytes) {
        const uint64_t o = off;
        off = align_up(off + bytes, kAlign);
        return o;
    };
    const uint64_t qd = c.q_dim(), kvd = c.kv_dim(), ff = std::max(c.n_ff, c.n_ff_expert);
    a.step = take(4);  // the position, read by the kernels (set_step)
    a.tokens = take(uint64_t(b) * 4);
    a.x = take(uint64_t(b) * c.n_embd * 4);
    a.xb = take(uint64_t(b) * c.n_embd * 4);
    a.q = take(uint64_t(b) * qd * 4);
    a.k = take(uint64_t(b) * kvd * 4);
    a.v = take(uint64_t(b) * kvd * 4);
    a.att = take(uint64_t(b) * qd * 4);
    a.proj = take(uint64_t(b) * c.n_embd * 4);
    a.gate = take(uint64_t(b) * ff * 4);
    a.up = take(uint64_t(b) * ff * 4);
    a.xlast = take(uint64_t(c.n_embd) * 4);
    a.logits = take(uint64_t(c.n_vocab) * 4);
    a.logits_kept = take(uint64_t(c.n_vocab) * 4);
    a.moe_logits = take(uint64_t(b) * c.n_expert * 4);
    a.moe_ids = take(uint64_t(b) * c.n_expert_used * 4);
    a.moe_weights = take(uint64_t(b) * c.n_expert_used * 4);
    a.moe_act = take(uint64_t(b) * c.n_expert_used * c.n_ff_expert * 4);
    a.moe_units = take(uint64_t(b) * c.n_expert_used * (c.n_ff_expert / 32) * kQ8UnitBytes);
    a.moe_order = take(uint64_t(b) * c.n_expert_used * 3 * 4);
    a.moe_rows = take(uint64_t(b) * c.n_expert_used * c.n_embd * 4);
    a.moe_up = take(uint64_t(b) * c.n_expert_used * c.n_ff_expert * 4);
    const uint64_t max_tiles = c.n_expert ? moe_max_tiles(b * c.n_expert_used, c.n_expert, kMoeTileRowsSmall) : 0;
    a.moe_tiles = take((1 + 3 * max_tiles) * 4);
    a.total = off;
    return a;
}

uint64_t CudaBackend::x16_elems(const ModelConfig& c, uint32_t b) {
    // A prompt chunk's grouped expert rows are rounded to F16 at once
    // (CudaBlockOps::moe_grouped): n_used rows a token.
    const uint64_t moe = uint64_t(c.n_expert_used) * std::max<uint64_t>(c.n_embd, c.n_ff_expert);
    return uint64_t(b) * std::max<uint64_t>({c.n_embd, c.n_ff, c.n_ff_expert, c.q_dim(), moe});
}

std::vector<Allocation> CudaBackend::allocations(const ModelAdapter& adapter, const KvLayout& kv, uint32_t max_batch) {
    const ModelConfig& cfg = adapter.config();
    const uint32_t b = std::max(max_batch, 1u);
    const PrefillAttentionPlan prefill = plan_prefill_attention(cfg.n_head, cfg.n_head_kv, cfg.head_dim, b, kv.n_ctx);
    std::vector<Allocation> list = {
        {Buffer::Weights, MemCategory::Weights, plan_image(adapter.weights()).bytes},
        {Buffer::KvCache, MemCategory::KvCache, kv.total_bytes()},
        {Buffer::Activations, MemCategory::Activations, act_layout(cfg, b).total},
        {Buffer::GemmWorkspace, MemCategory::Workspace, Gemm::kWorkspaceBytes},
        {Buffer::DequantWs, MemCategory::Workspace, Gemm::dequant_bytes(largest_block_matrix_f16(adapter.weights()))},
        {Buffer::X16, MemCategory::Workspace, x16_elems(cfg, b) * 2},
        {Buffer::SplitWs, MemCategory::Workspace, attention_split_floats(cfg.n_head, cfg.head_dim) * 4},
        {Buffer::PrefillWs, MemCategory::Workspace, prefill.bytes},
        // The sampler's load-time buffers plus its per-job history buffer.
        {Buffer::Sampler, MemCategory::Sampling, GpuSampler::load_bytes(cfg.n_vocab) + GpuSampler::job_bytes(kv.n_ctx) +
                                                  GpuLogprobs::load_bytes(cfg.n_vocab)},
    };
    return list;
}

VramBudget CudaBackend::plan(const ModelAdapter& adapter, const KvLayout& kv, uint32_t max_batch) {
    VramBudget v;
    for (const Allocation& a : allocations(adapter, kv, max_batch)) {
        const uint64_t bytes = align_up(a.bytes, kGranule);
        switch (a.category) {
            case MemCategory::Weights: v.weights += bytes; break;
            case MemCategory::KvCache: v.kv_cache += bytes; break;
            case MemCategory::Activations: v.activations += bytes; break;
            case MemCategory::Workspace: v.workspace += bytes; break;
            default: v.sampling += bytes; break;
        }
    }
    return v;
}

void CudaBackend::load(const ModelAdapter& adapter, const KvLayout& kv, uint32_t max_batch, const LoadOptions& opt) {
    bind_device(ctx_->device);
    release_all();
    const ModelConfig& cfg = adapter.config();
    const ModelWeights& w = adapter.weights();
    if (cfg.n_head == 0 || cfg.n_head_kv == 0 || cfg.n_head % cfg.n_head_kv != 0 || cfg.head_dim == 0 ||
        cfg.rope.dims > cfg.head_dim || w.layers.size() != cfg.n_layer)
        fail(ORCD_MODEL_LOAD_FAILED, "CUDA backend: inconsistent model shape");
    if (kv.n_layer != cfg.n_layer || kv.n_head_kv != cfg.n_head_kv || kv.head_dim != cfg.head_dim || kv.n_ctx == 0 ||
        kv.elem_bytes != kv_elem_bytes())
        fail(ORCD_INTERNAL, "CUDA backend: KV layout does not match the model");
    check_formats(w);

    const VramBudget budget = plan(adapter, kv, max_batch);
    const DeviceMemInfo mi = ctx_->alloc->mem_info();
    if (budget.total() > mi.free)
        fail(ORCD_INSUFFICIENT_VRAM, "model does not fit in free VRAM: required=" + std::to_string(budget.total()) +
                                         " available=" + std::to_string(mi.free) + " (" + budget.describe() +
                                         ", n_ctx=" + std::to_string(kv.n_ctx) + ")");

    adapter_ = &adapter;
    cfg_ = cfg;
    kv_layout_ = kv;
    max_batch_ = std::max(max_batch, 1u);
    n_vocab_ = cfg.n_vocab;
    DeviceAllocator& alloc = *ctx_->alloc;
    cudaStream_t s = ctx_->stream;
    try {
        const ImagePlan image = plan_image(w);
        for (const Allocation& a : allocations(adapter, kv, max_batch_)) {
            switch (a.what) {
                case Buffer::Weights:
                    image_bytes_ = a.bytes;
                    weights_ = alloc.alloc(a.bytes, a.category);
                    load_stats_ =
                        upload_image(weights_.as<uint8_t>(), a.bytes, image.segments, opt.chunk_bytes, s, opt.progress);
                    break;
                case Buffer::KvCache:
                    kv_ = alloc.alloc(a.bytes, a.category);
                    // Unused until the first job, the cache is the scratch
                    // of the experts' rewriting (the weights are in).
                    regroup_experts(weights_.as<uint8_t>(), image, kv_.as<uint8_t>(), kv_.bytes(), s);
                    // Stale cache contents are never read (attention covers
                    // [0, pos]); NaN makes any read past pos visible.
                    ORCD_CUDA_CHECK(cudaMemsetAsync(kv_.get(), 0xff, kv_.bytes(), s));
                    break;
                case Buffer::Activations:
                    a_ = act_layout(cfg, max_batch_);
                    act_ = alloc.alloc(a.bytes, a.category);
                    break;
                case Buffer::X16: x16_ = alloc.alloc(a.bytes, a.category); break;
                case Buffer::SplitWs:
                    split_ws_ = alloc.alloc(a.bytes, a.category);
                    attention_split_reset(split_ws_.as<float>(), cfg.n_head, cfg.head_dim, s);
                    break;
                case Buffer::GemmWorkspace: gemm_ = std::make_unique<Gemm>(alloc, s); break;
                case Buffer::DequantWs:
                    if (a.bytes) {
                        dequant_ws_ = alloc.alloc(a.bytes, a.category);
                        gemm_->set_dequant_scratch(dequant_ws_.get(), a.bytes);
                    }
                    break;
                case Buffer::PrefillWs:
                    prefill_plan_ =
                        plan_prefill_attention(cfg.n_head, cfg.n_head_kv, cfg.head_dim, max_batch_, kv.n_ctx);
                    if (prefill_plan_.enabled()) prefill_ws_ = alloc.alloc(a.bytes, a.category);
                    break;
                case Buffer::Sampler:
                    sampler_ = std::make_unique<GpuSampler>(alloc, cfg.n_vocab, kv.n_ctx, s);
                    logprobs_ = std::make_unique<GpuLogprobs>(alloc, cfg.n_vocab);
                    break;
            }
        }
        std::vector<const uint8_t*> bases;
        for (uint64_t off : image.offset_of) bases.push_back(weights_.as<const uint8_t>() + off);
        const DeviceActivations da{act<int32_t>(a_.tokens), act<uint32_t>(a_.step), act<float>(a_.x),
                                   act<float>(a_.xb),       act<float>(a_.q),       act<float>(a_.k),
                                   act<float>(a_.v),        act<float>(a_.att),     act<float>(a_.proj),
                                   act<float>(a_.gate),     act<float>(a_.up),      act<float>(a_.xlast),
                                   act<float>(a_.logits),   act<float>(a_.moe_logits), act<int32_t>(a_.moe_ids),
                                   act<float>(a_.moe_weights), act<float>(a_.moe_act), act<void>(a_.moe_units),
                                   act<int32_t>(a_.moe_order), act<float>(a_.moe_rows), act<float>(a_.moe_up),
                                   act<int32_t>(a_.moe_tiles),
                                   x16_.as<f16_bits>(),
                                   split_ws_.as<float>(),   prefill_ws_.get()};
        ops_ = std::make_unique<CudaBlockOps>(cfg, kv_layout_, kv_.as<f16_bits>(), da, std::move(bases), *gemm_,
                                              prefill_plan_);
        ORCD_CUDA_CHECK(cudaStreamSynchronize(s));
    } catch (const Error& e) {
        release_all();
        if (e.code() != ORCD_VRAM_OOM) throw;
        uint64_t free_now = 0;
        try {
            free_now = ctx_->alloc->mem_info().free;
        } catch (const Error&) {
        }
        fail(ORCD_INSUFFICIENT_VRAM, std::string("device allocation failed while loading: ") + e.what() +
                                         " required=" + std::to_string(budget.total()) +
                                         " available=" + std::to_string(free_now));
    }
    loaded_ = true;
    if (!check_residency()) {
        const std::string why = residency_error_;
        release_all();
        fail(ORCD_CUDA_ERROR, "residency check after load failed: " + why);
    }
}

void CudaBackend::forward(const Batch& batch) {
    if (!loaded_) fail(ORCD_INTERNAL, "CUDA backend: forward() before load()");
    check_batch(batch, max_batch_, cfg_.n_vocab, kv_layout_);
    if (!batch.contiguous())
        fail(ORCD_INTERNAL, "CUDA backend: a batch must be one sequence's consecutive positions (batches mixing "
                            "sequences are not implemented yet)");
    const uint32_t n = batch.size(), pos = batch.pos[0], seq = batch.seq[0];
    bind_device(ctx_->device);
    cudaStream_t s = ctx_->stream;
    int32_t* ids = act<int32_t>(a_.tokens);
    // A decode step's inputs travel as kernel arguments of set_step (no host
    // copy); a prompt chunk's ids are copied, then set_step writes the
    // position (and ids[0] again, the same value).
    if (n > 1)
        ORCD_CUDA_CHECK(cudaMemcpyAsync(ids, batch.tokens.data(), uint64_t(n) * sizeof(int32_t), cudaMemcpyHostToDevice, s));
    if (ahead_.started) {
        const bool taken = n == 1 && seq == 0 && pos == ahead_.pos && batch.tokens[0] == ahead_.token;
        ahead_ = {};
        if (taken) {  // started by sample_then_step()
            ++ahead_taken_;
            ++graph_steps_;
            return;
        }
    }
    set_step(ids, act<uint32_t>(a_.step), batch.tokens[0], pos, s);
    // The graph was captured for slot 0.
    if (n == 1 && seq == 0 && decode_graph_ && graph_enabled_) {
        count_launches(graph_launches_);
        ORCD_CUDA_CHECK(cudaGraphLaunch(decode_graph_, s));
        ++graph_steps_;
        return;
    }
    encode(n, pos, seq, s);
    // After the first plain decode step every kernel of the step is loaded,
    // so the capture records launches only (it runs nothing).
    if (n == 1 && seq == 0 && graph_enabled_ && !graph_tried_) capture_decode_graph();
}

void CudaBackend::encode(uint32_t n, uint32_t pos, uint32_t seq, cudaStream_t s) {
    ops_->begin(n, pos, seq, s);
    adapter_->forward(*ops_);
}

void CudaBackend::capture_decode_graph() {
    graph_tried_ = true;
    std::string why;
    std::vector<const char*> names;
    cudaGraph_t graph = nullptr;
    cudaGraphExec_t exec = nullptr;
    // A private stream: nothing else (another backend on the shared stream)
    // can slip work into the capture.
    cudaStream_t cs = nullptr;
    cudaError_t e = cudaStreamCreateWithFlags(&cs, cudaStreamNonBlocking);
    if (e == cudaSuccess) e = cudaStreamBeginCapture(cs, cudaStreamCaptureModeThreadLocal);
    if (e != cudaSuccess) {
        why = std::string("begin capture: ") + cudaGetErrorName(e);
    } else {
        try {
            LaunchRecording rec(&names);
            encode(1, 0, 0, cs);
        } catch (const Error& err) {
            why = err.what();
        }
        e = cudaStreamEndCapture(cs, &graph);
        if (why.empty() && e != cudaSuccess) why = std::string("end capture: ") + cudaGetErrorName(e);
    }
    if (why.empty()) {
        e = cudaGraphInstantiate(&exec, graph, 0);
        if (e != cudaSuccess) {
            why = std::string("instantiate: ") + cudaGetErrorName(e);
            exec = nullptr;
        }
    }
    if (graph) (void)cudaGraphDestroy(graph);
    if (cs) (void)cudaStreamDestroy(cs);
    if (!why.empty()) {
        // Capture errors are not sticky; clear them so that the next launch
        // check does not report them. Decode keeps the plain launches.
        (void)cudaGetLastError();
        graph_error_ = why;
        std::fprintf(stderr, "worker-orcd: CUDA decode graph not used (plain launches): %s\n", why.c_str());
        return;
    }
    decode_graph_ = exec;
    graph_launches_ = std::move(names);
}

void CudaBackend::drop_decode_graph() {
    if (decode_graph_) (void)cudaGraphExecDestroy(decode_graph_);
    decode_graph_ = nullptr;
    graph_launches_.clear();
    graph_tried_ = false;
    graph_error_.clear();
    graph_steps_ = 0;
}

std::string CudaBackend::decode_graph_status() const {
    if (!graph_error_.empty()) return "plain launches: capture failed: " + graph_error_;
    if (!graph_enabled_) return "disabled";
    return decode_graph_ ? "graph" : "not captured yet";
}

const float* CudaBackend::device_logits() const { return loaded_ ? current_logits() : nullptr; }

const float* CudaBackend::current_logits() const { return act<float>(ahead_.started ? a_.logits_kept : a_.logits); }

void CudaBackend::read_logits(std::span<float> out) {
    if (!loaded_) fail(ORCD_INTERNAL, "CUDA backend: read_logits() before load()");
    if (out.size() < cfg_.n_vocab) fail(ORCD_INTERNAL, "CUDA backend: logits buffer too small");
    bind_device(ctx_->device);
    ORCD_CUDA_CHECK(cudaMemcpyAsync(out.data(), current_logits(), uint64_t(cfg_.n_vocab) * 4,
                                    cudaMemcpyDeviceToHost, ctx_->stream));
    ORCD_CUDA_CHECK(cudaStreamSynchronize(ctx_->stream));
}

TokenLogprob CudaBackend::logprobs(int32_t chosen, size_t n, std::vector<TokenLogprob>& top) {
    if (!loaded_) fail(ORCD_INTERNAL, "CUDA backend: logprobs() before load()");
    bind_device(ctx_->device);
    // Behind a step started ahead they read the kept logits, which that step
    // leaves alone: beside the step, after the mark its start left when the
    // job had asked before; else behind it on the stream.
    logprobs_asked_ = true;
    TokenLogprob r;
    if (n <= GpuLogprobs::kMaxTop && logprobs_->compute(current_logits(), chosen, uint32_t(n), ctx_->stream,
                                                        ahead_.started, r, top))
        return r;
    return Backend::logprobs(chosen, n, top);  // the host's rule (NaN, infinities, a bad id)
}

int32_t CudaBackend::sample(const SamplingConfig& cfg, std::span<const int32_t> history, uint64_t seed,
                            uint64_t step) {
    return sample_on(cfg, history, seed, step, nullptr);
}

int32_t CudaBackend::sample_then_step(const SamplingConfig& cfg, std::span<const int32_t> history, uint64_t seed,
                                      uint64_t step, uint32_t next_pos) {
    return sample_on(cfg, history, seed, step, &next_pos);
}

int32_t CudaBackend::sample_on(const SamplingConfig& cfg, std::span<const int32_t> history, uint64_t seed,
                               uint64_t step, const uint32_t* next_pos) {
    if (!loaded_) fail(ORCD_INTERNAL, "CUDA backend: sample() before load()");
    bind_device(ctx_->device);
    // Only a replay of the graph starts ahead (the first decode step runs
    // plain, and captures it).
    const bool ahead = next_pos && ahead_enabled_ && graph_enabled_ && decode_graph_ && *next_pos < kv_layout_.n_ctx;
    const float* logits = current_logits();
    bool started = false;
    auto start_step = [&] {
        cudaStream_t s = ctx_->stream;
        float* kept = act<float>(a_.logits_kept);
        set_step_ahead(act<int32_t>(a_.tokens), act<uint32_t>(a_.step), sampler_->device_token(), *next_pos, kept,
                       logits, logits != kept ? cfg_.n_vocab : 0, s);
        // A job that asks logprobs reads the kept logits next: not behind the step.
        if (logprobs_asked_) logprobs_->mark(s);
        count_launches(graph_launches_);
        ORCD_CUDA_CHECK(cudaGraphLaunch(decode_graph_, s));
        started = true;
    };
    const std::function<void()> behind = ahead ? std::function<void()>(start_step) : nullptr;
    const int32_t t = sampler_->sample(logits, cfg, history, seed, step, behind);
    if (started) ahead_ = Ahead{true, *next_pos, t};  // t < 0: no token of the host's matches
    return t >= 0 ? t : Backend::sample(cfg, history, seed, step);
}

void CudaBackend::begin_job() {
    if (!loaded_) return;
    bind_device(ctx_->device);
#ifndef NDEBUG
    ORCD_CUDA_CHECK(cudaMemsetAsync(kv_.get(), 0xff, kv_.bytes(), ctx_->stream));
#endif
    ahead_ = {};
    logprobs_asked_ = false;
    sampler_->begin_job();
}

void CudaBackend::end_job() {
    ahead_ = {};  // a step started for the job runs out on the stream, unread
    logprobs_asked_ = false;
    if (sampler_) sampler_->end_job();
}

bool CudaBackend::check_residency() {
    residency_error_.clear();
    return ctx_->alloc->verify_residency(&residency_error_);
}

MemoryStats CudaBackend::memory_stats() const {
    const DeviceAllocator& a = *ctx_->alloc;
    MemoryStats m;
    m.weights = a.used(MemCategory::Weights);
    m.kv_cache = a.used(MemCategory::KvCache);
    m.activations = a.used(MemCategory::Activations);
    m.workspace = a.used(MemCategory::Workspace);
    m.sampling = a.used(MemCategory::Sampling);
    try {
        const DeviceMemInfo mi = a.mem_info();
        m.device_free = mi.free;
        m.device_total = mi.total;
    } catch (const Error&) {
        // A lost device still reports what it tracks; residency says the rest.
    }
    return m;
}

}  // namespace orcd::cuda
