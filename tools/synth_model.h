// Random-weight GGUF models of the architectures the engine serves (llama,
// qwen2, phi3, gpt2, gpt-oss): real shapes and byte counts, meaningless
// weights. Tensor names come from the engine's one name table and metadata
// keys are llama.cpp's, so both worker-orcd and llama.cpp load the result.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace orcd::synth {

struct Shape {
    std::string arch = "llama";
    uint64_t dim = 0, layers = 0, heads = 0, kv_heads = 0, ffn = 0, vocab = 0, ctx = 2048;
    float rope_base = 10000.0f;
    float rms_eps = 1e-5f;
    uint64_t head_dim = 0;       // 0: dim / heads
    bool tied = false;           // no output.weight: the embedding is the LM head
    uint64_t experts = 0, experts_used = 0;  // gpt-oss
    uint64_t window = 0;         // gpt-oss sliding window (even layers)
    float yarn_factor = 0.0f;    // gpt-oss YaRN scaling factor
    uint64_t yarn_orig_ctx = 0;  // ... and its original context
};

// tinyllama-1.1b, llama2-7b, llama3-8b, qwen2.5-0.5b, phi3-mini-4k,
// gpt2-124m, gpt-oss-20b, gpt-oss-tiny; nullopt otherwise.
std::optional<Shape> named_shape(const std::string& name);
const char* named_shapes_list();

enum class MatType { F32, F16, Q8_0 };

struct Spec {
    Shape shape;
    MatType mat = MatType::F32;  // dense matrices; norms, biases, router, sinks stay F32;
                                 // gpt-oss experts are always MXFP4 (written directly)
    float sigma = 0.02f;         // weights ~ N(0, sigma); norms 1 + N(0, sigma/2)
    // gpt-oss router weights and biases ~ N(0, these); negative: sigma. A
    // router whose biases outweigh its weights picks experts far from ties,
    // so that 8-bit activation rounding (llama.cpp's) rarely flips a choice.
    float router_sigma = -1.0f;
    float router_bias_sigma = -1.0f;
    uint64_t seed = 0;
    std::string name = "synthetic";
    std::string vocab_file;      // copy tokenizer.* from here; empty: byte vocab
    bool word_fillers = false;   // byte vocab: fillers render as text (see add_byte_vocab)
    std::string tokenizer_json;  // import this tokenizer.json instead (wins over vocab_file)
    int threads = 0;             // 0: all hardware threads
};

struct Result {
    uint64_t bytes = 0;
    uint64_t n_tensors = 0;
    uint64_t n_params = 0;
    uint64_t vocab = 0;          // the vocabulary size actually written
    double seconds = 0;          // writing only, validation excluded
};

// Writes the model to `path` (via path.partial, renamed when complete).
// Throws std::exception on bad shapes or I/O failure.
Result write_model(const Spec& spec, const std::string& path);

// llama.cpp's general.file_type of a spec's file.
uint32_t file_type(const Spec& spec);

}  // namespace orcd::synth
