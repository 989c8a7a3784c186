// Random-weight Llama-architecture GGUF models: real shapes and byte counts,
// meaningless weights. Tensor names and metadata keys are llama.cpp's, so
// both worker-orcd and llama.cpp load the result.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace orcd::synth {

struct Shape {
    uint64_t dim = 0, layers = 0, heads = 0, kv_heads = 0, ffn = 0, vocab = 0, ctx = 2048;
    float rope_base = 10000.0f;
    float rms_eps = 1e-5f;
};

// tinyllama-1.1b, llama2-7b, llama3-8b, qwen2.5-0.5b; nullopt otherwise.
std::optional<Shape> named_shape(const std::string& name);
const char* named_shapes_list();

struct Spec {
    Shape shape;
    bool f16 = false;           // matrices F16; norms stay F32
    float sigma = 0.02f;        // weights ~ N(0, sigma); norms 1 + N(0, sigma/2)
    uint64_t seed = 0;
    std::string name = "synthetic";
    std::string vocab_file;     // copy tokenizer.* from here; empty: byte vocab
    std::string tokenizer_json; // import this tokenizer.json instead (wins over vocab_file)
    int threads = 0;            // 0: all hardware threads
};

struct Result {
    uint64_t bytes = 0;
    uint64_t n_tensors = 0;
    uint64_t n_params = 0;
    uint64_t vocab = 0;         // the vocabulary size actually written
    double seconds = 0;         // writing only, validation excluded
};

// Writes the model to `path` (via path.partial, renamed when complete).
// Throws std::exception on bad shapes or I/O failure.
Result write_model(const Spec& spec, const std::string& path);

}  // namespace orcd::synth
