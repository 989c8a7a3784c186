#include "backend/cuda/formats.h"

namespace orcd::cuda {

namespace {

constexpr Format kFormats[] = {
    {gguf::TensorType::F32, matvec_f32, nullptr, embed_f32},
    {gguf::TensorType::F16, matvec_f16, nullptr, embed_f16},
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

}  // namespace orcd::cuda
