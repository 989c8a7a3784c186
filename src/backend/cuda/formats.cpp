#include "backend/cuda/formats.h"

namespace orcd::cuda {

namespace {

// F32 and F16: the plain matvec kernel (matvec.cu), read by cuBLAS as
// stored for prefill. The block formats: matvec_quant.cu.
constexpr Format kPlainFormats[] = {
    {gguf::TensorType::F32, matvec_f32, nullptr, embed_f32, nullptr, nullptr, false},
    {gguf::TensorType::F16, matvec_f16, nullptr, embed_f16, nullptr, nullptr, false},
};

template <class F>
void for_each_format(F&& f) {
    for (const Format& x : kPlainFormats) f(x);
    for (size_t i = 0; i < kQuantFormatCount; ++i) f(kQuantFormats[i]);
}

}  // namespace

const Format* format_of(gguf::TensorType type) {
    const Format* found = nullptr;
    for_each_format([&](const Format& f) {
        if (f.type == type) found = &f;
    });
    return found;
}

std::string supported_formats() {
    std::string s;
    for_each_format([&](const Format& f) { s += (s.empty() ? "" : ", ") + std::string(gguf::tensor_type_name(f.type)); });
    return s;
}

}  // namespace orcd::cuda
