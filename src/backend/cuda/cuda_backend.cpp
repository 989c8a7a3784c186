#include "backend/cuda/cuda_backend.h"

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernels.h"
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

// The device image of the weights: every distinct tensor (a tied output
// matrix is the embedding table) at a 256-byte aligned offset.
struct ImagePlan {
    std::unordered_map<const uint8_t*, uint64_t> offset_of;
    std::vector<UploadSegment> segments;
    uint64_t bytes = 0;

    void add(const TensorView& t) {
        if (!t.data || offset_of.count(t.data)) return;
        bytes = align_up(bytes, kAlign);
        offset_of.emplace(t.data, bytes);
        segments.push_back(UploadSegment{bytes, t.data, t.n_bytes});
        bytes += t.n_bytes;
    }
};

ImagePlan plan_image(const ModelWeights& w) {
    ImagePlan p;
    p.add(w.tok_embd);
    p.add(w.output_norm);
    p.add(w.output);
    for (const LayerWeights& l : w.layers) {
        for (const TensorView* t : {&l.attn_norm, &l.wq, &l.wk, &l.wv, &l.wo, &l.ffn_norm, &l.w_gate, &l.w_up, &l.w_down})
            p.add(*t);
    }
    p.bytes = align_up(p.bytes, kAlign);
    return p;
}

void check_matrix(const TensorView& t) {
    if (t.type != gguf::TensorType::F32 && t.type != gguf::TensorType::F16)
        fail(ORCD_MODEL_LOAD_FAILED, "CUDA backend: tensor " + std::string(t.name) + " has type " +
                                         gguf::tensor_type_name(t.type) + "; supported: F32, F16");
}

void check_vector(const TensorView& t) {
    if (t.type != gguf::TensorType::F32)
        fail(ORCD_MODEL_LOAD_FAILED, "CUDA backend: norm tensor " + std::string(t.name) + " must be F32");
}

KvLayout f16_layout(const KvLayout& kv) {
    KvLayout l = kv;
    l.elem_bytes = 2;
    return l;
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
    drop_decode_graph();
    sampler_.reset();
    gemm_.reset();
    split_ws_.reset();
    prefill_ws_.reset();
    prefill_plan_ = {};
    x16_.reset();
    act_.reset();
    kv_.reset();
    weights_.reset();
    layers_.clear();
    loaded_ = false;
}

CudaBackend::Activations CudaBackend::act_layout(const ModelConfig& c, uint32_t b) {
    Activations a{};
    uint64_t off = 0;
    auto take = [&](uint64_t bytes) {
        const uint64_t o = off;
        off = align_up(off + bytes, kAlign);
        return o;
    };
    const uint64_t qd = uint64_t(c.n_head) * c.head_dim, kvd = uint64_t(c.n_head_kv) * c.head_dim;
    a.step = take(4);  // the position, read by the kernels (set_step)
    a.tokens = take(uint64_t(b) * 4);
    a.x = take(uint64_t(b) * c.n_embd * 4);
    a.xb = take(uint64_t(b) * c.n_embd * 4);
    a.q = take(uint64_t(b) * qd * 4);
    a.k = take(uint64_t(b) * kvd * 4);
    a.v = take(uint64_t(b) * kvd * 4);
    a.att = take(uint64_t(b) * qd * 4);
    a.proj = take(uint64_t(b) * c.n_embd * 4);
    a.gate = take(uint64_t(b) * c.n_ff * 4);
    a.up = take(uint64_t(b) * c.n_ff * 4);
    a.xlast = take(uint64_t(c.n_embd) * 4);
    a.logits = take(uint64_t(c.n_vocab) * 4);
    a.total = off;
    return a;
}

uint64_t CudaBackend::x16_elems(const ModelConfig& c, uint32_t b) {
    return uint64_t(b) * std::max<uint64_t>({c.n_embd, c.n_ff, uint64_t(c.n_head) * c.head_dim});
}

