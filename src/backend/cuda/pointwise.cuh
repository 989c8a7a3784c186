// Per-element formulas shared by several kernels, so that a fused kernel
// computes the very same floats (same expression, same contraction) as the
// separate kernel it replaces.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace orcd::cuda {

// RoPE of the pair (a, b) at dimension pair i of a head: theta = pos *
// base^(-2i/rope_dim), as cpu::rope.
__device__ __forceinline__ void rope_pair(float a, float b, float pos, uint32_t i, uint32_t rope_dim, float base,
                                          float& o0, float& o1) {
    const float freq = powf(base, -float(2 * i) / float(rope_dim));
    const float theta = pos * freq;
    float s, c;
    sincosf(theta, &s, &c);
    o0 = a * c - b * s;
    o1 = a * s + b * c;
}

// silu(g) * u as cpu::swiglu: g / (1 + e^-g) * u.
__device__ __forceinline__ float silu_mul(float g, float u) { return g / (1.0f + expf(-g)) * u; }

}  // namespace orcd::cuda
