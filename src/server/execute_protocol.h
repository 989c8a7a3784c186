// /execute's framing: SSE events started, token*, then end or error.
#pragma once

#include "job_protocol.h"

namespace orcd::server {

class ExecuteProtocol final : public JobProtocol {
public:
    explicit ExecuteProtocol(std::string job_id) : job_id_(std::move(job_id)) {}
    Rejection reject(unsigned http_status, const nlohmann::json& execute_body) const override;
    std::string head(const std::string& correlation_id) override;
    std::string started(const JobStarted& s) override;
    std::string step(const JobStep& s) override;
    std::string ended(const JobEnded& e) override;
    std::string failed(orcd_status code, const std::string& message, const nlohmann::json& extra) override;

private:
    std::string job_id_;
    uint32_t events_ = 0;
};

// The names of stop reasons in /execute's `end` and in the logs.
const char* stop_reason_name(orcd_stop_reason r);

}  // namespace orcd::server
