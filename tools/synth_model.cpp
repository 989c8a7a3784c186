#include "synth_model.h"

#include "engine/tensor_names.h"
#include "gguf/gguf_writer.h"
#include "synth_quant.h"
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

// What a tensor's values are drawn from.
enum class Kind {
    Weight,  // N(0, sigma)
    Norm,    // 1 + N(0, sigma / 2)
    Sink,    // N(0, 1): sink logits on the scale of attention scores
    Router,      // N(0, router_sigma)
    RouterBias,  // N(0, router_bias_sigma)
};

struct Planned {
    std::string name;
    TensorType type;
    std::vector<uint64_t> dims;
    Kind kind;
};

uint64_t elements(const Planned& t) {
    uint64_t n = 1;
    for (uint64_t d : t.dims) n *= d;
    return n;
}

uint64_t bytes_of(TensorType type, uint64_t n) {
    uint64_t be = 0, bb = 0;
    gguf::tensor_type_layout(uint32_t(type), &be, &bb);
    return n / be * bb;
}

TensorType mat_type(MatType m) {
    switch (m) {
        case MatType::F16: return TensorType::F16;
        case MatType::Q8_0: return TensorType::Q8_0;
        default: return TensorType::F32;
    }
}

uint64_t head_dim(const Shape& s) { return s.head_dim ? s.head_dim : s.dim / s.heads; }

// The tensors of one file, in llama.cpp's names, per architecture.
std::vector<Planned> plan(const Shape& s, MatType mt) {
    using R = TensorRole;
    const TensorType mat = mat_type(mt), f32 = TensorType::F32;
    const uint64_t E = s.dim, hd = head_dim(s), Q = s.heads * hd, KV = s.kv_heads * hd, F = s.ffn, V = s.vocab;
    const bool gpt2 = s.arch == "gpt2", phi3 = s.arch == "phi3", oss = s.arch == "gpt-oss";
    const bool qkv_bias = s.arch == "qwen2" || oss;
    std::vector<Planned> t;
    auto add = [&](R role, int layer, TensorType type, std::vector<uint64_t> dims, Kind kind = Kind::Weight) {
        t.push_back({tensor_name(role, layer), type, std::move(dims), kind});
    };
    add(R::TokEmbd, -1, mat, {E, V});
    if (gpt2) add(R::PosEmbd, -1, f32, {E, s.ctx});
    for (uint64_t l = 0; l < s.layers; ++l) {
        const int i = int(l);
        add(R::AttnNorm, i, f32, {E}, Kind::Norm);
        if (gpt2) add(R::AttnNormBias, i, f32, {E});
        if (gpt2 || phi3) {
            add(R::AttnQkv, i, mat, {E, Q + 2 * KV});
            if (gpt2) add(R::AttnQkvBias, i, f32, {Q + 2 * KV});
        } else {
            add(R::AttnQ, i, mat, {E, Q});
            add(R::AttnK, i, mat, {E, KV});
            add(R::AttnV, i, mat, {E, KV});
            if (qkv_bias) {
                add(R::AttnQBias, i, f32, {Q});
                add(R::AttnKBias, i, f32, {KV});
                add(R::AttnVBias, i, f32, {KV});
            }
        }
        add(R::AttnOut, i, mat, {Q, E});
        if (gpt2 || oss) add(R::AttnOutBias, i, f32, {E});
        if (oss) {
            add(R::AttnSinks, i, f32, {s.heads}, Kind::Sink);
            add(R::PostAttnNorm, i, f32, {E}, Kind::Norm);
            add(R::MoeRouter, i, f32, {E, s.experts}, Kind::Router);
            add(R::MoeRouterBias, i, f32, {s.experts}, Kind::RouterBias);
            add(R::MoeGate, i, TensorType::MXFP4, {E, F, s.experts});
            add(R::MoeGateBias, i, f32, {F, s.experts});
            add(R::MoeUp, i, TensorType::MXFP4, {E, F, s.experts});
            add(R::MoeUpBias, i, f32, {F, s.experts});
            add(R::MoeDown, i, TensorType::MXFP4, {F, E, s.experts});
            add(R::MoeDownBias, i, f32, {E, s.experts});
            continue;
        }
        add(R::FfnNorm, i, f32, {E}, Kind::Norm);
        if (gpt2) {
            add(R::FfnNormBias, i, f32, {E});
            add(R::FfnUp, i, mat, {E, F});
            add(R::FfnUpBias, i, f32, {F});
            add(R::FfnDown, i, mat, {F, E});
            add(R::FfnDownBias, i, f32, {E});
        } else if (phi3) {
            add(R::FfnUp, i, mat, {E, 2 * F});  // gate rows, then up rows
            add(R::FfnDown, i, mat, {F, E});
        } else {
            add(R::FfnGate, i, mat, {E, F});
            add(R::FfnUp, i, mat, {E, F});
            add(R::FfnDown, i, mat, {F, E});
        }
    }
    add(R::OutputNorm, -1, f32, {E}, Kind::Norm);
    if (gpt2) add(R::OutputNormBias, -1, f32, {E});
    if (!s.tied) add(R::Output, -1, mat, {E, V});
    return t;
}

