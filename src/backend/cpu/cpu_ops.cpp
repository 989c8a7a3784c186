#include "backend/cpu/cpu_ops.h"

#include "common/error.h"

#include <cmath>
#include <cstring>
#include <vector>

namespace orcd::cpu {

void rmsnorm(float* out, const float* x, const float* w, uint32_t n, float eps) {
    float ss = 0.0f;
    for (uint32_t i = 0; i < n; ++i) ss += x[i] * x[i];
    const float scale = 1.0f / std::sqrt(ss / float(n) + eps);
    for (uint32_t i = 0; i < n; ++i) out[i] = x[i] * scale * w[i];
}

namespace {

float dot_f32(const float* w, const float* x, uint64_t n) {
    float s = 0.0f;
    for (uint64_t i = 0; i < n; ++i) s += w[i] * x[i];
    return s;
}

float dot_f16(const uint16_t* w, const float* x, uint64_t n) {
    float s = 0.0f;
    for (uint64_t i = 0; i < n; ++i) s += gguf::fp16_to_fp32(w[i]) * x[i];
    return s;
}

}  // namespace

void matmul(float* out, const float* x, const TensorView& W, uint32_t n_tokens) {
    const uint64_t in = W.ne0, rows = W.ne1;
    // Threads only pay off above a few hundred thousand multiply-adds.
    const bool parallel = in * rows * n_tokens >= (1u << 18);
    if (W.type == gguf::TensorType::F32) {
        const float* w = reinterpret_cast<const float*>(W.data);
#pragma omp parallel for schedule(static) if (parallel)
        for (int64_t r = 0; r < int64_t(rows); ++r)
            for (uint32_t t = 0; t < n_tokens; ++t) out[uint64_t(t) * rows + r] = dot_f32(w + r * in, x + uint64_t(t) * in, in);
    } else if (W.type == gguf::TensorType::F16) {
        const uint16_t* w = reinterpret_cast<const uint16_t*>(W.data);
#pragma omp parallel for schedule(static) if (parallel)
        for (int64_t r = 0; r < int64_t(rows); ++r)
            for (uint32_t t = 0; t < n_tokens; ++t) out[uint64_t(t) * rows + r] = dot_f16(w + r * in, x + uint64_t(t) * in, in);
    } else {
        fail(ORCD_INTERNAL, std::string("matmul: unsupported weight type ") + gguf::tensor_type_name(W.type));
    }
}

void get_row(float* out, const TensorView& W, uint64_t row) {
    const uint64_t n = W.ne0;
    if (W.type == gguf::TensorType::F32) {
        std::memcpy(out, reinterpret_cast<const float*>(W.data) + row * n, n * sizeof(float));
    } else if (W.type == gguf::TensorType::F16) {
        const uint16_t* w = reinterpret_cast<const uint16_t*>(W.data) + row * n;
        for (uint64_t i = 0; i < n; ++i) out[i] = gguf::fp16_to_fp32(w[i]);
    } else {
        fail(ORCD_INTERNAL, std::string("get_row: unsupported weight type ") + gguf::tensor_type_name(W.type));
    }
}

void rope(float* x, uint32_t n_heads, uint32_t head_dim, uint32_t rope_dim, uint32_t pos, float freq_base) {
    for (uint32_t i = 0; i < rope_dim / 2; ++i) {
        // Computed as llama.cpp does: theta = pos * base^(-2i/d).
        const float freq = std::pow(freq_base, -float(2 * i) / float(rope_dim));
        const float theta = float(pos) * freq;
        const float c = std::cos(theta), s = std::sin(theta);
        for (uint32_t h = 0; h < n_heads; ++h) {
            float* v = x + uint64_t(h) * head_dim + 2 * i;
            const float a = v[0], b = v[1];
            v[0] = a * c - b * s;
            v[1] = a * s + b * c;
        }
    }
}

void attention(float* out, const float* q, const float* k, const float* v, uint32_t n_tokens, uint32_t pos0,
               uint32_t n_head, uint32_t n_head_kv, uint32_t head_dim) {
    const uint32_t group = n_head / n_head_kv;
    const uint64_t kv_row = uint64_t(n_head_kv) * head_dim;
    const float scale = 1.0f / std::sqrt(float(head_dim));
    const bool parallel = uint64_t(n_tokens) * n_head * (pos0 + n_tokens) * head_dim >= (1u << 18);
#pragma omp parallel for collapse(2) schedule(static) if (parallel)
    for (int64_t t = 0; t < int64_t(n_tokens); ++t) {
        for (int64_t h = 0; h < int64_t(n_head); ++h) {
            const uint32_t n_keys = pos0 + uint32_t(t) + 1;  // causal: keys [0, pos]
            const float* qh = q + (uint64_t(t) * n_head + h) * head_dim;
            const uint64_t kvh = uint64_t(h) / group;
            std::vector<float> score(n_keys);
            float mx = -INFINITY;
            for (uint32_t p = 0; p < n_keys; ++p) {
                score[p] = dot_f32(k + p * kv_row + kvh * head_dim, qh, head_dim) * scale;
                mx = std::max(mx, score[p]);
            }
            float sum = 0.0f;
            for (uint32_t p = 0; p < n_keys; ++p) {
                score[p] = std::exp(score[p] - mx);
                sum += score[p];
            }
            float* o = out + (uint64_t(t) * n_head + h) * head_dim;
            for (uint32_t d = 0; d < head_dim; ++d) o[d] = 0.0f;
            for (uint32_t p = 0; p < n_keys; ++p) {
                const float wgt = score[p] / sum;
                const float* vp = v + p * kv_row + kvh * head_dim;
                for (uint32_t d = 0; d < head_dim; ++d) o[d] += wgt * vp[d];
            }
        }
    }
}

void swiglu(float* out, const float* gate, const float* up, uint64_t n) {
    for (uint64_t i = 0; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

void add_inplace(float* x, const float* y, uint64_t n) {
    for (uint64_t i = 0; i < n; ++i) x[i] += y[i];
}

}  // namespace orcd::cpu
