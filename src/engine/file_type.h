// general.file_type: the weight format a GGUF file says it has ("Q4_K_M"),
// which is what /health, /metrics and model info report as quant_kind.
#pragma once

#include <string>

namespace orcd::gguf { class File; }

namespace orcd {

struct ModelWeights;

// The name of the file's general.file_type (llama.cpp's ftype numbering:
// "F32", "F16", "Q4_0", ..., "Q4_K_M", "MXFP4"); when the key is absent or
// holds a number we do not know, the type holding the most matrix bytes.
std::string quant_kind(const gguf::File& file, const ModelWeights& w);

}  // namespace orcd