void check_shape(const Shape& s, MatType mt) {
    if (!s.dim || !s.layers || !s.heads || !s.kv_heads || !s.ffn || !s.vocab || !s.ctx)
        throw std::invalid_argument("every dimension must be positive");
    if (!s.head_dim && s.dim % s.heads != 0) throw std::invalid_argument("dim must be a multiple of heads");
    if (s.heads % s.kv_heads != 0) throw std::invalid_argument("heads must be a multiple of kv-heads");
    if (head_dim(s) % 2 != 0) throw std::invalid_argument("head dim must be even (RoPE)");
    if (s.arch == "gpt-oss" && (s.experts == 0 || s.experts_used == 0 || s.experts_used > s.experts))
        throw std::invalid_argument("gpt-oss needs experts and 1 <= experts-used <= experts");
    const bool blocks = mt == MatType::Q8_0 || s.arch == "gpt-oss";
    if (blocks && (s.dim % 32 != 0 || s.ffn % 32 != 0 || (s.heads * head_dim(s)) % 32 != 0))
        throw std::invalid_argument("block formats need dim, ffn and heads * head_dim multiples of 32");
}

void write_hparams(gguf::Writer& w, const Shape& s) {
    const std::string a = s.arch + ".";
    w.set_uint32(a + "vocab_size", uint32_t(s.vocab));
    w.set_uint32(a + "context_length", uint32_t(s.ctx));
    w.set_uint32(a + "embedding_length", uint32_t(s.dim));
    w.set_uint32(a + "block_count", uint32_t(s.layers));
    w.set_uint32(a + "feed_forward_length", uint32_t(s.ffn));
    w.set_uint32(a + "attention.head_count", uint32_t(s.heads));
    if (s.arch == "gpt2") {
        w.set_float32(a + "attention.layer_norm_epsilon", s.rms_eps);
        return;
    }
    w.set_uint32(a + "attention.head_count_kv", uint32_t(s.kv_heads));
    w.set_float32(a + "rope.freq_base", s.rope_base);
    w.set_float32(a + "attention.layer_norm_rms_epsilon", s.rms_eps);
    if (s.arch == "llama" || s.arch == "phi3") w.set_uint32(a + "rope.dimension_count", uint32_t(head_dim(s)));
    if (s.arch == "phi3") w.set_uint32(a + "rope.scaling.original_context_length", uint32_t(s.ctx));
    if (s.arch == "gpt-oss") {
        w.set_uint32(a + "expert_feed_forward_length", uint32_t(s.ffn));
        w.set_uint32(a + "expert_count", uint32_t(s.experts));
        w.set_uint32(a + "expert_used_count", uint32_t(s.experts_used));
        w.set_uint32(a + "attention.key_length", uint32_t(head_dim(s)));
        w.set_uint32(a + "attention.value_length", uint32_t(head_dim(s)));
        w.set_uint32(a + "attention.sliding_window", uint32_t(s.window));
        if (s.yarn_factor > 0) {
            w.set_string(a + "rope.scaling.type", "yarn");
            w.set_float32(a + "rope.scaling.factor", s.yarn_factor);
            w.set_uint32(a + "rope.scaling.original_context_length", uint32_t(s.yarn_orig_ctx));
        }
    }
}

