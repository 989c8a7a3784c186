// Gaussian weights from a counter-based generator: element e of stream s is a
// pure function of (seed, s, e), so any chunk of any tensor can be generated
// on any thread, in any order, and the file comes out byte-identical.
#pragma once

#include "engine/philox.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace orcd::synth {

// Fills dst[0..n) with mean + sigma * N(0,1) for elements first..first+n of
// `stream`. One Philox block feeds two Box-Muller pairs, i.e. four normals:
// element e comes from block e / 4. Uniforms are drawn a batch at a time,
// which keeps both the Philox loop and the Box-Muller loop tight.
inline void fill_normal(uint64_t seed, uint64_t stream, uint64_t first, uint64_t n, float mean,
                        float sigma, float* dst) {
    constexpr float kTwoPi = 6.28318530717958647692f;
    constexpr float kInv24 = 1.0f / 16777216.0f;
    constexpr uint64_t kBlocks = 64;  // Philox blocks per batch
    alignas(64) float u1[2 * kBlocks], u2[2 * kBlocks], z[4 * kBlocks];

    const uint64_t end = first + n;
    for (uint64_t block0 = first / 4; block0 * 4 < end; block0 += kBlocks) {
        for (uint64_t b = 0; b < kBlocks; ++b) {
            const Philox4 r = philox4x32_10(block0 + b, stream, seed);
            // u1 in (0, 1] keeps log() finite; u2 in [0, 1).
            u1[2 * b] = float((r.v[0] >> 8) + 1) * kInv24;
            u2[2 * b] = float(r.v[1] >> 8) * kInv24;
            u1[2 * b + 1] = float((r.v[2] >> 8) + 1) * kInv24;
            u2[2 * b + 1] = float(r.v[3] >> 8) * kInv24;
        }
        for (uint64_t j = 0; j < 2 * kBlocks; ++j) {
            const float rad = std::sqrt(-2.0f * std::log(u1[j]));
            z[2 * j] = mean + sigma * rad * std::cos(kTwoPi * u2[j]);
            z[2 * j + 1] = mean + sigma * rad * std::sin(kTwoPi * u2[j]);
        }
        const uint64_t lo = std::max(first, block0 * 4);
        const uint64_t hi = std::min(end, (block0 + kBlocks) * 4);
        std::copy(z + (lo - block0 * 4), z + (hi - block0 * 4), dst + (lo - first));
    }
}

// dst[i] = fp16(src[i]), round to nearest even (as gguf::fp32_to_fp16);
// uses the CPU's conversion instructions where it has them.
void convert_to_f16(const float* src, uint16_t* dst, uint64_t n);

}  // namespace orcd::synth
