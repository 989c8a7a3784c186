// Structured logs: one line per event on stderr, either a JSON object
// ({"ts","level","event","worker_id",...fields}) or "ts LEVEL event k=v ...".
// Prompt and generated text never go through here.
#pragma once

#include "cli_flags.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <mutex>
#include <string>
#include <string_view>

namespace orcd::server {

enum class Level { debug, info, warn, error };

class Logger {
public:
    // Lines go to out (stderr for the worker; tests may pass another stream).
    Logger(LogFormat format, std::string worker_id, std::FILE* out = stderr);

    void log(Level level, std::string_view event, const nlohmann::json& fields = nlohmann::json::object());
    void info(std::string_view event, const nlohmann::json& fields = nlohmann::json::object()) {
        log(Level::info, event, fields);
    }
    void warn(std::string_view event, const nlohmann::json& fields = nlohmann::json::object()) {
        log(Level::warn, event, fields);
    }
    void error(std::string_view event, const nlohmann::json& fields = nlohmann::json::object()) {
        log(Level::error, event, fields);
    }

private:
    LogFormat format_;
    std::string worker_id_;
    std::FILE* out_;
    std::mutex mu_;  // keeps each line whole when threads log at once
};

// Current UTC time as RFC 3339 with milliseconds, e.g. 2025-01-31T12:00:00.123Z.
std::string utc_timestamp();

}  // namespace orcd::server
