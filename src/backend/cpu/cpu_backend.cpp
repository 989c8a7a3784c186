// The CPU reference backend: the Llama forward pass written top to bottom
// with the functions of cpu_ops.h, over weights read in place from the
// mapped file and an F32 KV cache in the engine's layout.
#include "backend/cpu/cpu_ops.h"
#include "common/error.h"
#include "engine/backend.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <omp.h>
#include <thread>
#include <vector>

namespace orcd {

namespace {

class CpuBackend final : public Backend {
public:
    void load(const ModelConfig& cfg, const ModelWeights& w, const KvLayout& kv, uint32_t max_batch,
              const LoadOptions& opt) override {
        cfg_ = cfg;
        w_ = &w;
        kv_layout_ = kv;
        kv_layout_.elem_bytes = sizeof(float);
        max_batch_ = max_batch;
        n_vocab_ = cfg.n_vocab;
        // Weights stay in the mapping; "loading" is binding them.
        const uint64_t total = w.total_bytes();
        if (opt.progress)
            for (int p : {0, 25, 50, 75, 100}) opt.progress(p, total * uint64_t(p) / 100, total);
        kv_.assign(kv_layout_.total_elems(), 0.0f);
        const uint64_t E = cfg.n_embd, Q = uint64_t(cfg.n_head) * cfg.head_dim, KV = kv_layout_.row_elems();
        x_.resize(max_batch * E);
        xb_.resize(max_batch * std::max(E, Q));
        xb2_.resize(max_batch * E);
        q_.resize(max_batch * Q);
        k_.resize(max_batch * KV);
        v_.resize(max_batch * KV);
        att_.resize(max_batch * Q);
        hb_.resize(uint64_t(max_batch) * cfg.n_ff);
        hb2_.resize(uint64_t(max_batch) * cfg.n_ff);
        logits_.resize(cfg.n_vocab);
    }

    void forward(const int32_t* tokens, uint32_t n, uint32_t pos) override {
        if (n == 0 || n > max_batch_) fail(ORCD_INTERNAL, "forward: batch of " + std::to_string(n) + " tokens");
        const ModelConfig& c = cfg_;
        const uint32_t E = c.n_embd, H = c.n_head, KVH = c.n_head_kv, D = c.head_dim;
        const uint64_t Q = uint64_t(H) * D, KV = uint64_t(KVH) * D;

        for (uint32_t t = 0; t < n; ++t) {
            if (tokens[t] < 0 || uint32_t(tokens[t]) >= c.n_vocab) fail(ORCD_INTERNAL, "token id out of range");
            cpu::get_row(&x_[t * E], w_->tok_embd, uint64_t(tokens[t]));
        }

        for (uint32_t l = 0; l < c.n_layer; ++l) {
            const LayerWeights& L = w_->layers[l];
            const float* attn_norm = reinterpret_cast<const float*>(L.attn_norm.data);
            const float* ffn_norm = reinterpret_cast<const float*>(L.ffn_norm.data);

            // Attention block: x += Wo · attention(rope(Wq·h), rope(Wk·h), Wv·h)
            for (uint32_t t = 0; t < n; ++t) cpu::rmsnorm(&xb_[t * E], &x_[t * E], attn_norm, E, c.rms_eps);
            cpu::matmul(q_.data(), xb_.data(), L.wq, n);
            cpu::matmul(k_.data(), xb_.data(), L.wk, n);
            cpu::matmul(v_.data(), xb_.data(), L.wv, n);
            for (uint32_t t = 0; t < n; ++t) {
                cpu::rope(&q_[t * Q], H, D, c.rope_dim, pos + t, c.rope_freq_base);
                cpu::rope(&k_[t * KV], KVH, D, c.rope_dim, pos + t, c.rope_freq_base);
            }
            float* k_cache = &kv_[kv_layout_.offset(l, 0, 0)];
            float* v_cache = &kv_[kv_layout_.offset(l, 1, 0)];
            std::memcpy(k_cache + pos * KV, k_.data(), n * KV * sizeof(float));
            std::memcpy(v_cache + pos * KV, v_.data(), n * KV * sizeof(float));
            cpu::attention(att_.data(), q_.data(), k_cache, v_cache, n, pos, H, KVH, D);
            cpu::matmul(xb2_.data(), att_.data(), L.wo, n);
            cpu::add_inplace(x_.data(), xb2_.data(), uint64_t(n) * E);

            // Feed-forward block: x += Wdown · (silu(Wgate·h) * Wup·h)
            for (uint32_t t = 0; t < n; ++t) cpu::rmsnorm(&xb_[t * E], &x_[t * E], ffn_norm, E, c.rms_eps);
            cpu::matmul(hb_.data(), xb_.data(), L.w_gate, n);
            cpu::matmul(hb2_.data(), xb_.data(), L.w_up, n);
            cpu::swiglu(hb_.data(), hb_.data(), hb2_.data(), uint64_t(n) * c.n_ff);
            cpu::matmul(xb2_.data(), hb_.data(), L.w_down, n);
            cpu::add_inplace(x_.data(), xb2_.data(), uint64_t(n) * E);
        }

        // Only the last token's logits are needed to sample the next one.
        cpu::rmsnorm(xb_.data(), &x_[uint64_t(n - 1) * E], reinterpret_cast<const float*>(w_->output_norm.data), E,
                     c.rms_eps);
        cpu::matmul(logits_.data(), xb_.data(), w_->output, 1);
    }

    void read_logits(std::span<float> out) override {
        if (out.size() < logits_.size()) fail(ORCD_INTERNAL, "read_logits: buffer too small");
        std::memcpy(out.data(), logits_.data(), logits_.size() * sizeof(float));
    }

    void reset_kv() override {
#ifndef NDEBUG
        // Debug builds poison the cache so a read past the job's position shows as NaN.
        std::fill(kv_.begin(), kv_.end(), std::numeric_limits<float>::quiet_NaN());
#endif
    }

    MemoryStats memory_stats() const override {
        MemoryStats s;
        s.weights = w_ ? w_->total_bytes() : 0;
        s.kv_cache = kv_bytes();
        s.activations = (x_.size() + xb_.size() + xb2_.size() + q_.size() + k_.size() + v_.size() + att_.size() +
                         hb_.size() + hb2_.size() + logits_.size()) * sizeof(float);
        return s;
    }
    uint64_t weight_bytes() const override { return w_ ? w_->total_bytes() : 0; }
    uint64_t kv_bytes() const override { return kv_.size() * sizeof(float); }

private:
    ModelConfig cfg_;
    const ModelWeights* w_ = nullptr;
    KvLayout kv_layout_;
    uint32_t max_batch_ = 0;
    std::vector<float> kv_;
    std::vector<float> x_, xb_, xb2_, q_, k_, v_, att_, hb_, hb2_, logits_;
};

class CpuDevice final : public Device {
public:
    explicit CpuDevice(int threads) : threads_(threads > 0 ? threads : int(std::thread::hardware_concurrency())) {
        if (threads_ < 1) threads_ = 1;
        omp_set_num_threads(threads_);
    }
    orcd_device_info info() const override {
        orcd_device_info i{};
        i.kind = ORCD_DEVICE_CPU;
        std::snprintf(i.name, sizeof i.name, "cpu");
        i.multiprocessors = threads_;
        return i;
    }
    std::unique_ptr<Backend> create_backend() override { return std::make_unique<CpuBackend>(); }

private:
    int threads_;
};

}  // namespace

std::unique_ptr<Device> make_cpu_device(int threads) { return std::make_unique<CpuDevice>(threads); }

}  // namespace orcd
