// The server child process of the HTTP figures (worker-orcd, or llama-server
// beside it): started on a free port with its log in a file, waited for
// (bounded) until it is ready, and always stopped: SIGTERM, then SIGKILL,
// both with bounded waits. The child also dies with this program
// (PR_SET_PDEATHSIG), and SIGINT/SIGTERM of this program kill it first.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <sys/types.h>

namespace orcd::bench {

// Which server a ServerProcess runs: how it is given its port and how it
// says it is ready.
enum class ServerKind {
    Worker,       // worker-orcd: `--port N --log-format json`, ready when it logs "event":"ready"
    LlamaServer,  // llama-server: `--port N`, ready when GET /health answers 200
};

class ServerProcess {
public:
    // Spawns `binary args... --port N ...` and waits until it is ready.
    // Throws std::runtime_error (with the log's tail) when the server exits
    // or is not ready within ready_timeout_s.
    ServerProcess(ServerKind kind, const std::string& binary, const std::vector<std::string>& args,
                  const std::string& log_path, double ready_timeout_s);
    ~ServerProcess();
    ServerProcess(const ServerProcess&) = delete;
    ServerProcess& operator=(const ServerProcess&) = delete;

    uint16_t port() const { return port_; }
    double ready_seconds() const { return ready_s_; }
    // SIGTERM, up to term_wait_s, then SIGKILL; returns a description of how
    // it ended ("exit 0", "killed after SIGTERM timeout", ...).
    std::string stop(double term_wait_s = 15);
    std::string log_tail(size_t bytes = 4000) const;
    const std::string& log_path() const { return log_path_; }

private:
    bool spawn_once(const std::string& binary, const std::vector<std::string>& args, double ready_timeout_s);
    bool ready() const;
    bool lost_port_race(int exit_code) const;
    const char* name() const;

    ServerKind kind_;
    pid_t pid_ = -1;
    uint16_t port_ = 0;
    double ready_s_ = 0;
    std::string log_path_;
};

// A TCP port on 127.0.0.1 that nobody listens on right now.
uint16_t free_port();
// Installs SIGINT/SIGTERM handlers that SIGKILL the running server (if any)
// before this program exits.
void install_child_reaper();

}  // namespace orcd::bench
