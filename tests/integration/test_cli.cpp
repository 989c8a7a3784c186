// Flags: every bad value exits 2 with a one-line error naming the flag; a
// model that fails to load exits 1 with the error code.
#include "worker_process.h"

#include "common/test_paths.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace orcd::itest {
namespace {

struct BadFlagCase {
    const char* name;
    std::vector<std::string> args;  // after --model/--port defaults are decided per case
    const char* flag;               // must appear in the error line
    const char* says = "";          // and so must this, where the reason matters
};

std::vector<std::string> with_defaults(std::vector<std::string> args) {
    auto has = [&](const char* f) {
        for (const auto& a : args)
            if (a == f) return true;
        return false;
    };
    if (!has("--model") && !has("--no-model")) args.insert(args.begin(), {"--model", orcd::test::stories_model()});
    if (!has("--port") && !has("--no-port")) args.insert(args.begin(), {"--port", std::to_string(free_port())});
    std::vector<std::string> out;
    if (!has("--device") && !has("--gpu-device")) out = {"--device", "cpu"};
    for (auto& a : args)
        if (a != "--no-model" && a != "--no-port") out.push_back(a);
    return out;
}

// gtest prints a parameter with this instead of its bytes.
void PrintTo(const BadFlagCase& c, std::ostream* os) { *os << c.name; }

class BadFlag : public ::testing::TestWithParam<BadFlagCase> {};

TEST_P(BadFlag, ExitsTwoNamingTheFlag) {
    const auto& c = GetParam();
    const ProcessResult r = run_worker_to_exit(with_defaults(c.args), 20s);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find(c.flag), std::string::npos) << "error does not name " << c.flag << ": " << r.output;
    EXPECT_NE(r.output.find(c.says), std::string::npos) << "error does not say " << c.says << ": " << r.output;
    EXPECT_EQ(r.output.find("\"event\":\"ready\""), std::string::npos) << r.output;
}

INSTANTIATE_TEST_SUITE_P(
    Cli, BadFlag,
    ::testing::Values(
        BadFlagCase{"MissingModel", {"--no-model"}, "--model"},
        BadFlagCase{"ModelFileMissing", {"--model", "/nonexistent/model.gguf"}, "--model"},
        BadFlagCase{"MissingPort", {"--no-port"}, "--port"},
        BadFlagCase{"PortZero", {"--port", "0"}, "--port"},
        BadFlagCase{"PortTooLarge", {"--port", "65536"}, "--port"},
        BadFlagCase{"PortNotANumber", {"--port", "80a"}, "--port"},
        BadFlagCase{"UnknownDevice", {"--device", "tpu"}, "--device"},
        BadFlagCase{"NegativeGpuDevice", {"--gpu-device", "-1"}, "--gpu-device"},
        BadFlagCase{"BadWorkerId", {"--worker-id", "not-a-uuid"}, "--worker-id"},
        BadFlagCase{"BadBind", {"--bind", "300.1.1.1"}, "--bind"},
        BadFlagCase{"CtxSizeZero", {"--ctx-size", "0"}, "--ctx-size"},
        BadFlagCase{"MaxTokensOutZero", {"--max-tokens-out", "0"}, "--max-tokens-out"},
        BadFlagCase{"NegativeInferenceTimeout", {"--inference-timeout-sec", "-1"}, "--inference-timeout-sec"},
        BadFlagCase{"BadShutdownTimeout", {"--shutdown-timeout-sec", "soon"}, "--shutdown-timeout-sec"},
        BadFlagCase{"BodyTimeoutZero", {"--body-timeout-sec", "0"}, "--body-timeout-sec"},
        BadFlagCase{"BadLogFormat", {"--log-format", "xml"}, "--log-format"},
        BadFlagCase{"LoadChunkZero", {"--load-chunk-mb", "0"}, "--load-chunk-mb"},
        BadFlagCase{"UnknownFlag", {"--bogus", "1"}, "--bogus", "unknown flag"},
        BadFlagCase{"UnknownFlagLast", {"--bogus"}, "--bogus", "unknown flag"},
        BadFlagCase{"CtxSizeAboveTheMaximum", {"--ctx-size", "2000000"}, "--ctx-size", "1..1048576"},
        BadFlagCase{"ModelIsADirectory", {"--model", "/tmp"}, "--model", "not a regular file"},
        BadFlagCase{"FlagWithoutValue", {"--log-format"}, "--log-format"}),
    [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(Cli, PortInUseExitsTwoNamingPort) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(listen(fd, 1), 0);
    ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    const ProcessResult r = run_worker_to_exit(
        {"--model", orcd::test::stories_model(), "--port", std::to_string(ntohs(addr.sin_port)), "--device", "cpu"},
        20s);
    close(fd);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find("--port"), std::string::npos) << r.output;
}

