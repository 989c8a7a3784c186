// Writes the GGUF fuzzer's seed corpus: the real stories260K model, small
// written models covering every value type, and broken variants of both
// (truncations at many offsets, bit flips in the header) that start the
// fuzzer right at the reader's error paths.
//
// usage: gguf_seed_corpus OUT_DIR [stories260K.gguf]
#include "gguf/gguf.h"
#include "gguf/gguf_writer.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace {

namespace g = orcd::gguf;
using Bytes = std::vector<uint8_t>;

int g_written = 0;

void save(const std::string& dir, const std::string& name, const Bytes& b, size_t n) {
    std::ofstream f(dir + "/" + name, std::ios::binary);
    f.write(reinterpret_cast<const char*>(b.data()), std::streamsize(n));
    if (!f) {
        std::fprintf(stderr, "gguf_seed_corpus: cannot write %s/%s\n", dir.c_str(), name.c_str());
        std::exit(1);
    }
    ++g_written;
}

// A tiny Llama-shaped model with every metadata value type.
Bytes small_model(uint32_t version, uint64_t alignment) {
    g::Writer w(version);
    w.set_alignment(alignment);
    w.set_string("general.architecture", "llama");
    w.set("u8", g::make_uint(g::ValueType::UINT8, 7));
    w.set("i8", g::make_int(g::ValueType::INT8, -7));
    w.set("u16", g::make_uint(g::ValueType::UINT16, 700));
    w.set("i16", g::make_int(g::ValueType::INT16, -700));
    w.set_uint32("llama.embedding_length", 16);
    w.set_int32("i32", -70000);
    w.set_uint64("u64", uint64_t(1) << 40);
    w.set("i64", g::make_int(g::ValueType::INT64, -(int64_t(1) << 40)));
    w.set_float32("f32", 0.5f);
    w.set("f64", g::make_float(g::ValueType::FLOAT64, 0.25));
    w.set_bool("bool", true);
    w.set_string_array("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "a", "b"});
    w.set("nested", g::make_array(g::ValueType::ARRAY,
                                  {g::make_array(g::ValueType::INT32, {g::make_int(g::ValueType::INT32, 1)}),
                                   g::make_array(g::ValueType::STRING, {g::make_string("x")})}));
    w.add_tensor("token_embd.weight", g::TensorType::F32, {16, 5});
    w.add_tensor("blk.0.attn_norm.weight", g::TensorType::F32, {16});
    w.add_tensor("blk.0.attn_q.weight", g::TensorType::F16, {16, 16});
    w.add_tensor("blk.0.ffn_up.weight", g::TensorType::Q8_0, {32, 2});
    w.add_tensor("output.weight", g::TensorType::F16, {16, 5, 1, 1});
    return w.to_memory([](size_t i, uint8_t* dst, uint64_t n) {
        for (uint64_t k = 0; k < n; ++k) dst[k] = uint8_t(i * 31 + k);
    });
}

void variants(const std::string& dir, const std::string& stem, const Bytes& b, size_t header_end) {
    save(dir, stem + ".gguf", b, b.size());
    // Dense truncations through the header, where every field boundary is an
    // error path, then a few through the tensor data.
    const size_t dense = std::min<size_t>(header_end, 64);
    for (size_t n = 0; n < dense; n += 3) save(dir, stem + "-cut" + std::to_string(n), b, n);
    for (int k = 1; k <= 24; ++k) {
        const size_t n = dense + (header_end - dense) * size_t(k) / 25;
        save(dir, stem + "-cut" + std::to_string(n), b, n);
    }
    for (int k = 1; k <= 4; ++k) {
        const size_t n = header_end + (b.size() - header_end) * size_t(k) / 5;
        save(dir, stem + "-cut" + std::to_string(n), b, n);
    }
    // Bit flips in the magic, version, counts and the first key's fields.
    const size_t flips[] = {0, 3, 4, 7, 8, 15, 16, 23, 24, 31, 32, 35, 36};
    for (size_t pos : flips) {
        if (pos >= b.size()) continue;
        Bytes m = b;
        m[pos] ^= uint8_t(pos % 2 ? 0x80 : 0x01);
        save(dir, stem + "-flip" + std::to_string(pos), m, m.size());
    }
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2 || argc > 3) {
        std::fprintf(stderr, "usage: gguf_seed_corpus OUT_DIR [stories260K.gguf]\n");
        return 2;
    }
    const std::string dir = argv[1];
    try {
        for (uint32_t version : {2u, 3u}) {
            const Bytes b = small_model(version, version == 3 ? 32 : 64);
            const auto f = g::File::from_memory(b.data(), b.size());
            variants(dir, "small-v" + std::to_string(version), b, size_t(f->data_offset()));
        }
        if (argc == 3) {
            std::ifstream in(argv[2], std::ios::binary);
            const Bytes b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
            const auto f = g::File::from_memory(b.data(), b.size());
            variants(dir, "stories260K", b, size_t(f->data_offset()));
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "gguf_seed_corpus: %s\n", e.what());
        return 1;
    }
    std::printf("gguf_seed_corpus: %d files in %s\n", g_written, dir.c_str());
    return 0;
}
