#include "backend/cpu/cpu_ops.h"

#include "backend/cpu/cpu_formats.h"
#include "common/error.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <vector>

namespace orcd::cpu {

void rmsnorm(float* out, const float* x, const float* w, uint32_t n, float eps) {
    float ss = 0.0f;
    for (uint32_t i = 0; i < n; ++i) ss += x[i] * x[i];
    const float scale = 1.0f / std::sqrt(ss / float(n) + eps);
    for (uint32_t i = 0; i < n; ++i) out[i] = x[i] * scale * w[i];
}

void layernorm(float* out, const float* x, const float* w, const float* b, uint32_t n, float eps) {
    float sum = 0.0f;
    for (uint32_t i = 0; i < n; ++i) sum += x[i];
    const float mean = sum / float(n);
    float var = 0.0f;
    for (uint32_t i = 0; i < n; ++i) var += (x[i] - mean) * (x[i] - mean);
    const float scale = 1.0f / std::sqrt(var / float(n) + eps);
    for (uint32_t i = 0; i < n; ++i) out[i] = (x[i] - mean) * scale * w[i] + (b ? b[i] : 0.0f);
}

namespace {

const Format& format_or_fail(const TensorView& W, const char* what) {
    const Format* f = format_of(W.type);
    if (!f) fail(ORCD_INTERNAL, std::string(what) + ": unsupported weight type " + gguf::tensor_type_name(W.type));
    return *f;
}

float dot_f32(const float* w, const float* x, uint64_t n) {
    float s = 0.0f;
    for (uint64_t i = 0; i < n; ++i) s += w[i] * x[i];
    return s;
}

}  // namespace

void matmul(float* out, const float* x, const TensorView& W, uint32_t n_tokens) {
    const Format& f = format_or_fail(W, "matmul");
    const uint64_t in = W.ne0, rows = W.ne1 * W.ne2, rb = W.row_bytes();
    // Threads only pay off above a few hundred thousand multiply-adds.
    const bool parallel = in * rows * n_tokens >= (1u << 18);
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t r = 0; r < int64_t(rows); ++r)
        for (uint32_t t = 0; t < n_tokens; ++t)
            out[uint64_t(t) * rows + r] = f.dot_row(W.data + uint64_t(r) * rb, x + uint64_t(t) * in, in);
}

void add_bias(float* y, const float* b, uint32_t n_tokens, uint64_t n) {
    for (uint32_t t = 0; t < n_tokens; ++t)
        for (uint64_t i = 0; i < n; ++i) y[uint64_t(t) * n + i] += b[i];
}

void get_row(float* out, const TensorView& W, uint64_t row) {
    format_or_fail(W, "get_row").decode_row(W.data + row * W.row_bytes(), out, W.ne0);
}

void rope(float* x, uint32_t n_heads, uint32_t head_dim, uint32_t rope_dim, uint32_t pos, float freq_base) {
    RopeConfig cfg;
    cfg.mode = RopeMode::Normal;
    cfg.dims = rope_dim;
    cfg.freq_base = freq_base;
    rope(x, n_heads, head_dim, pos, cfg);
}

void rope_angle(uint32_t pos, uint32_t i, const RopeConfig& cfg, float& c, float& s) {
    // Computed as llama.cpp does: theta = pos * base^(-2i/d).
    const float freq = std::pow(cfg.freq_base, -float(2 * i) / float(cfg.dims));
    const float theta_extrap = float(pos) * freq;
    float theta = theta_extrap;
    if (cfg.yarn) {
        // Pairs below yarn_low keep the unscaled angle, pairs above yarn_high
        // take the interpolated one, with a linear ramp between.
        const float theta_interp = cfg.freq_scale * theta_extrap;
        const float y = (float(i) - cfg.yarn_low) / std::max(0.001f, cfg.yarn_high - cfg.yarn_low);
        const float ramp = (1.0f - std::min(1.0f, std::max(0.0f, y))) * cfg.yarn_ext_factor;
        theta = theta_interp * (1.0f - ramp) + theta_extrap * ramp;
    } else if (cfg.freq_scale != 1.0f) {
        theta = cfg.freq_scale * theta_extrap;
    }
    c = std::cos(theta) * cfg.mscale;
    s = std::sin(theta) * cfg.mscale;
}

void rope(float* x, uint32_t n_heads, uint32_t head_dim, uint32_t pos, const RopeConfig& cfg) {
    if (cfg.mode == RopeMode::None) return;
    const uint32_t half = cfg.dims / 2;
    for (uint32_t i = 0; i < half; ++i) {
        float c, s;
        rope_angle(pos, i, cfg, c, s);
        for (uint32_t h = 0; h < n_heads; ++h) {
            float* head = x + uint64_t(h) * head_dim;
            float* p0 = cfg.mode == RopeMode::Neox ? head + i : head + 2 * i;
            float* p1 = cfg.mode == RopeMode::Neox ? head + i + half : head + 2 * i + 1;
            const float a = *p0, b = *p1;
            *p0 = a * c - b * s;
            *p1 = a * s + b * c;
        }
    }
}

