// Full-size models (the real shapes of Qwen2.5-0.5B, Phi-3-mini, Llama 3 8B,
// GPT-OSS-20B, ... in F16 and the quantized files llama-quantize makes) on
// CUDA against llama.cpp's CUDA build on the very same files. The files are
// gigabytes, so they are made on the GPU host, not kept in testdata:
// ORCD_FULL_SHAPES names a manifest written there, one model per line:
//
//   NAME MODEL.gguf GOLDEN.jsonl REL
//
// GOLDEN is `llama-golden generate MODEL PROMPTS N` (CUDA, all layers on the
// GPU, F16 KV cache like ours). REL sets the bounds before anything is
// measured: first-step logits (the reference's top 5) within
// tol = REL * (1 + the largest |logit| among them), and greedy ids compared
// up to the first step whose reference top-1 margin is below 2 * tol: when
// every logit is within tol of the reference, a lead larger than 2 * tol
// cannot change hands. Without the variable the test says skipped.
// ORCD_FULL_SHAPES_DEVICE=cpu runs the CPU reference instead (with goldens
// of one token, to tell apart where a difference comes from).
#include "capi_util.h"
#include "common/golden.h"
#include "common/reference_models.h"
#include "gpu_test_util.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace orcd {
namespace {

struct Entry {
    test::ReferenceModel ref;
    double rel = 0;
};

std::vector<Entry> read_manifest(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot read " + path);
    std::vector<Entry> out;
    for (std::string line; std::getline(in, line);) {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream ls(line);
        Entry e;
        if (!(ls >> e.ref.name >> e.ref.path >> e.ref.golden >> e.rel) || e.rel <= 0)
            throw std::runtime_error("malformed line in " + path + ": " + line);
        out.push_back(std::move(e));
    }
    return out;
}

TEST(CudaFullShapes, GreedyIdsAndFirstStepLogitsMatchLlamaCppOnTheSameFile) {
    const char* on = std::getenv("ORCD_FULL_SHAPES_DEVICE");
    const bool cpu = on && std::string(on) == "cpu";
    if (!cpu) ORCD_REQUIRE_CUDA();
    const char* manifest = std::getenv("ORCD_FULL_SHAPES");
    if (!manifest || !*manifest) GTEST_SKIP() << "ORCD_FULL_SHAPES is not set (no full-size models on this host)";
    const std::vector<Entry> entries = read_manifest(manifest);
    ASSERT_FALSE(entries.empty()) << manifest;
    test::CapiDevice dev;
    orcd_device_params dp = orcd_device_default_params();
    dp.kind = cpu ? ORCD_DEVICE_CPU : ORCD_DEVICE_CUDA;
    ASSERT_EQ(orcd_device_open(&dp, &dev.d), ORCD_OK) << orcd_last_error_detail();
    for (const Entry& e : entries) {
        SCOPED_TRACE(e.ref.name);
        double scale = 0;
        for (const test::GoldenRecord& g : test::load_golden(e.ref.golden))
            for (const auto& [id, logit] : g.first_step_top5) scale = std::max(scale, std::fabs(double(logit)));
        const double tol = e.rel * (1 + scale);
        std::printf("[ stats    ] %s on %s: bounds from REL %.3g and the reference's largest first-step logit %.3f: "
                    "logit tolerance %.3f, margin bound %.3f\n",
                    e.ref.name.c_str(), cpu ? "the CPU reference" : "CUDA", e.rel, scale, tol, 2 * tol);
        test::CapiModel model;
        orcd_model_params mp = orcd_model_default_params();
        mp.n_ctx = 512;
        ASSERT_EQ(orcd_model_load(dev.d, e.ref.path.c_str(), &mp, &model.m), ORCD_OK) << orcd_last_error_detail();
        test::check_against_golden(model.m, e.ref, 2 * tol, tol);
    }
}

}  // namespace
}  // namespace orcd
