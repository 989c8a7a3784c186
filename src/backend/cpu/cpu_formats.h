// The CPU backend's weight-format table: for each GGUF block format it
// computes, how a row decodes to F32 and how a row dots with an F32 vector.
// Decoding is exact (the format's definition, bit for bit); dot products
// multiply the decoded F32 values and add them in index order. This is the
// ground truth the CUDA kernels are tested against.
#pragma once

#include "gguf/gguf.h"

#include <cstdint>
#include <string>

namespace orcd::cpu {

struct Format {
    gguf::TensorType type;
    // out[0..n) = the n elements of a row (n a multiple of the block size).
    void (*decode_row)(const uint8_t* row, float* out, uint64_t n);
    // sum_i row[i] * x[i], in index order.
    float (*dot_row)(const uint8_t* row, const float* x, uint64_t n);
};

// The entry of `type`, or nullptr when the CPU backend does not compute it.
const Format* format_of(gguf::TensorType type);
// The types with an entry, in type-id order (for --version and errors).
std::string supported_formats();

}  // namespace orcd::cpu
