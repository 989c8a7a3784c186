#include "json_log.h"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace orcd::server {
namespace {

const char* level_name(Level level) {
    switch (level) {
        case Level::debug: return "debug";
        case Level::info: return "info";
        case Level::warn: return "warn";
        case Level::error: return "error";
    }
    return "info";
}

}  // namespace

std::string utc_timestamp() {
    const auto now = std::chrono::system_clock::now();
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
    const std::time_t t = std::chrono::system_clock::to_time_t(now);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[80];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
    return buf;
}

Logger::Logger(LogFormat format, std::string worker_id, std::FILE* out)
    : format_(format), worker_id_(std::move(worker_id)), out_(out) {}

void Logger::log(Level level, std::string_view event, const nlohmann::json& fields) {
    std::string line;
    if (format_ == LogFormat::json) {
        nlohmann::json obj = {{"ts", utc_timestamp()},
                              {"level", level_name(level)},
                              {"event", event},
                              {"worker_id", worker_id_}};
        for (auto it = fields.begin(); it != fields.end(); ++it) obj[it.key()] = it.value();
        // replace: a log line must never fail because a detail string held bad UTF-8.
        line = obj.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    } else {
        line = utc_timestamp() + " " + level_name(level) + " " + std::string(event) + " worker_id=" + worker_id_;
        for (auto it = fields.begin(); it != fields.end(); ++it) {
            line += " " + it.key() + "=";
            line += it.value().is_string() ? it.value().get<std::string>()
                                           : it.value().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        }
    }
    line.push_back('\n');
    std::lock_guard lock(mu_);
    std::fwrite(line.data(), 1, line.size(), out_);
    std::fflush(out_);
}

}  // namespace orcd::server
