// Models written by worker-orcd-synth load and run on the CPU reference
// backend, and the F16 path computes what the F32 path computes up to the
// rounding of the weights.
#include "common/test_paths.h"

#include <orcd/orcd.h>

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

std::string synth(const std::string& dir, const std::string& type) {
    const std::string out = dir + "/tiny-" + type + ".gguf";
    const std::string cmd = orcd::test::bin_dir() +
                            "/worker-orcd-synth --dim 64 --layers 2 --heads 4 --kv-heads 2 --ffn 160 --ctx 256 "
                            "--vocab-size 300 --sigma 0.08 --seed 7 --threads 1 --type " + type + " -o " + out +
                            " > /dev/null";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
    return out;
}

struct Loaded {
    orcd_device* dev = nullptr;
    orcd_model* model = nullptr;
    ~Loaded() {
        orcd_model_free(model);
        orcd_device_close(dev);
    }
};

std::vector<float> first_logits(const std::string& path, orcd_model_info* info) {
    Loaded l;
    orcd_device_params dp = orcd_device_default_params();
    dp.kind = ORCD_DEVICE_CPU;
    EXPECT_EQ(orcd_device_open(&dp, &l.dev), ORCD_OK);
    EXPECT_EQ(orcd_model_load(l.dev, path.c_str(), nullptr, &l.model), ORCD_OK) << orcd_last_error_detail();
    if (!l.model) return {};
    orcd_model_get_info(l.model, info);
    orcd_job_params jp = orcd_job_default_params();
    jp.temperature = 0;
    jp.max_tokens = 1;
    orcd_job* job = nullptr;
    const std::string prompt = "Hello, synthetic world";
    EXPECT_EQ(orcd_job_create(l.model, prompt.data(), prompt.size(), &jp, &job), ORCD_OK) << orcd_last_error_detail();
    orcd_job_event ev{};
    EXPECT_EQ(orcd_job_next(job, &ev), ORCD_OK);
    std::vector<float> logits(info->vocab_size);
    EXPECT_EQ(orcd_job_last_logits(job, logits.data(), logits.size()), ORCD_OK);
    orcd_job_free(job);
    return logits;
}

TEST(SynthModels, F16WeightsMatchF32WeightsWithinRounding) {
    const std::string dir = orcd::test::temp_dir();
    orcd_model_info i32{}, i16{};
    const auto a = first_logits(synth(dir, "f32"), &i32);
    const auto b = first_logits(synth(dir, "f16"), &i16);
    ASSERT_EQ(a.size(), 300u);
    ASSERT_EQ(b.size(), 300u);
    EXPECT_STREQ(i32.quant_kind, "F32");
    EXPECT_STREQ(i16.quant_kind, "F16");
    EXPECT_LT(i16.weight_bytes, i32.weight_bytes * 0.6);
    double num = 0, den = 0;
    for (size_t k = 0; k < a.size(); ++k) {
        ASSERT_TRUE(std::isfinite(a[k]) && std::isfinite(b[k])) << k;
        num += (a[k] - b[k]) * (a[k] - b[k]);
        den += a[k] * a[k];
    }
    // F16 keeps 11 significant bits (relative rounding <= 2^-11 ~ 4.9e-4 per
    // weight); through two layers the logits move by about that order.
    const double rel = std::sqrt(num / den);
    EXPECT_GT(den, 0.0);
    EXPECT_LT(rel, 5e-3) << "relative L2 difference " << rel;
}

}  // namespace
