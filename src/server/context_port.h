// The real worker behind WorkerPort: its state, counters, log and shutdown
// hook, as main() assembled them in the ServerContext.
#pragma once

#include "server_context.h"
#include "worker_port.h"

namespace orcd::server {

class ContextPort final : public WorkerPort {
public:
    explicit ContextPort(ServerContext& ctx) : ctx_(ctx) {}
    Status status() const override;
    RequestLimits request_limits() const override;
    nlohmann::json health() override;
    std::string metrics_text() override;
    std::optional<nlohmann::json> models() override;
    std::string model_name() const override;
    std::string system_fingerprint() const override;
    const ChatSetup& chat() const override;
    bool cancel_job(const std::string& job_id) override;
    void request_shutdown() override;
    void count_request(Outcome outcome) override;
    Logger& log() override;

private:
    ServerContext& ctx_;
};

}  // namespace orcd::server
