// The forward pass of every architecture the engine serves: a pre-norm
// decoder-only transformer. What differs between llama, qwen2, phi3, gpt2
// and gpt-oss is data (the ModelConfig: rope mode and scaling, norm kind,
// biases, windows, sinks, activation, experts) and which tensors a family
// binds; the pass itself is written once, in decoder.cpp. A family is a
// subclass whose constructor reads the config and binds the weights.
#pragma once

#include "engine/adapter.h"

namespace orcd {

class Decoder : public ModelAdapter {
public:
    void forward(Ops& ops) const override;
};

}  // namespace orcd
