#include "model_loader.h"

#include <chrono>

namespace orcd::server {
namespace {

void log_progress(void* user, int32_t percent, uint64_t bytes_done, uint64_t bytes_total) {
    static_cast<Logger*>(user)->info("model_load_progress",
                                     {{"percent", percent}, {"bytes_done", bytes_done}, {"bytes_total", bytes_total}});
}

std::string version_string(int32_t v) {
    // CUDA encodes versions as 1000 * major + 10 * minor.
    return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

}  // namespace

LoadedModel load_model(const Config& cfg, Logger& log) {
    orcd_device_params dp = orcd_device_default_params();
    dp.kind = cfg.device;
    dp.gpu_index = cfg.gpu_index;
    dp.cpu_threads = cfg.cpu_threads;
    Device device = [&] {
        try {
            return Device::open(dp);
        } catch (const EngineError& e) {
            throw DeviceOpenError(e.code(), e.what());
        }
    }();
    const orcd_device_info dinfo = device.info();

    log.info("model_load_start", {{"path", cfg.model_path},
                                  {"device", cfg.device == ORCD_DEVICE_CPU ? "cpu" : "cuda"},
                                  {"ctx_size", cfg.ctx_size}});
    orcd_model_params mp = orcd_model_default_params();
    mp.n_ctx = cfg.ctx_size;
    mp.load_chunk_bytes = cfg.load_chunk_bytes;
    mp.progress = &log_progress;
    mp.progress_user = &log;
    Model model = Model::load(device, cfg.model_path, mp);
    const orcd_model_info info = model.info();

    ModelFacts f;
    f.name = info.name;
    f.architecture = info.architecture;
    f.quant_kind = info.quant_kind;
    f.weight_format = orcd_model_weight_format(model.get());
    f.tokenizer_kind = info.tokenizer_kind;
    f.vocab_size = info.vocab_size;
    f.context_length = info.context_length;
    f.gpu = dinfo.kind == ORCD_DEVICE_CUDA;
    f.device = f.gpu ? "cuda:" + std::to_string(cfg.gpu_index) : "cpu";
    if (f.gpu) {
        f.gpu_name = dinfo.name;
        f.sm = "sm_" + std::to_string(dinfo.sm_major) + std::to_string(dinfo.sm_minor);
        f.cuda_runtime_version = version_string(dinfo.cuda_runtime_version);
    }
    f.chat = chat_setup(model, cfg.chat_template);
    log.info("model_load_complete", {{"model", f.name},
                                     {"chat_template", f.chat.family ? chat::family_name(*f.chat.family) : "none"},
                                     {"architecture", f.architecture},
                                     {"quant_kind", f.quant_kind},
                                     {"context_length", f.context_length},
                                     {"bytes_resident", info.bytes_resident},
                                     {"load_seconds", info.load_seconds},
                                     {"load_gbps", info.load_gbps}});
    return LoadedModel{std::move(device), std::move(model), std::move(f)};
}

}  // namespace orcd::server