void attention_row(float* out, const float* q, const float* k, const float* v, uint32_t pos, const AttentionShape& g) {
    const uint32_t group = g.n_head / g.n_head_kv;
    const uint64_t kv_row = uint64_t(g.n_head_kv) * g.head_dim;
    const uint32_t lo = g.window && pos + 1 > g.window ? pos + 1 - g.window : 0;
    const uint32_t n_keys = pos + 1 - lo;
    std::vector<float> score(n_keys);
    for (uint32_t h = 0; h < g.n_head; ++h) {
        const float* qh = q + uint64_t(h) * g.head_dim;
        const uint64_t kvh = h / group;
        float mx = -INFINITY;
        for (uint32_t j = 0; j < n_keys; ++j) {
            score[j] = dot_f32(k + uint64_t(lo + j) * kv_row + kvh * g.head_dim, qh, g.head_dim) * g.scale;
            mx = std::max(mx, score[j]);
        }
        if (g.sinks) mx = std::max(mx, g.sinks[h]);
        float sum = 0.0f;
        for (uint32_t j = 0; j < n_keys; ++j) {
            score[j] = std::exp(score[j] - mx);
            sum += score[j];
        }
        if (g.sinks) sum += std::exp(g.sinks[h] - mx);
        float* o = out + uint64_t(h) * g.head_dim;
        for (uint32_t d = 0; d < g.head_dim; ++d) o[d] = 0.0f;
        for (uint32_t j = 0; j < n_keys; ++j) {
            const float wgt = score[j] / sum;
            const float* vp = v + uint64_t(lo + j) * kv_row + kvh * g.head_dim;
            for (uint32_t d = 0; d < g.head_dim; ++d) o[d] += wgt * vp[d];
        }
    }
}

void attention(float* out, const float* q, const float* k, const float* v, uint32_t n_tokens, uint32_t pos0,
               uint32_t n_head, uint32_t n_head_kv, uint32_t head_dim) {
    const AttentionShape g{n_head, n_head_kv, head_dim, 1.0f / std::sqrt(float(head_dim)), 0, nullptr};
    const uint64_t q_row = uint64_t(n_head) * head_dim;
    const bool parallel = uint64_t(n_tokens) * n_head * (pos0 + n_tokens) * head_dim >= (1u << 18);
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t t = 0; t < int64_t(n_tokens); ++t)
        attention_row(out + uint64_t(t) * q_row, q + uint64_t(t) * q_row, k, v, pos0 + uint32_t(t), g);
}

void swiglu(float* out, const float* gate, const float* up, uint64_t n) {
    for (uint64_t i = 0; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

void swiglu_oai(float* out, const float* gate, const float* up, uint64_t n) {
    constexpr float kAlpha = 1.702f, kLimit = 7.0f;
    for (uint64_t i = 0; i < n; ++i) {
        const float g = std::min(gate[i], kLimit);
        const float u = std::min(std::max(up[i], -kLimit), kLimit);
        out[i] = g / (1.0f + std::exp(-kAlpha * g)) * (u + 1.0f);
    }
}

void gelu(float* out, const float* x, uint64_t n) {
    constexpr float kSqrt2OverPi = 0.79788456080286535587989211986876f, kCoef = 0.044715f;
    for (uint64_t i = 0; i < n; ++i) {
        const float v = x[i];
        out[i] = 0.5f * v * (1.0f + std::tanh(kSqrt2OverPi * v * (1.0f + kCoef * v * v)));
    }
}

void add_inplace(float* x, const float* y, uint64_t n) {
    for (uint64_t i = 0; i < n; ++i) x[i] += y[i];
}

void top_k_softmax(const float* logits, uint32_t n, uint32_t n_used, int32_t* ids, float* weights) {
    std::vector<int32_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    // Largest first, the lower index first on ties (NaN never selected first).
    std::partial_sort(order.begin(), order.begin() + n_used, order.end(), [&](int32_t a, int32_t b) {
        const float la = logits[a], lb = logits[b];
        if (la != lb) return la > lb || (lb != lb && la == la);
        return a < b;
    });
    const float mx = logits[order[0]];
    float sum = 0.0f;
    for (uint32_t j = 0; j < n_used; ++j) {
        ids[j] = order[j];
        weights[j] = std::exp(logits[order[j]] - mx);
        sum += weights[j];
    }
    for (uint32_t j = 0; j < n_used; ++j) weights[j] /= sum;
}

}  // namespace orcd::cpu