std::string write_temp(const std::string& name, const std::string& bytes) {
    const std::string path = orcd::test::temp_dir() + "/" + name;
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
}

void expect_load_failure(const std::string& model_path) {
    const ProcessResult r =
        run_worker_to_exit({"--model", model_path, "--port", std::to_string(free_port()), "--device", "cpu"}, 20s);
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("MODEL_LOAD_FAILED"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("\"event\":\"ready\""), std::string::npos) << r.output;
}

// Host memory running out at load (here the CPU backend's KV cache of a
// million positions under a 1 GB address-space limit) is the model not
// fitting this host: MODEL_LOAD_FAILED saying so, never INTERNAL.
TEST(Cli, HostMemoryExhaustedAtLoadIsALoadFailure) {
    const std::string cmd = "ulimit -v 1000000 && exec '" + worker_binary() + "' --model '" +
                            orcd::test::stories_model() + "' --port " + std::to_string(free_port()) +
                            " --device cpu --ctx-size 1048576";
    const ProcessResult r = run_to_exit("/bin/sh", {"-c", cmd}, 30s);
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("MODEL_LOAD_FAILED"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("host memory exhausted"), std::string::npos) << r.output;
}

TEST(Cli, CorruptModelExitsOne) { expect_load_failure(write_temp("garbage.gguf", std::string(4096, 'x'))); }

TEST(Cli, TruncatedModelExitsOne) {
    std::ifstream in(orcd::test::stories_model(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ASSERT_GT(bytes.size(), 100000u);
    expect_load_failure(write_temp("truncated.gguf", bytes.substr(0, bytes.size() / 2)));
}

TEST(Cli, HelpExitsZero) {
    const ProcessResult r = run_worker_to_exit({"--help"}, 10s);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("--model"), std::string::npos);
}

TEST(Cli, TextLogFormatLogsReady) {
    WorkerProcess w(with_args({"--log-format", "text"}));
    const std::string log = w.log();
    EXPECT_NE(log.find(" ready "), std::string::npos) << log;
    EXPECT_EQ(log.find("{\""), std::string::npos) << "text logs should not be JSON: " << log;
    EXPECT_EQ(w.stop(), 0);
}

TEST(Cli, StartupLogsModelLoadProgress) {
    WorkerProcess w;
    std::vector<int> percents;
    std::vector<std::string> order;
    for (const auto& e : w.log_events()) {
        ASSERT_TRUE(e.contains("ts") && e.contains("level") && e.contains("event") && e.contains("worker_id")) << e;
        EXPECT_EQ(e["worker_id"], w.worker_id());
        order.push_back(e["event"]);
        if (e["event"] == "model_load_progress") percents.push_back(e["percent"].get<int>());
    }
    EXPECT_EQ(percents, (std::vector<int>{0, 25, 50, 75, 100}));
    const std::vector<std::string> milestones = {"startup", "model_load_start", "model_load_complete", "ready"};
    size_t at = 0;
    for (const auto& ev : order)
        if (at < milestones.size() && ev == milestones[at]) ++at;
    EXPECT_EQ(at, milestones.size()) << "startup events out of order";
}

}  // namespace
}  // namespace orcd::itest

namespace orcd::itest {
namespace {

TEST(Cli, OutOfRangeGpuDeviceExitsOneNamingTheFlag) {
    // Well-formed, but no such device (or no CUDA at all): a start-up failure.
    const ProcessResult r = run_worker_to_exit(
        {"--model", orcd::test::stories_model(), "--port", std::to_string(free_port()), "--gpu-device", "999"}, 30s);
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("--gpu-device"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("CUDA_ERROR"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace orcd::itest
