// worker-orcd: loads one model onto one device and serves it over HTTP until
// /shutdown, SIGTERM or SIGINT. Exit codes: 0 after a clean shutdown, 1 when
// the model fails to load, 2 for a bad flag value.
#include "cli_flags.h"
#include "execute_runner.h"
#include "http_server.h"
#include "json_log.h"
#include "metrics.h"
#include "model_loader.h"
#include "server_context.h"
#include "worker_state.h"
#include "version/version_text.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace net = boost::asio;
using namespace orcd::server;

namespace {

constexpr int kIoThreads = 4;

int fail_flag(const std::string& flag, const std::string& message) {
    std::fprintf(stderr, "worker-orcd: %s: %s\n", flag.c_str(), message.c_str());
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    std::signal(SIGPIPE, SIG_IGN);  // a vanished client is an error code, not a signal

    Config cfg;
    try {
        cfg = parse_flags(argc, argv);
    } catch (const HelpRequested&) {
        std::fputs(usage().c_str(), stdout);
        return 0;
    } catch (const VersionRequested&) {
        std::fputs(orcd::version::text("worker-orcd").c_str(), stdout);
        return 0;
    } catch (const FlagError& e) {
        return fail_flag(e.flag(), e.what() + e.flag().size() + 2);
    }

    Logger log(cfg.log_format, cfg.worker_id);
    log.info("startup", {{"version", orcd_version_string()},
                         {"abi_version", orcd_abi_version()},
                         {"commit", orcd_build_commit()},
                         {"bind", cfg.bind},
                         {"port", cfg.port},
                         {"device", cfg.device == ORCD_DEVICE_CPU ? "cpu" : "cuda"},
                         {"model_path", cfg.model_path},
                         {"max_tokens_out", cfg.max_tokens_out},
                         {"inference_timeout_sec", cfg.inference_timeout_sec},
                         {"shutdown_timeout_sec", cfg.shutdown_timeout_sec},
                         {"body_timeout_sec", cfg.body_timeout_sec},
#if defined(ORCD_FAULT_INJECTION)
                         // A test build: ORCD_FAULT_INJECT can make it fail on purpose.
                         {"fault_injection", true}
#else
                         {"fault_injection", false}
#endif
                        });

    WorkerState state(cfg.worker_id);
    Metrics metrics;
    JobRunner runner(cfg, state, metrics, log);

    std::mutex shutdown_mu;
    std::condition_variable shutdown_cv;
    std::optional<std::string> shutdown_reason;
    ServerContext ctx{cfg, log, state, metrics, runner, {}, {}};
    ctx.request_shutdown = [&](const std::string& reason) {
        state.begin_draining();
        {
            std::lock_guard lock(shutdown_mu);
            if (!shutdown_reason) shutdown_reason = reason;
        }
        shutdown_cv.notify_all();
    };

    net::io_context ioc(kIoThreads);
    HttpServer server(ioc, ctx);
    try {
        server.listen(cfg.bind, cfg.port);
    } catch (const boost::system::system_error& e) {
        const bool port_problem = e.code() == net::error::address_in_use || e.code() == net::error::access_denied;
        return fail_flag(port_problem ? "--port" : "--bind",
                         "cannot listen on " + cfg.bind + ":" + std::to_string(cfg.port) + ": " + e.code().message());
    }

    net::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& ec, int signo) {
        if (!ec) ctx.request_shutdown(signo == SIGTERM ? "SIGTERM" : "SIGINT");
    });
    auto work = net::make_work_guard(ioc);
    std::vector<std::thread> io_threads;
    for (int i = 0; i < kIoThreads; ++i) io_threads.emplace_back([&] { ioc.run(); });
    auto stop_io = [&] {
        server.stop_accepting();
        work.reset();
        ioc.stop();
        for (auto& t : io_threads) t.join();
    };
    // /health answers "loading" while the model loads.
    server.start_accepting();

    std::optional<LoadedModel> loaded;
    try {
        loaded.emplace(load_model(cfg, log));
    } catch (const DeviceOpenError& e) {
        log.error("error", {{"code", e.name()}, {"message", e.what()}});
        stop_io();
        // The flag was well-formed but the device cannot be used (no such GPU,
        // no CUDA in this build): a start-up failure, exit 1, naming the flag.
        fail_flag(cfg.device == ORCD_DEVICE_CPU ? "--device" : (cfg.gpu_index != 0 ? "--gpu-device" : "--device"),
                  std::string("cannot open the device: ") + e.name() + ": " + e.what());
        return 1;
    } catch (const EngineError& e) {
        log.error("error", {{"code", e.name()}, {"message", e.what()}});
        std::fprintf(stderr, "worker-orcd: %s: %s\n", e.name(), e.what());
        stop_io();
        return 1;
    }

    state.set_model(&loaded->model, loaded->facts);
    {
        std::lock_guard engine(state.engine_mutex());
        state.refresh_memory_locked();
    }
    runner.start();
    if (state.mark_ready())
        log.info("ready", {{"bind", cfg.bind}, {"port", cfg.port}, {"model", loaded->facts.name}});

    std::string reason;
    {
        std::unique_lock lock(shutdown_mu);
        shutdown_cv.wait(lock, [&] { return shutdown_reason.has_value(); });
        reason = *shutdown_reason;
    }

    // Drain: the running job may finish within the timeout, then it is cancelled.
    log.info("shutdown", {{"reason", reason}, {"busy", state.busy()}, {"timeout_sec", cfg.shutdown_timeout_sec}});
    using Clock = std::chrono::steady_clock;
    const auto timeout = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(cfg.shutdown_timeout_sec));
    if (!state.wait_idle_until(Clock::now() + timeout)) {
        log.warn("shutdown_cancel_job", {{"reason", "the shutdown timeout passed"}});
        state.cancel_running();
        state.wait_idle_until(Clock::now() + std::chrono::seconds(5));
    }
    // Let the last events (and the /shutdown answer) leave before the sockets go.
    const auto flush_deadline = Clock::now() + std::chrono::seconds(2);
    while (ctx.open_executes.load() > 0 && Clock::now() < flush_deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));

    stop_io();
    runner.stop();
    loaded.reset();
    log.info("shutdown_complete", {{"reason", reason}, {"uptime_seconds", state.uptime_seconds()}});
    return 0;
}
