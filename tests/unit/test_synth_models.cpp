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

// The byte vocabulary's word fillers (--word-fillers, for HTTP benchmarks of
// random-weight models) render as text, and encoding text never produces one:
// prompts encode to the same ids as with the default unused fillers.
std::vector<int32_t> encode(const orcd_vocab* v, const std::string& text) {
    size_t n = 0;
    orcd_vocab_tokenize(v, text.data(), text.size(), ORCD_TOKENIZE_ADD_BOS, nullptr, 0, &n);  // measures
    std::vector<int32_t> ids(n);
    EXPECT_EQ(orcd_vocab_tokenize(v, text.data(), text.size(), ORCD_TOKENIZE_ADD_BOS, ids.data(), n, &n), ORCD_OK);
    return ids;
}

std::string decode(const orcd_vocab* v, const std::vector<int32_t>& ids) {
    std::string out(4096, '\0');
    size_t n = 0;
    EXPECT_EQ(orcd_vocab_detokenize(v, ids.data(), ids.size(), out.data(), out.size(), &n), ORCD_OK);
    out.resize(n);
    return out;
}

TEST(SynthModels, WordFillersRenderAsTextAndNeverEncode) {
    const std::string dir = orcd::test::temp_dir();
    auto make = [&](const std::string& name, const std::string& extra) {
        const std::string out = dir + "/" + name + ".gguf";
        const std::string cmd = orcd::test::bin_dir() +
                                "/worker-orcd-synth --dim 32 --layers 1 --heads 2 --ffn 64 --ctx 64 --vocab-size 400 "
                                "--threads 1 " + extra + " -o " + out + " > /dev/null";
        EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
        orcd_vocab* v = nullptr;
        EXPECT_EQ(orcd_vocab_load(out.c_str(), &v), ORCD_OK) << orcd_last_error_detail();
        return v;
    };
    orcd_vocab* unused = make("unused-fillers", "");
    orcd_vocab* words = make("word-fillers", "--word-fillers");
    ASSERT_TRUE(unused && words);
    // Letters, digits, spaces, punctuation and a few characters beyond ASCII,
    // including text that spells a filler: all of it byte by byte.
    const std::string text = "The w12 harbour, w0 w7w and 399 boats: w\xE2\x96\x81w5 caf\xC3\xA9 \xE2\x96\x81w13!";
    const auto a = encode(unused, text), b = encode(words, text);
    EXPECT_EQ(a, b);
    for (int32_t id : b) EXPECT_LT(id, 3 + 256) << "encoding produced a filler";
    EXPECT_EQ(decode(words, b), decode(unused, a));
    // Ids 259.. are fillers: nothing by default, " w<N>" as word fillers.
    EXPECT_EQ(decode(unused, {259, 300, 399}), "");
    EXPECT_EQ(decode(words, {259, 300, 399}), " w0 w41 w140");
    orcd_vocab_free(unused);
    orcd_vocab_free(words);
}

}  // namespace
