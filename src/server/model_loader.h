// Opening the device and loading the model, with the load's progress logged.
#pragma once

#include "cli_flags.h"
#include "engine_wrappers.h"
#include "json_log.h"
#include "worker_state.h"

namespace orcd::server {

struct LoadedModel {
    Device device;
    Model model;  // declared after device: destroyed first
    ModelFacts facts;
};

// Throws DeviceOpenError when the device cannot be opened (a bad --device /
// --gpu-device value) and EngineError when the model does not load.
LoadedModel load_model(const Config& cfg, Logger& log);

class DeviceOpenError : public EngineError {
public:
    using EngineError::EngineError;
};

}  // namespace orcd::server
