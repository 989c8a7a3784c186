#include "worker_process.h"

#include "common/test_paths.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace orcd::itest {
namespace {

using Clock = std::chrono::steady_clock;

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string make_uuid() {
    std::random_device rd;
    std::mt19937_64 rng(rd());
    char buf[40];
    const uint64_t a = rng(), b = rng();
    std::snprintf(buf, sizeof buf, "%08x-%04x-4%03x-a%03x-%012llx", static_cast<unsigned>(a >> 32),
                  static_cast<unsigned>((a >> 16) & 0xFFFF), static_cast<unsigned>(a & 0xFFF),
                  static_cast<unsigned>(b >> 52), static_cast<unsigned long long>(b & 0xFFFFFFFFFFFFULL));
    return buf;
}

// fork + exec with stdout and stderr into log_fd.
pid_t spawn_process(const std::vector<std::string>& args, int log_fd,
                    const std::vector<std::pair<std::string, std::string>>& env = {}) {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const pid_t pid = fork();
    if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
        dup2(log_fd, STDOUT_FILENO);
        dup2(log_fd, STDERR_FILENO);
        for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
        execv(argv[0], argv.data());
        std::fprintf(stderr, "execv %s: %s\n", argv[0], std::strerror(errno));
        _exit(127);
    }
    return pid;
}

std::optional<int> reap(pid_t pid, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        int status = 0;
        const pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            if (WIFEXITED(status)) return WEXITSTATUS(status);
            if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
            return -1;
        }
        if (r < 0) return -1;
        if (Clock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(2ms);
    }
}

}  // namespace

bool testing_on_gpu() {
    const char* d = std::getenv("ORCD_ITEST_DEVICE");
    return d && std::string(d) == "cuda";
}

std::vector<std::string> device_args() {
    if (!testing_on_gpu()) return {"--device", "cpu"};
    const char* g = std::getenv("ORCD_ITEST_GPU");
    return {"--gpu-device", g && *g ? g : "0"};
}

std::string worker_binary() { return orcd::test::bin_dir() + "/worker-orcd"; }

uint16_t free_port() {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        if (fd >= 0) close(fd);
        throw std::runtime_error("cannot find a free port");
    }
    close(fd);
    return ntohs(addr.sin_port);
}

WorkerProcess::WorkerProcess(WorkerOptions options) {
    if (options.model.empty()) options.model = orcd::test::stories_model();
    worker_id_ = make_uuid();
    // Another process may take the port between free_port() and the bind.
    for (int attempt = 0; attempt < 5; ++attempt)
        if (spawn(options)) return;
    throw std::runtime_error("worker-orcd did not become ready; log:\n" + log());
}

bool WorkerProcess::spawn(const WorkerOptions& options) {
    port_ = free_port();
    log_path_ = orcd::test::temp_dir() + "/worker.log";
    const int fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
    if (fd < 0) throw std::runtime_error("cannot create " + log_path_);
    std::vector<std::string> args = {worker_binary(), "--model", options.model, "--port", std::to_string(port_),
                                     "--worker-id", worker_id_};
    for (const auto& a : device_args()) args.push_back(a);
    args.insert(args.end(), options.extra_args.begin(), options.extra_args.end());
    pid_ = spawn_process(args, fd, options.env);
    close(fd);
    exit_code_.reset();

    const auto deadline = Clock::now() + options.ready_timeout;
    while (Clock::now() < deadline) {
        const std::string text = log();
        // JSON logs, or --log-format text ("<ts> info ready worker_id=...").
        if (text.find("\"event\":\"ready\"") != std::string::npos || text.find(" ready worker_id=") != std::string::npos)
            return true;
        if (auto code = reap(pid_, 0ms)) {
            exit_code_ = code;
            pid_ = -1;
            if (*code == 2 && log().find("--port") != std::string::npos) return false;  // port race: retry
            throw std::runtime_error("worker-orcd exited with " + std::to_string(*code) + " before ready; log:\n" +
                                     log());
        }
        std::this_thread::sleep_for(5ms);
    }
    stop(1s);
    throw std::runtime_error("worker-orcd not ready within the timeout; log:\n" + log());
}

WorkerProcess::~WorkerProcess() {
    if (pid_ > 0) stop(5s);
    if (::testing::Test::HasFailure()) std::fprintf(stderr, "---- worker-orcd log (%s) ----\n%s---- end of log ----\n",
                                                   log_path_.c_str(), log().c_str());
}

std::string WorkerProcess::log() const { return read_file(log_path_); }

std::vector<nlohmann::json> WorkerProcess::log_events() const {
    std::vector<nlohmann::json> out;
    std::istringstream in(log());
    std::string line;
    while (std::getline(in, line)) {
        auto j = nlohmann::json::parse(line, nullptr, false);
        if (!j.is_discarded() && j.is_object()) out.push_back(std::move(j));
    }
    return out;
}

bool WorkerProcess::wait_for_log(const std::string& needle, std::chrono::milliseconds timeout) const {
    const auto deadline = Clock::now() + timeout;
    do {
        if (log().find(needle) != std::string::npos) return true;
        std::this_thread::sleep_for(5ms);
    } while (Clock::now() < deadline);
    return false;
}

bool WorkerProcess::wait_for_event(const std::string& name, const nlohmann::json& fields,
                                   std::chrono::milliseconds timeout) const {
    const auto deadline = Clock::now() + timeout;
    do {
        for (const auto& e : log_events()) {
            if (e.value("event", "") != name) continue;
            bool all = true;
            for (auto it = fields.begin(); it != fields.end(); ++it) all = all && e.contains(it.key()) && e[it.key()] == it.value();
            if (all) return true;
        }
        std::this_thread::sleep_for(5ms);
    } while (Clock::now() < deadline);
    return false;
}

void WorkerProcess::send_signal(int sig) const {
    if (pid_ > 0) kill(pid_, sig);
}

std::optional<int> WorkerProcess::wait_exit(std::chrono::milliseconds timeout) {
    if (exit_code_) return exit_code_;
    if (pid_ <= 0) return std::nullopt;
    exit_code_ = reap(pid_, timeout);
    if (exit_code_) pid_ = -1;
    return exit_code_;
}

int WorkerProcess::stop(std::chrono::milliseconds kill_after) {
    if (exit_code_) return *exit_code_;
    if (pid_ <= 0) return -1;
    kill(pid_, SIGTERM);
    if (auto code = wait_exit(kill_after)) return *code;
    kill(pid_, SIGKILL);
    exit_code_ = reap(pid_, 10s);
    pid_ = -1;
    return exit_code_.value_or(-1);
}

ProcessResult run_worker_to_exit(const std::vector<std::string>& args, std::chrono::milliseconds timeout,
                                 const std::vector<std::pair<std::string, std::string>>& env) {
    return run_to_exit(worker_binary(), args, timeout, env);
}

ProcessResult run_to_exit(const std::string& binary, const std::vector<std::string>& args,
                          std::chrono::milliseconds timeout,
                          const std::vector<std::pair<std::string, std::string>>& env) {
    const std::string log_path = orcd::test::temp_dir() + "/cli.log";
    const int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
    if (fd < 0) throw std::runtime_error("cannot create " + log_path);
    std::vector<std::string> full = {binary};
    full.insert(full.end(), args.begin(), args.end());
    const pid_t pid = spawn_process(full, fd, env);
    close(fd);
    ProcessResult result;
    if (auto code = reap(pid, timeout)) {
        result.exit_code = *code;
    } else {
        kill(pid, SIGKILL);
        reap(pid, 10s);
    }
    result.output = read_file(log_path);
    return result;
}

}  // namespace orcd::itest
