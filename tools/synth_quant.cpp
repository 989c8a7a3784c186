#include "synth_quant.h"

#include "gguf/gguf.h"

#include <cmath>
#include <cstring>

namespace orcd::synth {

void encode_q8_0(const float* x, uint8_t* out, uint64_t n) {
    for (uint64_t b = 0; b < n / 32; ++b, x += 32, out += 34) {
        float amax = 0.0f;
        for (int j = 0; j < 32; ++j) amax = std::fmax(amax, std::fabs(x[j]));
        const uint16_t dh = gguf::fp32_to_fp16(amax / 127.0f);
        const float d = gguf::fp16_to_fp32(dh);
        std::memcpy(out, &dh, 2);
        for (int j = 0; j < 32; ++j) {
            const float q = d > 0.0f ? std::round(x[j] / d) : 0.0f;
            out[2 + j] = uint8_t(int8_t(std::fmax(-127.0f, std::fmin(127.0f, q))));
        }
    }
}

void encode_mxfp4(const float* x, uint8_t* out, uint64_t n) {
    // Twice the E2M1 values, in code order.
    static constexpr float kValues[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};
    for (uint64_t b = 0; b < n / 32; ++b, x += 32, out += 17) {
        float amax = 0.0f;
        for (int j = 0; j < 32; ++j) amax = std::fmax(amax, std::fabs(x[j]));
        // amax / 2^(e - 128) lands in [4, 8): codes up to 12 cover it.
        int e = amax > 0.0f ? int(std::floor(std::log2(amax))) - 2 + 128 : 0;
        e = e < 0 ? 0 : (e > 254 ? 254 : e);
        const float d = std::ldexp(1.0f, e - 128);
        out[0] = uint8_t(e);
        for (int j = 0; j < 16; ++j) {
            uint8_t codes[2];
            for (int h = 0; h < 2; ++h) {
                const float v = x[j + 16 * h] / d;
                int best = 0;
                for (int c = 1; c < 16; ++c)
                    if (std::fabs(kValues[c] - v) < std::fabs(kValues[best] - v)) best = c;
                codes[h] = uint8_t(best);
            }
            out[1 + j] = uint8_t(codes[0] | codes[1] << 4);
        }
    }
}

}  // namespace orcd::synth