// Tensor data moves in chunks of this many elements (a multiple of every
// block size): generated in parallel into one buffer while the previous
// buffer is being written.
constexpr uint64_t kChunk = uint64_t(1) << 24;
constexpr uint64_t kSlice = uint64_t(1) << 16;  // per-thread unit inside a chunk

void generate(const Planned& t, uint64_t stream, const Spec& spec, uint64_t first, uint64_t n, uint8_t* dst) {
    const float mean = t.kind == Kind::Norm ? 1.0f : 0.0f;
    auto or_sigma = [&](float s) { return s < 0.0f ? spec.sigma : s; };
    float sigma = spec.sigma;
    switch (t.kind) {
        case Kind::Weight: break;
        case Kind::Norm: sigma = spec.sigma * 0.5f; break;
        case Kind::Sink: sigma = 1.0f; break;
        case Kind::Router: sigma = or_sigma(spec.router_sigma); break;
        case Kind::RouterBias: sigma = or_sigma(spec.router_bias_sigma); break;
    }
    const int64_t slices = int64_t((n + kSlice - 1) / kSlice);
#pragma omp parallel
    {
        std::vector<float> tmp(t.type == TensorType::F32 ? 0 : kSlice);
#pragma omp for schedule(static)
        for (int64_t s = 0; s < slices; ++s) {
            const uint64_t off = uint64_t(s) * kSlice;
            const uint64_t m = std::min(kSlice, n - off);
            uint8_t* out = dst + bytes_of(t.type, off);
            if (t.type == TensorType::F32) {
                fill_normal(spec.seed, stream, first + off, m, mean, sigma, reinterpret_cast<float*>(out));
                continue;
            }
            fill_normal(spec.seed, stream, first + off, m, mean, sigma, tmp.data());
            if (t.type == TensorType::F16)
                convert_to_f16(tmp.data(), reinterpret_cast<uint16_t*>(out), m);
            else if (t.type == TensorType::Q8_0)
                encode_q8_0(tmp.data(), out, m);
            else
                encode_mxfp4(tmp.data(), out, m);
        }
    }
}

}  // namespace

std::optional<Shape> named_shape(const std::string& name) {
    // arch, dim, layers, heads, kv_heads, ffn, vocab, ctx, rope base, rms eps
    auto shape = [](const char* arch, uint64_t dim, uint64_t layers, uint64_t heads, uint64_t kv, uint64_t ffn,
                    uint64_t vocab, uint64_t ctx, float rope, float eps) {
        Shape s;
        s.arch = arch;
        s.dim = dim, s.layers = layers, s.heads = heads, s.kv_heads = kv, s.ffn = ffn, s.vocab = vocab, s.ctx = ctx;
        s.rope_base = rope, s.rms_eps = eps;
        return s;
    };
    if (name == "tinyllama-1.1b") return shape("llama", 2048, 22, 32, 4, 5632, 32000, 2048, 10000.0f, 1e-5f);
    if (name == "llama2-7b") return shape("llama", 4096, 32, 32, 32, 11008, 32000, 4096, 10000.0f, 1e-5f);
    if (name == "llama3-8b") return shape("llama", 4096, 32, 32, 8, 14336, 128256, 8192, 500000.0f, 1e-5f);
    if (name == "qwen2.5-0.5b") {
        Shape s = shape("qwen2", 896, 24, 14, 2, 4864, 151936, 32768, 1000000.0f, 1e-6f);
        s.tied = true;
        return s;
    }
    if (name == "phi3-mini-4k") return shape("phi3", 3072, 32, 32, 32, 8192, 32064, 4096, 10000.0f, 1e-5f);
    if (name == "gpt2-124m") {
        Shape s = shape("gpt2", 768, 12, 12, 12, 3072, 50257, 1024, 0.0f, 1e-5f);
        s.tied = true;
        return s;
    }
    if (name == "gpt-oss-20b" || name == "gpt-oss-tiny") {
        Shape s = name == "gpt-oss-20b" ? shape("gpt-oss", 2880, 24, 64, 8, 2880, 201088, 131072, 150000.0f, 1e-5f)
                                        : shape("gpt-oss", 128, 2, 4, 2, 128, 512, 512, 150000.0f, 1e-5f);
        s.head_dim = name == "gpt-oss-20b" ? 64 : 32;
        s.experts = name == "gpt-oss-20b" ? 32 : 4;
        s.experts_used = name == "gpt-oss-20b" ? 4 : 2;
        s.window = name == "gpt-oss-20b" ? 128 : 8;
        s.yarn_factor = 32.0f;
        s.yarn_orig_ctx = name == "gpt-oss-20b" ? 4096 : 64;
        return s;
    }
    return std::nullopt;
}

