#include "backend/cpu/cpu_formats.h"

#include <cstring>
#include <string>

namespace orcd::cpu {

namespace {

void decode_f32(const uint8_t* row, float* out, uint64_t n) { std::memcpy(out, row, n * sizeof(float)); }

float dot_f32(const uint8_t* row, const float* x, uint64_t n) {
    const float* w = reinterpret_cast<const float*>(row);
    float s = 0.0f;
    for (uint64_t i = 0; i < n; ++i) s += w[i] * x[i];
    return s;
}

void decode_f16(const uint8_t* row, float* out, uint64_t n) {
    const uint16_t* w = reinterpret_cast<const uint16_t*>(row);
    for (uint64_t i = 0; i < n; ++i) out[i] = gguf::fp16_to_fp32(w[i]);
}

float dot_f16(const uint8_t* row, const float* x, uint64_t n) {
    const uint16_t* w = reinterpret_cast<const uint16_t*>(row);
    float s = 0.0f;
    for (uint64_t i = 0; i < n; ++i) s += gguf::fp16_to_fp32(w[i]) * x[i];
    return s;
}

constexpr Format kFormats[] = {
    {gguf::TensorType::F32, decode_f32, dot_f32},
    {gguf::TensorType::F16, decode_f16, dot_f16},
};

}  // namespace

const Format* format_of(gguf::TensorType type) {
    for (const Format& f : kFormats)
        if (f.type == type) return &f;
    return nullptr;
}

std::string supported_formats() {
    std::string s;
    for (const Format& f : kFormats) s += (s.empty() ? "" : ", ") + std::string(gguf::tensor_type_name(f.type));
    return s;
}

}  // namespace orcd::cpu
