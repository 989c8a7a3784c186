#include "bench_process.h"

#include "bench_socket.h"
#include "bench_timer.h"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace orcd::bench {
namespace {

volatile sig_atomic_t g_child = -1;

void on_fatal_signal(int sig) {
    const pid_t child = g_child;
    if (child > 0) {
        kill(child, SIGKILL);
        waitpid(child, nullptr, 0);
    }
    _exit(128 + sig);
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// The exit status once the child has exited within timeout_s; -1 meanwhile.
// A death by signal reads as 128 + signo.
int reap(pid_t pid, double timeout_s) {
    const double deadline = host_seconds() + timeout_s;
    for (;;) {
        int status = 0;
        const pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            if (WIFEXITED(status)) return WEXITSTATUS(status);
            if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
            return 255;
        }
        if (r < 0) return 255;  // not our child any more: nothing left to wait for
        if (host_seconds() >= deadline) return -1;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

}  // namespace

uint16_t free_port() {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        if (fd >= 0) close(fd);
        throw std::runtime_error("cannot find a free TCP port");
    }
    close(fd);
    return ntohs(addr.sin_port);
}

void install_child_reaper() {
    struct sigaction sa {};
    sa.sa_handler = on_fatal_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGHUP, &sa, nullptr);
}

ServerProcess::ServerProcess(ServerKind kind, const std::string& binary, const std::vector<std::string>& args,
                             const std::string& log_path, double ready_timeout_s)
    : kind_(kind), log_path_(log_path) {
    if (access(binary.c_str(), X_OK) != 0)
        throw std::runtime_error(std::string(name()) + " binary '" + binary + "' is not executable" +
                                 (kind == ServerKind::Worker ? " (build the worker-orcd target or pass --worker PATH)"
                                                             : ""));
    // Another process may take the port between free_port() and the bind.
    for (int attempt = 0; attempt < 5; ++attempt)
        if (spawn_once(binary, args, ready_timeout_s)) return;
    throw std::runtime_error(std::string(name()) + " could not bind a port in 5 attempts; log tail:\n" + log_tail());
}

const char* ServerProcess::name() const { return kind_ == ServerKind::Worker ? "worker-orcd" : "llama-server"; }

bool ServerProcess::ready() const {
    if (kind_ == ServerKind::Worker) return read_file(log_path_).find("\"event\":\"ready\"") != std::string::npos;
    // llama-server answers /health with 503 while it loads the model.
    return http_get_status(port_, "/health", 2) == 200;
}

bool ServerProcess::lost_port_race(int code) const {
    const std::string log = read_file(log_path_);
    if (kind_ == ServerKind::Worker)
        return code == 2 && log.find("--port") != std::string::npos && log.find("cannot listen") != std::string::npos;
    return log.find("couldn't bind") != std::string::npos;
}

bool ServerProcess::spawn_once(const std::string& binary, const std::vector<std::string>& args,
                               double ready_timeout_s) {
    port_ = free_port();
    std::vector<std::string> full = {binary};
    full.insert(full.end(), args.begin(), args.end());
    full.insert(full.end(), {"--port", std::to_string(port_)});
    if (kind_ == ServerKind::Worker) full.insert(full.end(), {"--log-format", "json"});
    std::vector<char*> argv;
    for (auto& a : full) argv.push_back(a.data());
    argv.push_back(nullptr);

    const int fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
    if (fd < 0) throw std::runtime_error("cannot create the log '" + log_path_ + "': " + std::strerror(errno));
    const pid_t parent = getpid();
    const double t0 = host_seconds();
    const pid_t pid = fork();
    if (pid < 0) {
        close(fd);
        throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(127);  // the parent died before prctl took effect
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        close(fd);
        execv(argv[0], argv.data());
        std::fprintf(stderr, "execv %s: %s\n", argv[0], std::strerror(errno));
        _exit(127);
    }
    close(fd);
    pid_ = pid;
    g_child = pid;

    const double deadline = t0 + ready_timeout_s;
    while (host_seconds() < deadline) {
        if (ready()) {
            ready_s_ = host_seconds() - t0;
            return true;
        }
        if (const int code = reap(pid_, 0); code >= 0) {
            pid_ = -1;
            g_child = -1;
            if (lost_port_race(code)) return false;  // try another port
            throw std::runtime_error(std::string(name()) + " exited with status " + std::to_string(code) +
                                     " before it was ready; log tail:\n" + log_tail());
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    const std::string how = stop(5);
    throw std::runtime_error(std::string(name()) + " was not ready within " + std::to_string(int(ready_timeout_s)) +
                             " s (" + how + "); log tail:\n" + log_tail());
}

ServerProcess::~ServerProcess() {
    if (pid_ > 0) stop();
}

std::string ServerProcess::stop(double term_wait_s) {
    if (pid_ <= 0) return "not running";
    kill(pid_, SIGTERM);
    std::string how;
    if (const int code = reap(pid_, term_wait_s); code >= 0) {
        how = "exited with status " + std::to_string(code) + " after SIGTERM";
    } else {
        kill(pid_, SIGKILL);
        const int killed = reap(pid_, 10);
        how = "did not exit within " + std::to_string(int(term_wait_s)) + " s of SIGTERM; SIGKILL" +
              (killed >= 0 ? std::string(" reaped it") : std::string(" sent, not reaped within 10 s"));
    }
    pid_ = -1;
    g_child = -1;
    return how;
}

std::string ServerProcess::log_tail(size_t bytes) const {
    const std::string log = read_file(log_path_);
    return log.size() <= bytes ? log : "..." + log.substr(log.size() - bytes);
}

}  // namespace orcd::bench
