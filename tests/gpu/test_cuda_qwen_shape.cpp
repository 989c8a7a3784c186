// The primary model's shape on CUDA: Qwen2.5-0.5B (qwen2: 896 wide, 24
// layers, 14 query / 2 KV heads, FFN 4864, vocabulary 151936, tied output).
// The model is ORCD_QWEN_Q4KM_GGUF when it names a Q4_K_M file of that shape
// (made with llama.cpp's llama-quantize, which the tests cannot run), else
// an F16 file the synthesizer writes here in the full shape (small
// dimensions would not exercise the real kernels' shapes). Every test prints
// which one ran.
//   - reproducibility: seeds 42, 123 and 999, ten runs each at temperature
//     0.7 (64 tokens), give byte-identical token streams, and the same after
//     a fresh device and model load (a restarted worker);
//   - VRAM: weights and a 32768-token F16 KV cache as tracked, beside the
//     file size; 100 jobs leave the tracked bytes at the post-load baseline;
//   - the real model (ORCD_QWEN_GGUF: Qwen2.5-0.5B-Instruct Q4_K_M): a haiku
//     asked through the model's chat template, with the current minute as a
//     word it must contain, comes back in 20-60 tokens containing it.
#include "capi_util.h"
#include "chat/chat_template.h"
#include "common/test_paths.h"
#include "gguf/gguf.h"
#include "gpu_test_util.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace orcd {
namespace {

namespace fs = std::filesystem;

// Qwen2.5-0.5B's shape, as the synthesizer writes it and the tests check it.
constexpr uint32_t kLayers = 24, kKvHeads = 2, kHeadDim = 64;

struct QwenModel {
    std::string path;
    std::string which;  // printed by every test
};

// The synthesized file lives in a directory removed at exit (it is 1 GB).
struct SynthDir {
    std::string dir;
    ~SynthDir() {
        std::error_code ec;
        if (!dir.empty()) fs::remove_all(dir, ec);
    }
};

const QwenModel& qwen_model() {
    static SynthDir synth;
    static const QwenModel model = [] {
        if (const char* q = std::getenv("ORCD_QWEN_Q4KM_GGUF"); q && *q) {
            if (!fs::exists(q)) throw std::runtime_error(std::string("ORCD_QWEN_Q4KM_GGUF names no file: ") + q);
            return QwenModel{q, std::string("Q4_K_M file from ORCD_QWEN_Q4KM_GGUF (") + q + ")"};
        }
        synth.dir = test::temp_dir();
        const std::string path = synth.dir + "/qwen2.5-0.5b-f16.gguf";
        const std::string cmd = test::bin_dir() + "/worker-orcd-synth --shape qwen2.5-0.5b --type f16 -o '" + path +
                                "' > /dev/null";
        if (std::system(cmd.c_str()) != 0) throw std::runtime_error("failed: " + cmd);
        return QwenModel{path, "synthesized F16 of the qwen2.5-0.5b shape (ORCD_QWEN_Q4KM_GGUF unset, so no Q4_K_M)"};
    }();
    std::printf("[ stats    ] %s\n", model.which.c_str());
    return model;
}

orcd_job_params sampled(uint64_t seed, uint32_t max_tokens) {
    orcd_job_params p = orcd_job_default_params();
    p.temperature = 0.7f;
    p.max_tokens = max_tokens;
    p.seed = seed;
    p.has_seed = 1;
    return p;
}

uint64_t fnv1a(const std::string& b) {
    uint64_t h = 1469598103934665603ull;
    for (unsigned char c : b) h = (h ^ c) * 1099511628211ull;
    return h;
}

constexpr const char* kPrompt = "Write a haiku about the sea at night.";
constexpr uint64_t kSeeds[] = {42, 123, 999};

TEST(CudaQwenShape, TenRunsPerSeedAndARestartGiveByteIdenticalStreams) {
    ORCD_REQUIRE_CUDA();
    const QwenModel& qm = qwen_model();
    std::map<uint64_t, test::JobResult> first;
    {
        test::CapiDevice dev;
        test::CapiModel model;
        test::open_cuda_model(dev, model, qm.path, 1024);
        for (uint64_t seed : kSeeds) {
            SCOPED_TRACE("seed " + std::to_string(seed));
            for (int run = 0; run < 10; ++run) {
                const test::JobResult s = test::run_job(model.m, kPrompt, sampled(seed, 64));
                ASSERT_EQ(s.status, ORCD_OK) << s.detail;
                ASSERT_FALSE(s.ids.empty());
                if (run == 0) {
                    first[seed] = s;
                    continue;
                }
                EXPECT_EQ(s.ids, first[seed].ids) << "run " << run;
                EXPECT_EQ(s.text, first[seed].text) << "run " << run;
                EXPECT_EQ(s.stats.final_logits_hash, first[seed].stats.final_logits_hash) << "run " << run;
            }
            std::printf("[ stats    ] seed %llu: 10 runs, %zu tokens, %zu bytes, stream fnv1a %016llx, final logits "
                        "%016llx\n",
                        (unsigned long long)seed, first[seed].ids.size(), first[seed].text.size(),
                        (unsigned long long)fnv1a(first[seed].text),
                        (unsigned long long)first[seed].stats.final_logits_hash);
        }
    }
    // The seeds must matter, or the comparisons above prove nothing.
    EXPECT_NE(first[42].ids, first[123].ids);
    EXPECT_NE(first[123].ids, first[999].ids);

    // A restarted worker: a fresh device and model, the same streams.
    test::CapiDevice dev;
    test::CapiModel model;
    test::open_cuda_model(dev, model, qm.path, 1024);
    for (uint64_t seed : kSeeds) {
        const test::JobResult s = test::run_job(model.m, kPrompt, sampled(seed, 64));
        ASSERT_EQ(s.status, ORCD_OK) << s.detail;
        EXPECT_EQ(s.ids, first[seed].ids) << "seed " << seed << " after the restart";
        EXPECT_EQ(s.text, first[seed].text) << "seed " << seed << " after the restart";
        EXPECT_EQ(s.stats.final_logits_hash, first[seed].stats.final_logits_hash) << "seed " << seed;
    }
    std::printf("[ stats    ] after a fresh device and model load: the same 3 streams\n");
}

TEST(CudaQwenShape, WeightsAndA32kF16KvCacheThenHundredJobsAtTheBaseline) {
    ORCD_REQUIRE_CUDA();
    const QwenModel& qm = qwen_model();
    constexpr uint32_t kCtx = 32768;
    uint64_t tensor_bytes = 0, n_tensors = 0;
    {
        const auto f = gguf::File::open(qm.path);
        for (const gguf::TensorInfo& t : f->tensors()) tensor_bytes += t.n_bytes, ++n_tensors;
    }
    const uint64_t file_bytes = fs::file_size(qm.path);

    test::CapiDevice dev;
    test::CapiModel model;
    test::open_cuda_model(dev, model, qm.path, kCtx);
    orcd_model_info info{};
    ASSERT_EQ(orcd_model_get_info(model.m, &info), ORCD_OK);
    ASSERT_EQ(info.n_layer, kLayers);
    ASSERT_EQ(info.n_head_kv, kKvHeads);
    ASSERT_EQ(info.n_embd / info.n_head, kHeadDim);
    ASSERT_EQ(info.context_length, kCtx);
    orcd_memory_stats s0{};
    ASSERT_EQ(orcd_model_memory_stats(model.m, &s0), ORCD_OK);
    const double MiB = 1024.0 * 1024.0;
    std::printf("[ stats    ] %s\n", orcd_model_weight_format(model.m));
    std::printf("[ stats    ] file          %12llu bytes (%8.1f MiB), tensors %llu bytes in %llu tensors\n",
                (unsigned long long)file_bytes, file_bytes / MiB, (unsigned long long)tensor_bytes,
                (unsigned long long)n_tensors);
    std::printf("[ stats    ] weights       %12llu bytes (%8.1f MiB)\n", (unsigned long long)s0.weights_bytes,
                s0.weights_bytes / MiB);
    std::printf("[ stats    ] kv_cache      %12llu bytes (%8.1f MiB), %u positions, F16\n",
                (unsigned long long)s0.kv_cache_bytes, s0.kv_cache_bytes / MiB, kCtx);
    std::printf("[ stats    ] activations   %12llu  workspace %llu  sampling %llu\n",
                (unsigned long long)s0.activations_bytes, (unsigned long long)s0.workspace_bytes,
                (unsigned long long)s0.sampling_bytes);
    std::printf("[ stats    ] total tracked %12llu bytes (%8.1f MiB); device free %llu of %llu\n",
                (unsigned long long)s0.total_bytes, s0.total_bytes / MiB, (unsigned long long)s0.device_free_bytes,
                (unsigned long long)s0.device_total_bytes);

    // The weights are the file's tensors, each at a 256-byte aligned offset
    // of the device image, in their file format (nothing expanded); the file
    // adds its metadata and vocabulary on top.
    EXPECT_GE(s0.weights_bytes, tensor_bytes);
    EXPECT_LE(s0.weights_bytes, tensor_bytes + 256 * (n_tensors + 1));
    EXPECT_LT(s0.weights_bytes, file_bytes);
    EXPECT_EQ(info.weight_bytes, s0.weights_bytes);
    // K and V of every layer and position, F16.
    const uint64_t kv = uint64_t(kLayers) * 2 * kCtx * kKvHeads * kHeadDim * 2;
    EXPECT_EQ(s0.kv_cache_bytes, kv);
    EXPECT_EQ(info.kv_cache_bytes, kv);
    EXPECT_EQ(s0.total_bytes, s0.weights_bytes + s0.kv_cache_bytes + s0.activations_bytes + s0.workspace_bytes +
                                  s0.sampling_bytes);

    // 100 jobs, greedy and sampled: tracked bytes back at the baseline after
    // each, and the card's free memory never below its level after the first
    // job (which loads kernels and creates the decode graph). Free memory may
    // rise: the driver shares the card and can give back pages of its own,
    // which is not a leak by the worker; a leak shows as a drop.
    uint64_t free1 = 0, free_max = 0;
    for (int job = 0; job < 100; ++job) {
        orcd_job_params p = sampled(uint64_t(job), 8);
        if (job % 2) p.temperature = 0;
        const test::JobResult r = test::run_job(model.m, kPrompt, p);
        ASSERT_EQ(r.status, ORCD_OK) << r.detail << " (job " << job << ")";
        orcd_memory_stats s{};
        ASSERT_EQ(orcd_model_memory_stats(model.m, &s), ORCD_OK);
        ASSERT_EQ(s.total_bytes, s0.total_bytes) << "tracked bytes after job " << job;
        if (job == 0) free1 = s.device_free_bytes;
        ASSERT_GE(s.device_free_bytes, free1) << "cudaMemGetInfo free after job " << job;
        free_max = std::max(free_max, s.device_free_bytes);
    }
    int32_t resident = 0;
    ASSERT_EQ(orcd_model_check_residency(model.m, &resident), ORCD_OK);
    EXPECT_EQ(resident, 1);
    std::printf("[ stats    ] 100 jobs: tracked %llu bytes after each (the post-load baseline), device free %llu "
                "after job 0, never lower, at most %llu higher\n",
                (unsigned long long)s0.total_bytes, (unsigned long long)free1,
                (unsigned long long)(free_max - free1));
}

// "thirty-seven" for 37.
std::string number_word(int n) {
    static const char* ones[] = {"zero",    "one",     "two",       "three",    "four",
                                 "five",    "six",     "seven",     "eight",    "nine",
                                 "ten",     "eleven",  "twelve",    "thirteen", "fourteen",
                                 "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"};
    static const char* tens[] = {"", "", "twenty", "thirty", "forty", "fifty"};
    if (n < 20) return ones[n];
    return std::string(tens[n / 10]) + (n % 10 ? std::string("-") + ones[n % 10] : "");
}

// Lower case, hyphens as spaces: "Thirty-Seven" and "thirty seven" both
// count as the word.
std::string fold(std::string s) {
    for (char& c : s) c = c == '-' ? ' ' : char(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

std::string token_text(orcd_model* m, int32_t id) {
    if (id < 0) return "";
    char buf[256];
    size_t n = 0;
    return orcd_token_text(m, id, buf, sizeof buf, &n) == ORCD_OK ? std::string(buf, n) : "";
}

TEST(CudaQwenShape, RealModelWritesAHaikuWithTheCurrentMinute) {
    ORCD_REQUIRE_CUDA();
    const char* path = std::getenv("ORCD_QWEN_GGUF");
    if (!path || !*path || !fs::exists(path))
        GTEST_SKIP() << "skipped: ORCD_QWEN_GGUF does not name the Qwen2.5-0.5B-Instruct Q4_K_M file";
    std::printf("[ stats    ] the real model: %s\n", path);
    test::CapiDevice dev;
    test::CapiModel model;
    test::open_cuda_model(dev, model, path, 4096);

    // The chat path of the server, without the server: the model's own
    // template, recognised and rendered, its markup tokenized with control
    // tokens and the user's text without.
    const char* tmpl = nullptr;
    size_t tmpl_len = 0;
    ASSERT_EQ(orcd_model_meta_str(model.m, "tokenizer.chat_template", &tmpl, &tmpl_len), ORCD_OK);
    ASSERT_NE(tmpl, nullptr) << "the file has no tokenizer.chat_template";
    const std::optional<chat::Family> family = chat::detect(std::string_view(tmpl, tmpl_len));
    ASSERT_TRUE(family.has_value()) << chat::describe_unknown(std::string_view(tmpl, tmpl_len));
    orcd_model_info info{};
    ASSERT_EQ(orcd_model_get_info(model.m, &info), ORCD_OK);
    chat::RenderOptions ro;
    ro.bos_token = token_text(model.m, info.bos_token);
    ro.eos_token = token_text(model.m, info.eos_token);

    const std::time_t now = std::time(nullptr);
    std::tm local{};
    localtime_r(&now, &local);
    const std::string word = number_word(local.tm_min);
    const std::string prompt =
        "Write a haiku about a GPU that serves one model. It must contain the word \"" + word + "\".";
    const std::vector<chat::Segment> segs = chat::render(*family, {{"user", prompt}}, ro);
    std::vector<orcd_text_segment> cs;
    for (const chat::Segment& s : segs) cs.push_back({s.text.data(), s.text.size(), s.markup ? 1 : 0});
    size_t n = 0;
    ASSERT_EQ(orcd_tokenize_segments(model.m, cs.data(), cs.size(), 0, nullptr, 0, &n), ORCD_OK);
    std::vector<int32_t> ids(n);
    ASSERT_EQ(orcd_tokenize_segments(model.m, cs.data(), cs.size(), 0, ids.data(), ids.size(), &n), ORCD_OK)
        << orcd_last_error_detail();

    orcd_job_params p = orcd_job_default_params();
    p.temperature = 0;  // greedy: the same answer every run of this minute
    p.max_tokens = 100;
    const test::JobResult s = test::run_job(model.m, ids, p);
    ASSERT_EQ(s.status, ORCD_OK) << s.detail;
    // The tokens of text: the end-of-generation token that ended it is not.
    const size_t n_text = s.ids.size() - (s.stats.stop_reason == ORCD_STOP_EOS ? 1 : 0);
    std::printf("[ stats    ] %s template, word \"%s\", %u prompt tokens, %zu tokens of text (stop reason %d):\n%s\n",
                chat::family_name(*family), word.c_str(), s.stats.prompt_tokens, n_text, int(s.stats.stop_reason),
                s.text.c_str());
    EXPECT_GE(n_text, 20u);
    EXPECT_LE(n_text, 60u);
    EXPECT_NE(fold(s.text).find(fold(word)), std::string::npos) << "the haiku lacks \"" << word << "\"";
}

}  // namespace
}  // namespace orcd
