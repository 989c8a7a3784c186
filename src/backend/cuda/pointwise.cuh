// Per-element formulas shared by several kernels, so that a fused kernel
// computes the very same floats (same expression, same contraction) as the
// separate kernel it replaces.
#pragma once

#include "engine/model_config.h"

#include <cuda_runtime.h>

#include <cstdint>

namespace orcd::cuda {

// The (cos, sin) of pair i at `pos` for any rope configuration, as
// cpu::rope_angle: theta = pos * base^(-2i/dims), scaled as the config says.
__device__ __forceinline__ void rope_cs(float pos, uint32_t i, const RopeConfig& r, float& c, float& s) {
    const float freq = powf(r.freq_base, -float(2 * i) / float(r.dims));
    const float theta_extrap = pos * freq;
    float theta = theta_extrap;
    if (r.yarn) {
        const float theta_interp = r.freq_scale * theta_extrap;
        const float y = (float(i) - r.yarn_low) / fmaxf(0.001f, r.yarn_high - r.yarn_low);
        const float ramp = (1.0f - fminf(1.0f, fmaxf(0.0f, y))) * r.yarn_ext_factor;
        theta = theta_interp * (1.0f - ramp) + theta_extrap * ramp;
    } else if (r.freq_scale != 1.0f) {
        theta = r.freq_scale * theta_extrap;
    }
    sincosf(theta, &s, &c);
    if (r.mscale != 1.0f) {
        c *= r.mscale;
        s *= r.mscale;
    }
}

// The pair (a, b) rotated by the angle whose (cos, sin) is (c, s).
__device__ __forceinline__ void rope_apply(float a, float b, float c, float s, float& o0, float& o1) {
    o0 = a * c - b * s;
    o1 = a * s + b * c;
}

__device__ __forceinline__ void rope_pair(float a, float b, float pos, uint32_t i, const RopeConfig& r, float& o0,
                                          float& o1) {
    float s, c;
    rope_cs(pos, i, r, c, s);
    rope_apply(a, b, c, s, o0, o1);
}

// The partner elements of dimension d (< dims) of a head starting at element
// `head`: NORMAL pairs (2i, 2i+1), NEOX pairs (i, i + dims/2). Returns the
// pair index; `second` says whether d is the pair's second element.
__device__ __forceinline__ uint32_t rope_partner(RopeMode mode, uint32_t dims, uint32_t d, uint32_t head, uint32_t& e0,
                                                 uint32_t& e1, bool& second) {
    if (mode == RopeMode::Neox) {
        const uint32_t half = dims / 2;
        const uint32_t i = d < half ? d : d - half;
        e0 = head + i;
        e1 = e0 + half;
        second = d >= half;
        return i;
    }
    e0 = head + (d & ~1u);
    e1 = e0 + 1;
    second = d & 1;
    return d / 2;
}

// silu(g) * u as cpu::swiglu: g / (1 + e^-g) * u.
__device__ __forceinline__ float silu_mul(float g, float u) { return g / (1.0f + expf(-g)) * u; }

// cpu::swiglu_oai.
__device__ __forceinline__ float swiglu_oai_mul(float gate, float up) {
    const float g = fminf(gate, 7.0f);
    const float u = fminf(fmaxf(up, -7.0f), 7.0f);
    return g / (1.0f + expf(-1.702f * g)) * (u + 1.0f);
}

// cpu::gelu (tanh form).
__device__ __forceinline__ float gelu_tanh(float x) {
    return 0.5f * x * (1.0f + tanhf(0.79788456080286535587989211986876f * x * (1.0f + 0.044715f * x * x)));
}

}  // namespace orcd::cuda
