// exp() for the sampler's softmax, written so a host and a CUDA device
// compute the same bits: a library expf is only accurate to an ulp or two and
// glibc and CUDA round differently, which would let the CPU and GPU samplers
// pick different tokens from the same logits. Only correctly rounded
// operations are used (fmaf, float * and -, exact bit moves), and every
// multiply-add is an explicit fmaf, so compiler contraction cannot change it.
#pragma once

#include <cstdint>
#include <cmath>
#include <cstring>

#ifndef ORCD_HD
#if defined(__CUDACC__)
#define ORCD_HD __host__ __device__ __forceinline__
#else
#define ORCD_HD inline
#endif
#endif

namespace orcd {

// e^x, relative error below 2^-22 on (-86, 88]. Exactly 1 at x = 0, exactly 0
// for x <= -86 (so every result is a normal float and flush-to-zero settings
// cannot matter), +inf above 88, NaN for NaN.
ORCD_HD float softmax_exp(float x) {
    if (x != x) return x;
    if (x <= -86.0f) return 0.0f;
    if (x > 88.0f) return __builtin_inff();
    // k = round-to-nearest-even(x / ln 2): adding 1.5 * 2^23 leaves no
    // fraction bits, so the fmaf itself does the rounding.
    const float shifter = 12582912.0f;
    const float k = fmaf(x, 1.44269502f, shifter) - shifter;
    // r = x - k ln2 in two steps (Cody-Waite), |r| <= ~0.347.
    float r = fmaf(k, -0.693145751953125f, x);
    r = fmaf(k, -1.42860677e-06f, r);
    // Taylor series to r^7 (truncation error < 6e-9 relative on |r| <= 0.347).
    float p = 1.98412698e-04f;  // 1/7!
    p = fmaf(p, r, 1.38888889e-03f);  // 1/6!
    p = fmaf(p, r, 8.33333333e-03f);  // 1/5!
    p = fmaf(p, r, 4.16666667e-02f);  // 1/4!
    p = fmaf(p, r, 1.66666667e-01f);  // 1/3!
    p = fmaf(p, r, 0.5f);
    p = fmaf(p, r, 1.0f);
    p = fmaf(p, r, 1.0f);
    // 2^k built from its exponent bits; k in [-124, 127] so it is normal.
    const uint32_t bits = uint32_t(int32_t(k) + 127) << 23;
    float scale;
    std::memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

}  // namespace orcd
