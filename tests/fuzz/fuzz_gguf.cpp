// libFuzzer target for the GGUF reader: any input must either parse or end in
// GgufError. Any other exception, crash, leak or sanitizer report is a bug.
#include "gguf/gguf.h"

#include <cstddef>
#include <cstdint>
#include <string>

namespace {

using orcd::gguf::GgufError;
using orcd::gguf::Value;
using orcd::gguf::ValueType;

// Volatile sink so the reads below are not optimized away.
volatile uint64_t g_sink = 0;

void touch(const Value& v, std::string_view key) {
    switch (v.type) {
        case ValueType::STRING:
            // Reads every byte: ASan catches a view past the buffer.
            for (char c : v.str) g_sink = g_sink + uint8_t(c);
            break;
        case ValueType::ARRAY:
            for (const Value& e : v.arr) {
                if (e.type != v.elem_type) __builtin_trap();  // reader broke its own invariant
                touch(e, key);
            }
            break;
        default:
            try {
                g_sink = g_sink + uint64_t(v.as_int(key));
            } catch (const GgufError&) {
            }
            try {
                g_sink = g_sink + (v.as_float(key) > 0.0 ? 1 : 0);
            } catch (const GgufError&) {
            }
            break;
    }
}

void touch_file(const orcd::gguf::File& f) {
    for (const auto& kv : f.metadata()) {
        touch(kv.value, kv.key);
        // The typed getters on every key: each either answers or throws GgufError.
        try { (void)f.try_string(kv.key); } catch (const GgufError&) {}
        try { (void)f.try_uint(kv.key); } catch (const GgufError&) {}
        try { (void)f.try_float(kv.key); } catch (const GgufError&) {}
        try { (void)f.try_bool(kv.key); } catch (const GgufError&) {}
        try { (void)f.get_array(kv.key); } catch (const GgufError&) {}
    }
    const uint8_t* begin = f.bytes();
    for (const auto& t : f.tensors()) {
        if (f.find_tensor(t.name) != &t) __builtin_trap();  // names are unique
        if (t.n_bytes == 0 || t.data < begin || size_t(t.data - begin) + t.n_bytes > f.file_size())
            __builtin_trap();
        g_sink = g_sink + t.data[0] + t.data[t.n_bytes - 1] + t.n_elements + t.ne[0] + t.ne[3];
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        const auto f = orcd::gguf::File::from_memory(data, size);
        touch_file(*f);
    } catch (const GgufError&) {
    }
    return 0;
}
