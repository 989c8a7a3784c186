// The /health document, built from WorkerState's cached facts only.
#pragma once

#include "worker_state.h"

#include <nlohmann/json.hpp>

namespace orcd::server {

nlohmann::json health_document(WorkerState& state);

}  // namespace orcd::server
