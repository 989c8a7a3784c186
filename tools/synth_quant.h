// Block encoders of the synthesizer (Q8_0, MXFP4): just enough to write the
// files users have (GPT-OSS's published layout) without an F16 detour. The
// engine never encodes; llama.cpp's quantizer makes every other format.
#pragma once

#include <cstdint>

namespace orcd::synth {

// n (a multiple of 32) floats into n/32 blocks of 34 bytes: d = max|x| / 127
// as F16, q = round(x / d).
void encode_q8_0(const float* x, uint8_t* out, uint64_t n);
// n (a multiple of 32) floats into n/32 blocks of 17 bytes: a shared E8M0
// exponent putting max|x| in the code book's top octave, then the nearest
// of the 16 FP4 (E2M1) codes.
void encode_mxfp4(const float* x, uint8_t* out, uint64_t n);

}  // namespace orcd::synth
