// A loaded model: its adapter (hyper-parameters, weights, forward pass),
// tokenizer, backend and KV cache, plus the single job slot (one job at a
// time per model). Once loaded, nothing refers to the file: the backend holds
// its own copy of the weights, the tokenizer and metadata their own strings,
// so the file may be truncated, replaced or deleted under a running worker.
#pragma once

#include "engine/adapter.h"
#include "engine/backend.h"
#include "engine/kv_cache.h"
#include "tokenizer/tokenizer.h"

#include <orcd/orcd.h>

#include <atomic>
#include <map>
#include <memory>
#include <optional>
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

    const ModelConfig& config() const { return adapter_->config(); }
    const ModelAdapter& adapter() const { return *adapter_; }
    // A GGUF metadata value as text (numbers in decimal, booleans as
    // true/false, arrays as "array[N]"), or nullopt when the key is absent.
    std::optional<std::string> metadata(const std::string& key) const;
    // The same text in place (valid while the model lives), or null.
    const std::string* metadata_text(const std::string& key) const;
    const std::string& weight_format() const { return weight_format_; }
    const std::map<std::string, std::string>& metadata() const { return meta_; }
    const Tokenizer& tokenizer() const { return *tok_; }
    Backend& backend() { return *backend_; }
    const Backend& backend() const { return *backend_; }
    KvCache& kv() { return kv_; }
    uint32_t max_batch() const { return max_batch_; }
    const orcd_model_info& info() const { return info_; }

    // The single job slot: true when the caller now owns it.
    bool try_acquire() { return !busy_.exchange(true); }
    void release() { busy_.store(false); }

private:
    Model() : kv_(KvLayout{}) {}

    std::unique_ptr<ModelAdapter> adapter_;
    std::map<std::string, std::string> meta_;
    std::string weight_format_;
    std::unique_ptr<Tokenizer> tok_;
    std::unique_ptr<Backend> backend_;
    KvCache kv_;
    uint32_t max_batch_ = 0;
    orcd_model_info info_{};
    std::atomic<bool> busy_{false};
};

}  // namespace orcd
