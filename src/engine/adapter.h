// Model adapters: one per GGUF `general.architecture`. An adapter reads its
// hyper-parameters into a ModelConfig, binds its tensors by role
// (engine/tensor_names.h) and writes the forward pass top to bottom over the
// block-level Ops (engine/ops.h), which every backend implements. Adding an
// architecture is adding an adapter: no backend changes unless it needs an
// operation the Ops do not have yet.
#pragma once

#include "engine/model_config.h"
#include "engine/ops.h"
#include "engine/weights.h"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace orcd::gguf { class File; }

namespace orcd {

class ModelAdapter {
public:
    virtual ~ModelAdapter() = default;
    const ModelConfig& config() const { return cfg_; }
    const ModelWeights& weights() const { return w_; }
    ModelWeights& weights() { return w_; }
    // One forward pass over the batch the backend has set up.
    virtual void forward(Ops& ops) const = 0;

protected:
    ModelConfig cfg_;
    ModelWeights w_;
};

// Reads the config and binds the weights of a file of this architecture;
// MODEL_LOAD_FAILED names what is missing or malformed.
using AdapterFactory = std::unique_ptr<ModelAdapter> (*)(const gguf::File& file);

// The registry, keyed by general.architecture. Built-in adapters register
// themselves from engine/adapters/; tests may register more.
void register_adapter(std::string_view architecture, AdapterFactory factory);
// The adapter of `file`'s architecture; an unknown architecture fails with
// MODEL_LOAD_FAILED naming it and listing the supported ones.
std::unique_ptr<ModelAdapter> make_adapter(const gguf::File& file);
// Registered architectures, sorted.
std::vector<std::string> supported_architectures();

// Registers an adapter at static-initialisation time:
//   ORCD_REGISTER_ADAPTER("llama", make_llama);
struct AdapterRegistration {
    AdapterRegistration(std::string_view architecture, AdapterFactory factory) {
        register_adapter(architecture, factory);
    }
};

}  // namespace orcd