VramBudget CudaBackend::plan(const ModelConfig& cfg, const ModelWeights& w, const KvLayout& kv, uint32_t max_batch) {
    const uint32_t b = std::max(max_batch, 1u);
    VramBudget v;
    v.weights = align_up(plan_image(w).bytes, kGranule);
    v.kv_cache = align_up(f16_layout(kv).total_bytes(), kGranule);
    v.activations = align_up(act_layout(cfg, b).total, kGranule);
    const PrefillAttentionPlan prefill = plan_prefill_attention(cfg.n_head, cfg.n_head_kv, cfg.head_dim, b, kv.n_ctx);
    v.workspace = align_up(Gemm::kWorkspaceBytes, kGranule) + align_up(x16_elems(cfg, b) * 2, kGranule) +
                  align_up(attention_split_floats(cfg.n_head, cfg.head_dim) * 4, kGranule) +
                  align_up(prefill.bytes, kGranule);
    v.sampling = align_up(GpuSampler::load_bytes(cfg.n_vocab) + GpuSampler::job_bytes(kv.n_ctx), kGranule);
    return v;
}

void CudaBackend::load(const ModelConfig& cfg, const ModelWeights& w, const KvLayout& kv, uint32_t max_batch,
                       const LoadOptions& opt) {
    bind_device(ctx_->device);
    release_all();
    if (cfg.n_head == 0 || cfg.n_head_kv == 0 || cfg.n_head % cfg.n_head_kv != 0 || cfg.head_dim == 0 ||
        cfg.rope_dim > cfg.head_dim || w.layers.size() != cfg.n_layer)
        fail(ORCD_MODEL_LOAD_FAILED, "CUDA backend: inconsistent model shape");
    if (kv.n_layer != cfg.n_layer || kv.n_head_kv != cfg.n_head_kv || kv.head_dim != cfg.head_dim || kv.n_ctx == 0)
        fail(ORCD_INTERNAL, "CUDA backend: KV layout does not match the model");
    check_matrix(w.tok_embd);
    check_matrix(w.output);
    check_vector(w.output_norm);
    for (const LayerWeights& l : w.layers) {
        for (const TensorView* t : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) check_matrix(*t);
        check_vector(l.attn_norm);
        check_vector(l.ffn_norm);
    }

    const VramBudget budget = plan(cfg, w, kv, max_batch);
    const DeviceMemInfo mi = ctx_->alloc->mem_info();
    if (budget.total() > mi.free)
        fail(ORCD_INSUFFICIENT_VRAM, "model does not fit in free VRAM: required=" + std::to_string(budget.total()) +
                                         " available=" + std::to_string(mi.free) + " (" + budget.describe() +
                                         ", n_ctx=" + std::to_string(kv.n_ctx) + ")");

    cfg_ = cfg;
    kv_layout_ = f16_layout(kv);
    max_batch_ = std::max(max_batch, 1u);
    n_vocab_ = cfg.n_vocab;
    DeviceAllocator& alloc = *ctx_->alloc;
    cudaStream_t s = ctx_->stream;
    try {
        const ImagePlan image = plan_image(w);
        image_bytes_ = image.bytes;
        weights_ = alloc.alloc(image.bytes, MemCategory::Weights);
        load_stats_ = upload_image(weights_.as<uint8_t>(), image.bytes, image.segments, opt.chunk_bytes, s, opt.progress);

        auto ptr = [&](const TensorView& t) -> const void* {
            return weights_.as<const uint8_t>() + image.offset_of.at(t.data);
        };
        auto mat = [&](const TensorView& t) { return DeviceMatrix{t.type, t.ne0, t.ne1, ptr(t)}; };
        tok_embd_ = ptr(w.tok_embd);
        tok_embd_type_ = w.tok_embd.type;
        output_norm_ = static_cast<const float*>(ptr(w.output_norm));
        output_ = mat(w.output);
        for (const LayerWeights& l : w.layers)
            layers_.push_back(Layer{static_cast<const float*>(ptr(l.attn_norm)), static_cast<const float*>(ptr(l.ffn_norm)),
                                    mat(l.wq), mat(l.wk), mat(l.wv), mat(l.wo), mat(l.w_gate), mat(l.w_up),
                                    mat(l.w_down)});

        kv_ = alloc.alloc(kv_layout_.total_bytes(), MemCategory::KvCache);
        a_ = act_layout(cfg, max_batch_);
        act_ = alloc.alloc(a_.total, MemCategory::Activations);
        x16_ = alloc.alloc(x16_elems(cfg, max_batch_) * 2, MemCategory::Workspace);
        split_ws_ = alloc.alloc(attention_split_floats(cfg.n_head, cfg.head_dim) * 4, MemCategory::Workspace);
        gemm_ = std::make_unique<Gemm>(alloc, s);
        prefill_plan_ = plan_prefill_attention(cfg.n_head, cfg.n_head_kv, cfg.head_dim, max_batch_, kv.n_ctx);
        if (prefill_plan_.enabled()) prefill_ws_ = alloc.alloc(prefill_plan_.bytes, MemCategory::Workspace);
        sampler_ = std::make_unique<GpuSampler>(alloc, cfg.n_vocab, kv.n_ctx, s);
        // Stale cache contents are never read (attention covers [0, pos]);
        // NaN makes any read past pos visible in the logits.
        ORCD_CUDA_CHECK(cudaMemsetAsync(kv_.get(), 0xff, kv_.bytes(), s));
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

void CudaBackend::forward(const int32_t* tokens, uint32_t n, uint32_t pos) {
    if (!loaded_) fail(ORCD_INTERNAL, "CUDA backend: forward() before load()");
    if (n == 0 || n > max_batch_)
        fail(ORCD_INTERNAL, "CUDA backend: batch of " + std::to_string(n) + " tokens (max " +
                                std::to_string(max_batch_) + ")");
    if (uint64_t(pos) + n > kv_layout_.n_ctx)
        fail(ORCD_INVALID_REQUEST, "KV cache full: positions " + std::to_string(pos) + ".." +
                                       std::to_string(uint64_t(pos) + n) + " exceed the context of " +
                                       std::to_string(kv_layout_.n_ctx));
    for (uint32_t i = 0; i < n; ++i)
        if (tokens[i] < 0 || uint32_t(tokens[i]) >= cfg_.n_vocab)
            fail(ORCD_INTERNAL, "token id " + std::to_string(tokens[i]) + " out of range (vocab " +
                                           std::to_string(cfg_.n_vocab) + ")");
    bind_device(ctx_->device);
    cudaStream_t s = ctx_->stream;
    int32_t* ids = act<int32_t>(a_.tokens);
    // A decode step's inputs travel as kernel arguments of set_step (no host
    // copy); a prompt chunk's ids are copied, then set_step writes the
    // position (and ids[0] again, the same value).
    if (n > 1) ORCD_CUDA_CHECK(cudaMemcpyAsync(ids, tokens, uint64_t(n) * sizeof(int32_t), cudaMemcpyHostToDevice, s));
    set_step(ids, act<uint32_t>(a_.step), tokens[0], pos, s);
    if (n == 1 && decode_graph_ && graph_enabled_) {
        count_launches(graph_launches_);
        ORCD_CUDA_CHECK(cudaGraphLaunch(decode_graph_, s));
        ++graph_steps_;
        return;
    }
    encode(n, pos, s);
    // After the first plain decode step every kernel of the step is loaded,
    // so the capture records launches only (it runs nothing).
    if (n == 1 && graph_enabled_ && !graph_tried_) capture_decode_graph();
}

void CudaBackend::encode(uint32_t n, uint32_t pos, cudaStream_t s) {
    const ModelConfig& c = cfg_;
    const uint32_t E = c.n_embd;
    float* x = act<float>(a_.x);
    float* xb = act<float>(a_.xb);
    float* q = act<float>(a_.q);
    float* k = act<float>(a_.k);
    float* v = act<float>(a_.v);
    float* att = act<float>(a_.att);
    float* proj = act<float>(a_.proj);
    float* gate = act<float>(a_.gate);
    float* up = act<float>(a_.up);
    const int32_t* ids = act<int32_t>(a_.tokens);
    const uint32_t* P = act<uint32_t>(a_.step);
    f16_bits* x16 = x16_.as<f16_bits>();
    f16_bits* cache = kv_.as<f16_bits>();

    embedding(x, tok_embd_, tok_embd_type_, E, ids, n, s);
    for (uint32_t l = 0; l < c.n_layer; ++l) {
        const Layer& L = layers_[l];
        rmsnorm(xb, x, L.attn_norm, n, E, c.rms_eps, s);
        if (n == 1) {
            matvec_qkv(q, k, v, xb, L.wq, L.wk, L.wv, s);
        } else {
            gemm_->matmul(q, xb, L.wq, n, x16);
            gemm_->matmul(k, xb, L.wk, n, x16);
            gemm_->matmul(v, xb, L.wv, n, x16);
        }
        rope_store_kv(q, k, v, cache, kv_layout_, l, n, c.n_head, c.rope_dim, c.rope_freq_base, 0, s, P);
        const f16_bits* kc = cache + kv_layout_.offset(l, 0, 0);
        const f16_bits* vc = cache + kv_layout_.offset(l, 1, 0);
        // A prompt chunk: tensor-core products (prefill_attention.h); the
        // kernel when the plan is off (a context too large for the cap) or
        // the chunk is too small for the products to pay off.
        if (prefill_attention_pays_off(prefill_plan_, n, pos + n))
            prefill_attention(*gemm_, prefill_plan_, prefill_ws_.get(), att, q, kc, vc, n, pos);
        else
            attention(att, q, kc, vc, n, 0, c.n_head, c.n_head_kv, c.head_dim, split_ws_.as<float>(), s, P,
                      kv_layout_.n_ctx);
        // Batch 1 fuses the residual add and SwiGLU into the products (same
        // bits as the separate kernels, fewer launches and passes).
        if (n == 1) {
            matvec_add(x, att, L.wo, s);
        } else {
            gemm_->matmul(proj, att, L.wo, n, x16);
            add_inplace(x, proj, uint64_t(n) * E, s);
        }
        rmsnorm(xb, x, L.ffn_norm, n, E, c.rms_eps, s);
        if (n == 1 && L.w_gate.type == L.w_up.type) {
            matvec_swiglu(gate, xb, L.w_gate, L.w_up, s);
        } else {
            gemm_->matmul(gate, xb, L.w_gate, n, x16);
            gemm_->matmul(up, xb, L.w_up, n, x16);
            swiglu(gate, gate, up, uint64_t(n) * c.n_ff, s);
        }
        if (n == 1) {
            matvec_add(x, gate, L.w_down, s);
        } else {
            gemm_->matmul(proj, gate, L.w_down, n, x16);
            add_inplace(x, proj, uint64_t(n) * E, s);
        }
    }
    float* xlast = act<float>(a_.xlast);
    rmsnorm(xlast, x + uint64_t(n - 1) * E, output_norm_, 1, E, c.rms_eps, s);
    matvec(act<float>(a_.logits), xlast, output_, s);
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
            encode(1, 0, cs);
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

const float* CudaBackend::device_logits() const { return loaded_ ? act<float>(a_.logits) : nullptr; }

void CudaBackend::read_logits(std::span<float> out) {
    if (!loaded_) fail(ORCD_INTERNAL, "CUDA backend: read_logits() before load()");
    if (out.size() < cfg_.n_vocab) fail(ORCD_INTERNAL, "CUDA backend: logits buffer too small");
    bind_device(ctx_->device);
    ORCD_CUDA_CHECK(cudaMemcpyAsync(out.data(), act<float>(a_.logits), uint64_t(cfg_.n_vocab) * 4,
                                    cudaMemcpyDeviceToHost, ctx_->stream));
    ORCD_CUDA_CHECK(cudaStreamSynchronize(ctx_->stream));
}

int32_t CudaBackend::sample(const SamplingConfig& cfg, std::span<const int32_t> history, uint64_t seed,
                            uint64_t step) {
    if (!loaded_) fail(ORCD_INTERNAL, "CUDA backend: sample() before load()");
    bind_device(ctx_->device);
    const int32_t t = sampler_->sample(act<float>(a_.logits), cfg, history, seed, step);
    return t >= 0 ? t : Backend::sample(cfg, history, seed, step);
}

void CudaBackend::reset_kv() {
    if (!loaded_) return;
    bind_device(ctx_->device);
#ifndef NDEBUG
    ORCD_CUDA_CHECK(cudaMemsetAsync(kv_.get(), 0xff, kv_.bytes(), ctx_->stream));
#endif
    sampler_->begin_job();
}

void CudaBackend::end_job() {
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