const char* named_shapes_list() {
    return "tinyllama-1.1b, llama2-7b, llama3-8b, qwen2.5-0.5b, phi3-mini-4k, gpt2-124m, gpt-oss-20b, gpt-oss-tiny";
}

uint32_t file_type(const Spec& spec) {
    // llama.cpp's llama_ftype: ALL_F32, MOSTLY_F16, MOSTLY_Q8_0, MOSTLY_MXFP4_MOE.
    if (spec.shape.arch == "gpt-oss") return 38;
    return spec.mat == MatType::F16 ? 1 : (spec.mat == MatType::Q8_0 ? 7 : 0);
}

Result write_model(const Spec& spec, const std::string& path) {
    Shape s = spec.shape;
    gguf::Writer w(3);
    w.set_string("general.architecture", s.arch);
    w.set_string("general.name", spec.name);
    w.set_uint32("general.file_type", file_type(spec));

    // The tokenizer decides the vocabulary size when one is given; a named
    // shape's size pads a tokenizer.json as the converter pads it.
    if (!spec.tokenizer_json.empty()) {
        s.vocab = import_tokenizer_json(w, spec.tokenizer_json, s.vocab);
    } else if (!spec.vocab_file.empty()) {
        s.vocab = copy_vocab(w, spec.vocab_file);
    } else {
        add_byte_vocab(w, s.vocab, spec.word_fillers);
    }
    check_shape(s, spec.mat);
    write_hparams(w, s);

    const std::vector<Planned> tensors = plan(s, spec.mat);
    Result r;
    for (const Planned& t : tensors) {
        w.add_tensor(t.name, t.type, t.dims);
        r.n_params += elements(t);
    }
    r.n_tensors = tensors.size();
    r.vocab = s.vocab;
    r.bytes = w.total_size();

    if (spec.threads > 0) omp_set_num_threads(spec.threads);
    const auto t0 = std::chrono::steady_clock::now();
    w.begin_file(path);
    uint64_t largest = 0;
    for (const Planned& t : tensors) largest = std::max(largest, elements(t));
    const size_t buf_bytes = size_t(std::min(kChunk, largest) * 4);
    std::vector<uint8_t> buf[2] = {std::vector<uint8_t>(buf_bytes), std::vector<uint8_t>(buf_bytes)};
    std::future<void> pending;
    int cur = 0;
    for (size_t i = 0; i < tensors.size(); ++i) {
        const Planned& t = tensors[i];
        const uint64_t n = elements(t);
        for (uint64_t first = 0; first < n; first += kChunk) {
            const uint64_t m = std::min(kChunk, n - first);
            generate(t, i, spec, first, m, buf[cur].data());
            if (pending.valid()) pending.get();
            const uint8_t* data = buf[cur].data();
            const uint64_t bytes = bytes_of(t.type, m);
            pending = std::async(std::launch::async, [&w, data, bytes] { w.write_data(data, bytes); });
            cur ^= 1;
        }
    }
    if (pending.valid()) pending.get();
    w.finish();
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return r;
}

}  // namespace orcd::synth
