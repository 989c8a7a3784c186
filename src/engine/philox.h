// Philox4x32-10, the counter-based RNG behind all sampling.
//
// A draw is a pure function of (seed, step): key = seed, counter = step. The
// same function compiles for the host and for CUDA devices, so the GPU
// sampler draws exactly the numbers the CPU sampler draws.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define ORCD_HD __host__ __device__ __forceinline__
#else
#define ORCD_HD inline
#endif

namespace orcd {

struct Philox4 {
    uint32_t v[4];
};

ORCD_HD uint32_t philox_mulhi(uint32_t a, uint32_t b, uint32_t* lo) {
    const uint64_t p = uint64_t(a) * uint64_t(b);
    *lo = uint32_t(p);
    return uint32_t(p >> 32);
}

// Philox4x32 with 10 rounds (Salmon et al., "Parallel random numbers: as easy
// as 1, 2, 3", SC'11), constants from the paper.
ORCD_HD Philox4 philox4x32_10(uint64_t counter_lo, uint64_t counter_hi, uint64_t key) {
    uint32_t c0 = uint32_t(counter_lo), c1 = uint32_t(counter_lo >> 32);
    uint32_t c2 = uint32_t(counter_hi), c3 = uint32_t(counter_hi >> 32);
    uint32_t k0 = uint32_t(key), k1 = uint32_t(key >> 32);
    for (int round = 0; round < 10; ++round) {
        uint32_t lo0, lo1;
        const uint32_t hi0 = philox_mulhi(0xD2511F53u, c0, &lo0);
        const uint32_t hi1 = philox_mulhi(0xCD9E8D57u, c2, &lo1);
        const uint32_t n0 = hi1 ^ c1 ^ k0;
        const uint32_t n1 = lo1;
        const uint32_t n2 = hi0 ^ c3 ^ k1;
        const uint32_t n3 = lo0;
        c0 = n0; c1 = n1; c2 = n2; c3 = n3;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    return Philox4{{c0, c1, c2, c3}};
}

// The uniform draw of sampling step `step` of a job seeded with `seed`:
// 24 random bits scaled to [0, 1), exactly representable in float.
ORCD_HD float philox_uniform(uint64_t seed, uint64_t step) {
    const Philox4 r = philox4x32_10(step, 0, seed);
    return float(r.v[0] >> 8) * (1.0f / 16777216.0f);
}

}  // namespace orcd
