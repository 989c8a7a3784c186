// `--version` of worker-orcd and worker-orcd-cli: the version, the build
// commit, the CUDA version and the supported architectures and weight
// formats per backend. The lists must be the registries' (the C API of the
// library these tests link, which is the binaries' library), so a binary
// cannot claim an architecture or a format its engine does not compute.
#include "worker_process.h"

#include "common/test_paths.h"

#include <orcd/orcd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace orcd::itest {
namespace {

struct VersionOutput {
    std::string first_line;
    std::map<std::string, std::string> fields;  // "key: value" lines
};

VersionOutput parse(const std::string& out) {
    VersionOutput v;
    std::istringstream in(out);
    std::string line;
    std::getline(in, v.first_line);
    while (std::getline(in, line)) {
        const size_t colon = line.find(": ");
        if (colon != std::string::npos) v.fields[line.substr(0, colon)] = line.substr(colon + 2);
    }
    return v;
}

// Comma-separated names, as the C API lists them.
std::vector<std::string> split(const std::string& list) {
    std::vector<std::string> out;
    std::istringstream in(list);
    std::string item;
    while (std::getline(in, item, ',')) {
        const size_t b = item.find_first_not_of(' ');
        if (b != std::string::npos) out.push_back(item.substr(b));
    }
    return out;
}

bool contains(const std::vector<std::string>& v, const std::string& x) {
    return std::find(v.begin(), v.end(), x) != v.end();
}

void expect_version_text(const std::string& binary, const std::string& program) {
    SCOPED_TRACE(program);
    // No other flag: --version needs no model, port or device.
    const ProcessResult r = run_to_exit(binary, {"--version"}, 20s);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    VersionOutput v = parse(r.output);
    EXPECT_EQ(v.first_line, program + " " + orcd_version_string() + " (commit " + orcd_build_commit() + ", ABI " +
                                std::to_string(ORCD_ABI_VERSION) + ")");

    const int32_t cuda = orcd_cuda_build_version();
    if (cuda == 0) {
        EXPECT_EQ(v.fields["cuda runtime"], "0 (built without CUDA)");
    } else {
        // "13.0 (13000, compile-time: ...)": the number, and which version it is.
        const std::string want = std::to_string(cuda / 1000) + "." + std::to_string(cuda % 1000 / 10) + " (" +
                                 std::to_string(cuda) + ", compile-time";
        EXPECT_EQ(v.fields["cuda runtime"].rfind(want, 0), 0u) << v.fields["cuda runtime"];
    }

    // The lists, exactly as the registries give them.
    EXPECT_EQ(v.fields["architectures"], orcd_supported_architectures());
    EXPECT_EQ(v.fields["weight formats (cpu)"], orcd_supported_weight_formats(ORCD_DEVICE_CPU));
    const std::string cuda_formats = orcd_supported_weight_formats(ORCD_DEVICE_CUDA);
    EXPECT_EQ(v.fields["weight formats (cuda)"], cuda_formats.empty() ? "none (built without CUDA)" : cuda_formats);
    EXPECT_EQ(cuda_formats.empty(), cuda == 0) << "CUDA formats without CUDA, or CUDA without formats";

    // And they hold what this engine is known to serve (not an empty
    // registry printed faithfully).
    const std::vector<std::string> archs = split(v.fields["architectures"]);
    for (const char* a : {"llama", "qwen2", "phi3", "gpt2", "gpt-oss"})
        EXPECT_TRUE(contains(archs, a)) << a << " missing from: " << v.fields["architectures"];
    const std::vector<std::string> cpu = split(v.fields["weight formats (cpu)"]);
    for (const char* f : {"F32", "F16", "Q8_0", "Q4_K", "Q6_K", "MXFP4"})
        EXPECT_TRUE(contains(cpu, f)) << f << " missing from: " << v.fields["weight formats (cpu)"];
    std::printf("[ version  ] %s", r.output.c_str());
}

TEST(Version, WorkerPrintsVersionCommitCudaAndTheRegistries) {
    expect_version_text(worker_binary(), "worker-orcd");
}

TEST(Version, CliPrintsTheSameFacts) {
    expect_version_text(orcd::test::bin_dir() + "/worker-orcd-cli", "worker-orcd-cli");
}

TEST(Version, BothBinariesPrintTheSameFacts) {
    const ProcessResult w = run_to_exit(worker_binary(), {"--version"}, 20s);
    const ProcessResult c = run_to_exit(orcd::test::bin_dir() + "/worker-orcd-cli", {"--version"}, 20s);
    ASSERT_EQ(w.exit_code, 0);
    ASSERT_EQ(c.exit_code, 0);
    // Everything after the program's name is the same.
    EXPECT_EQ(w.output.substr(w.output.find(' ')), c.output.substr(c.output.find(' ')));
}

}  // namespace
}  // namespace orcd::itest
