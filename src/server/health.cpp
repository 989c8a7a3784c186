#include "health.h"

#include <cmath>

namespace orcd::server {

nlohmann::json health_document(WorkerState& state) {
    nlohmann::json doc = {{"status", status_name(state.status())},
                          {"worker_id", state.worker_id()},
                          {"uptime_seconds", std::floor(state.uptime_seconds() * 1000.0) / 1000.0},
                          {"busy", state.busy()}};
    if (state.model() == nullptr) return doc;  // still loading: nothing more is known

    const ModelFacts& f = state.facts();
    const MemoryReading mem = state.memory();
    doc["model"] = f.name;
    doc["architecture"] = f.architecture;
    doc["resident"] = mem.resident;
    doc["quant_kind"] = f.quant_kind;
    doc["vram_bytes_used"] = mem.bytes_used;
    doc["tokenizer_kind"] = f.tokenizer_kind;
    doc["vocab_size"] = f.vocab_size;
    doc["context_length"] = f.context_length;
    doc["device"] = f.device;
    if (f.gpu) {
        doc["sm"] = f.sm;
        doc["gpu_name"] = f.gpu_name;
        doc["cuda_runtime_version"] = f.cuda_runtime_version;
    }
    return doc;
}

}  // namespace orcd::server
