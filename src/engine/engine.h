// A loaded model: file, hyper-parameters, weights, tokenizer, backend and
// KV cache, plus the single job slot (one job at a time per model).
#pragma once

#include "engine/backend.h"
#include "engine/kv_cache.h"
#include "engine/model_config.h"
#include "engine/weights.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

#include <orcd/orcd.h>

#include <atomic>
#include <memory>
#include <string>

namespace orcd {

struct ModelLoadParams {
    uint32_t n_ctx = 0;  // 0 = the model's context length
    LoadOptions load;
};

class Model {
public:
    // Loads `path` onto `device`. Every failure is an orcd::Error:
    // MODEL_LOAD_FAILED (file, format, architecture), INSUFFICIENT_VRAM,
    // CUDA_ERROR.
    static std::unique_ptr<Model> load(Device& device, const std::string& path, const ModelLoadParams& params);

    const ModelConfig& config() const { return cfg_; }
    const Tokenizer& tokenizer() const { return *tok_; }
    Backend& backend() { return *backend_; }
    const Backend& backend() const { return *backend_; }
    KvCache& kv() { return kv_; }
    uint32_t max_batch() const { return max_batch_; }
    const orcd_model_info& info() const { return info_; }
    // The mapped GGUF file (metadata such as the chat template).
    const gguf::File& file() const { return *file_; }

    // The single job slot: true when the caller now owns it.
    bool try_acquire() { return !busy_.exchange(true); }
    void release() { busy_.store(false); }

private:
    Model() : kv_(KvLayout{}) {}

    std::unique_ptr<gguf::File> file_;
    ModelConfig cfg_;
    ModelWeights weights_;
    std::unique_ptr<Tokenizer> tok_;
    std::unique_ptr<Backend> backend_;
    KvCache kv_;
    uint32_t max_batch_ = 0;
    orcd_model_info info_{};
    std::atomic<bool> busy_{false};
};

}  // namespace orcd
