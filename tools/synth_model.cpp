#include "synth_model.h"

#include "gguf/gguf_writer.h"
#include "synth_random.h"
#include "synth_tokenizer_json.h"
#include "synth_vocab.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <future>
#include <stdexcept>
#include <vector>

namespace orcd::synth {

namespace {

using gguf::TensorType;

struct Planned {
    std::string name;
    TensorType type;
    std::vector<uint64_t> dims;
    bool norm;
};

std::vector<Planned> plan(const Shape& s, bool f16) {
    const TensorType mat = f16 ? TensorType::F16 : TensorType::F32;
    const uint64_t head_dim = s.dim / s.heads;
    const uint64_t kv_dim = head_dim * s.kv_heads;
    std::vector<Planned> t;
    t.push_back({"token_embd.weight", mat, {s.dim, s.vocab}, false});
    for (uint64_t l = 0; l < s.layers; ++l) {
        const std::string b = "blk." + std::to_string(l) + ".";
        t.push_back({b + "attn_norm.weight", TensorType::F32, {s.dim}, true});
        t.push_back({b + "attn_q.weight", mat, {s.dim, s.dim}, false});
        t.push_back({b + "attn_k.weight", mat, {s.dim, kv_dim}, false});
        t.push_back({b + "attn_v.weight", mat, {s.dim, kv_dim}, false});
        t.push_back({b + "attn_output.weight", mat, {s.dim, s.dim}, false});
        t.push_back({b + "ffn_norm.weight", TensorType::F32, {s.dim}, true});
        t.push_back({b + "ffn_gate.weight", mat, {s.dim, s.ffn}, false});
        t.push_back({b + "ffn_up.weight", mat, {s.dim, s.ffn}, false});
        t.push_back({b + "ffn_down.weight", mat, {s.ffn, s.dim}, false});
    }
    t.push_back({"output_norm.weight", TensorType::F32, {s.dim}, true});
    t.push_back({"output.weight", mat, {s.dim, s.vocab}, false});
    return t;
}

void check_shape(const Shape& s) {
    if (!s.dim || !s.layers || !s.heads || !s.kv_heads || !s.ffn || !s.vocab || !s.ctx)
        throw std::invalid_argument("every dimension must be positive");
    if (s.dim % s.heads != 0) throw std::invalid_argument("dim must be a multiple of heads");
    if (s.heads % s.kv_heads != 0)
        throw std::invalid_argument("heads must be a multiple of kv-heads");
    if ((s.dim / s.heads) % 2 != 0) throw std::invalid_argument("head dim must be even (RoPE)");
}

// Tensor data moves in chunks of this many elements: generated in parallel
// into one buffer while the previous buffer is being written.
constexpr uint64_t kChunk = uint64_t(1) << 24;
constexpr uint64_t kSlice = uint64_t(1) << 16;  // per-thread unit inside a chunk

void generate(const Planned& t, uint64_t stream, const Spec& spec, uint64_t first, uint64_t n,
              uint8_t* dst) {
    const float mean = t.norm ? 1.0f : 0.0f;
    const float sigma = t.norm ? spec.sigma * 0.5f : spec.sigma;
    const int64_t slices = int64_t((n + kSlice - 1) / kSlice);
    const bool half = t.type == TensorType::F16;
#pragma omp parallel
    {
        std::vector<float> tmp(half ? kSlice : 0);
#pragma omp for schedule(static)
        for (int64_t s = 0; s < slices; ++s) {
            const uint64_t off = uint64_t(s) * kSlice;
            const uint64_t m = std::min(kSlice, n - off);
            if (half) {
                fill_normal(spec.seed, stream, first + off, m, mean, sigma, tmp.data());
                convert_to_f16(tmp.data(), reinterpret_cast<uint16_t*>(dst) + off, m);
            } else {
                fill_normal(spec.seed, stream, first + off, m, mean, sigma,
                            reinterpret_cast<float*>(dst) + off);
            }
        }
    }
}

}  // namespace

std::optional<Shape> named_shape(const std::string& name) {
    // dim, layers, heads, kv_heads, ffn, vocab, ctx, rope base, rms eps
    if (name == "tinyllama-1.1b") return Shape{2048, 22, 32, 4, 5632, 32000, 2048, 10000.0f, 1e-5f};
    if (name == "llama2-7b") return Shape{4096, 32, 32, 32, 11008, 32000, 4096, 10000.0f, 1e-5f};
    if (name == "llama3-8b") return Shape{4096, 32, 32, 8, 14336, 128256, 8192, 500000.0f, 1e-5f};
    if (name == "qwen2.5-0.5b") return Shape{896, 24, 14, 2, 4864, 151936, 32768, 1000000.0f, 1e-6f};
    return std::nullopt;
}

const char* named_shapes_list() { return "tinyllama-1.1b, llama2-7b, llama3-8b, qwen2.5-0.5b"; }

Result write_model(const Spec& spec, const std::string& path) {
    Shape s = spec.shape;
    gguf::Writer w(3);
    w.set_string("general.architecture", "llama");
    w.set_string("general.name", spec.name);
    w.set_uint32("general.file_type", spec.f16 ? 1 : 0);  // llama.cpp: ALL_F32 / MOSTLY_F16

    // The tokenizer decides the vocabulary size when one is given.
    if (!spec.tokenizer_json.empty()) {
        s.vocab = import_tokenizer_json(w, spec.tokenizer_json);
    } else if (!spec.vocab_file.empty()) {
        s.vocab = copy_vocab(w, spec.vocab_file);
    } else {
        add_byte_vocab(w, s.vocab);
    }
    check_shape(s);

    w.set_uint32("llama.vocab_size", uint32_t(s.vocab));
    w.set_uint32("llama.context_length", uint32_t(s.ctx));
    w.set_uint32("llama.embedding_length", uint32_t(s.dim));
    w.set_uint32("llama.block_count", uint32_t(s.layers));
    w.set_uint32("llama.feed_forward_length", uint32_t(s.ffn));
    w.set_uint32("llama.attention.head_count", uint32_t(s.heads));
    w.set_uint32("llama.attention.head_count_kv", uint32_t(s.kv_heads));
    w.set_float32("llama.rope.freq_base", s.rope_base);
    w.set_uint32("llama.rope.dimension_count", uint32_t(s.dim / s.heads));
    w.set_float32("llama.attention.layer_norm_rms_epsilon", s.rms_eps);

    const std::vector<Planned> tensors = plan(s, spec.f16);
    Result r;
    for (const Planned& t : tensors) {
        w.add_tensor(t.name, t.type, t.dims);
        uint64_t n = 1;
        for (uint64_t d : t.dims) n *= d;
        r.n_params += n;
    }
    r.n_tensors = tensors.size();
    r.vocab = s.vocab;
    r.bytes = w.total_size();

    if (spec.threads > 0) omp_set_num_threads(spec.threads);
    const auto t0 = std::chrono::steady_clock::now();
    w.begin_file(path);
    uint64_t largest = 0;
    for (const Planned& t : tensors) {
        uint64_t n = 1;
        for (uint64_t d : t.dims) n *= d;
        largest = std::max(largest, n);
    }
    const size_t buf_bytes = size_t(std::min(kChunk, largest) * 4);
    std::vector<uint8_t> buf[2] = {std::vector<uint8_t>(buf_bytes), std::vector<uint8_t>(buf_bytes)};
    std::future<void> pending;
    int cur = 0;
    for (size_t i = 0; i < tensors.size(); ++i) {
        const Planned& t = tensors[i];
        const uint64_t elem = t.type == TensorType::F16 ? 2 : 4;
        uint64_t n = 1;
        for (uint64_t d : t.dims) n *= d;
        for (uint64_t first = 0; first < n; first += kChunk) {
            const uint64_t m = std::min(kChunk, n - first);
            generate(t, i, spec, first, m, buf[cur].data());
            if (pending.valid()) pending.get();
            const uint8_t* data = buf[cur].data();
            pending = std::async(std::launch::async, [&w, data, m, elem] { w.write_data(data, m * elem); });
            cur ^= 1;
        }
    }
    if (pending.valid()) pending.get();
    w.finish();
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return r;
}

}  // namespace orcd::synth
