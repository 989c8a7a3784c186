// Models written by worker-orcd-synth load and run on the CPU reference
// backend, and the F16 path computes what the F32 path computes up to the
// rounding of the weights.
#include "common/test_paths.h"
#include "gguf/gguf.h"

#include <orcd/orcd.h>

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
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

// --router-sigma / --router-bias-sigma change the gpt-oss router alone:
// every other tensor keeps its bytes, the defaults (--sigma's) write the
// file as it was, and the router's values have the asked spread.
namespace {

std::string synth_oss(const std::string& dir, const std::string& name, const std::string& extra) {
    const std::string out = dir + "/" + name + ".gguf";
    const std::string cmd = orcd::test::bin_dir() + "/worker-orcd-synth --shape gpt-oss-tiny --seed 5 --threads 1 " +
                            extra + " -o " + out + " > /dev/null";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
    return out;
}

double rms_of(const orcd::gguf::TensorInfo& t) {
    EXPECT_EQ(t.type, orcd::gguf::TensorType::F32);
    double s = 0;
    for (uint64_t i = 0; i < t.n_elements; ++i) {
        float v;
        std::memcpy(&v, t.data + 4 * i, 4);
        s += double(v) * v;
    }
    return std::sqrt(s / double(t.n_elements));
}

}  // namespace

TEST(SynthModels, RouterSpreadOptionsChangeTheRouterAlone) {
    const std::string dir = orcd::test::temp_dir();
    const auto base = orcd::gguf::File::open(synth_oss(dir, "oss-default", ""));
    const auto same = orcd::gguf::File::open(synth_oss(dir, "oss-same", "--router-sigma 0.02 --router-bias-sigma 0.02"));
    const auto sep = orcd::gguf::File::open(synth_oss(dir, "oss-sep", "--router-sigma 0.001 --router-bias-sigma 1"));
    ASSERT_EQ(base->file_size(), same->file_size());
    EXPECT_EQ(std::memcmp(base->bytes(), same->bytes(), base->file_size()), 0) << "explicit defaults changed the file";
    ASSERT_EQ(base->tensors().size(), sep->tensors().size());
    int routers = 0;
    for (const auto& t : base->tensors()) {
        const auto& u = sep->get_tensor(t.name);
        ASSERT_EQ(t.n_bytes, u.n_bytes) << t.name;
        const std::string name(t.name);
        const bool weight = name.find("ffn_gate_inp.weight") != std::string::npos;
        const bool bias = name.find("ffn_gate_inp.bias") != std::string::npos;
        if (!weight && !bias) {
            EXPECT_EQ(std::memcmp(t.data, u.data, t.n_bytes), 0) << name << " changed";
            continue;
        }
        ++routers;
        // 128 x 4 weights, 4 biases a layer: the sample's spread within a
        // factor 1.5 of the asked one (the biases' within 3: four values).
        const double r = rms_of(u), want = weight ? 0.001 : 1.0, slack = weight ? 1.5 : 3.0;
        EXPECT_GT(r, want / slack) << name;
        EXPECT_LT(r, want * slack) << name;
        EXPECT_NEAR(rms_of(t), 0.02, weight ? 0.006 : 0.03) << name;
    }
    EXPECT_EQ(routers, 4);  // two layers, weight and bias
}
