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

const Format* layout_of(gguf::TensorType type, bool experts) {
    const Format* f = format_of(type);
    return f && experts && f->experts ? f->experts : f;
}

uint64_t device_row_bytes(gguf::TensorType type, bool experts, uint64_t ne0) {
    const Format* f = layout_of(type, experts);
    if (f && f->row_bytes) return f->row_bytes(ne0);
    uint64_t elems = 0, bytes = 0;
    if (!gguf::tensor_type_layout(uint32_t(type), &elems, &bytes) || elems == 0) return 0;
    return ne0 / elems * bytes;
}

std::string supported_formats() {
    std::string s;
    for_each_format([&](const Format& f) { s += (s.empty() ? "" : ", ") + std::string(gguf::tensor_type_name(f.type)); });
    return s;
}

}  // namespace orcd::cuda
