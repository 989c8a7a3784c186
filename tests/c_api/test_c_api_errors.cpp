// Every error code of the C API that can occur without a GPU, provoked
// through the C API itself, plus the error table and thread-local details.
#include "common/chat_model.h"
#include "common/fault_injection.h"
#include "common/stories_capi.h"
#include "common/test_paths.h"
#include "gguf/gguf_writer.h"

#include <orcd/orcd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace {

std::string detail() { return orcd_last_error_detail(); }

// A CPU device for the load tests; nullptr (and a test failure) if it does not open.
orcd_device* open_cpu_device() {
    orcd_device_params dp = orcd_device_default_params();
    dp.kind = ORCD_DEVICE_CPU;
    orcd_device* dev = nullptr;
    EXPECT_EQ(orcd_device_open(&dp, &dev), ORCD_OK) << detail();
    return dev;
}

class CApi : public orcd::test::StoriesCapiTest {
protected:
    orcd_status create(const orcd_job_params& p, orcd_job** job, const std::string& prompt = "Once upon a time") {
        return orcd_job_create(model_, prompt.data(), prompt.size(), &p, job);
    }
};

std::string write_file(const std::string& name, const std::vector<uint8_t>& bytes) {
    const std::string path = orcd::test::temp_dir() + "/" + name;
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    return path;
}

// A minimal valid GGUF v3 header whose only key is general.architecture.
std::vector<uint8_t> gguf_with_arch(const std::string& arch) {
    std::vector<uint8_t> b;
    auto u32 = [&](uint32_t v) { for (int i = 0; i < 4; ++i) b.push_back(uint8_t(v >> (8 * i))); };
    auto u64 = [&](uint64_t v) { for (int i = 0; i < 8; ++i) b.push_back(uint8_t(v >> (8 * i))); };
    auto str = [&](const std::string& s) { u64(s.size()); b.insert(b.end(), s.begin(), s.end()); };
    u32(0x46554747);
    u32(3);
    u64(0);  // tensors
    u64(1);  // kv
    str("general.architecture");
    u32(8);  // string
    str(arch);
    return b;
}

TEST(CApiTable, EveryCodeHasANameMessageAndRetriability) {
    const char* names[] = {"OK", "INVALID_REQUEST", "BUSY", "MODEL_LOAD_FAILED", "INSUFFICIENT_VRAM",
                           "VRAM_OOM", "CUDA_ERROR", "INFERENCE_TIMEOUT", "CANCELLED", "INTERNAL"};
    const int retriable[] = {0, 0, 1, 0, 0, 1, 1, 1, 0, 0};
    for (int c = 0; c < ORCD_STATUS_COUNT; ++c) {
        EXPECT_STREQ(orcd_error_name(c), names[c]);
        EXPECT_GT(std::strlen(orcd_error_message(c)), 5u);
        EXPECT_EQ(orcd_error_retriable(c), retriable[c]) << names[c];
    }
    EXPECT_STREQ(orcd_error_message(99), "unknown error code");
    EXPECT_STREQ(orcd_error_name(-1), "UNKNOWN");
    EXPECT_EQ(orcd_abi_version(), ORCD_ABI_VERSION);
    EXPECT_STREQ(orcd_version_string(), "0.1.0");
}

// The compile-time CUDA version: 0 exactly when the build has no CUDA (and
// then no CUDA weight formats either); CUDA 12 or later otherwise.
TEST(CApiErrors, CudaBuildVersionSaysWhetherTheBuildHasCuda) {
#if defined(ORCD_WITH_CUDA)
    EXPECT_GE(orcd_cuda_build_version(), 12000);
    EXPECT_STRNE(orcd_supported_weight_formats(ORCD_DEVICE_CUDA), "");
#else
    EXPECT_EQ(orcd_cuda_build_version(), 0);
    EXPECT_STREQ(orcd_supported_weight_formats(ORCD_DEVICE_CUDA), "");
#endif
}

TEST(CApiErrors, ModelLoadFailedForMissingBadMagicTruncatedAndUnsupportedArchitecture) {
    orcd_device* dev = open_cpu_device();
    ASSERT_NE(dev, nullptr);
    orcd_model* m = nullptr;
    EXPECT_EQ(orcd_model_load(dev, "/nonexistent/model.gguf", nullptr, &m), ORCD_MODEL_LOAD_FAILED);
    EXPECT_NE(detail().find("cannot open"), std::string::npos) << detail();
    EXPECT_EQ(m, nullptr);

    EXPECT_EQ(orcd_model_load(dev, write_file("bad.gguf", {'G', 'G', 'M', 'L', 3, 0, 0, 0}).c_str(), nullptr, &m),
              ORCD_MODEL_LOAD_FAILED);
    EXPECT_NE(detail().find("bad magic"), std::string::npos) << detail();

    std::vector<uint8_t> trunc = gguf_with_arch("llama");
    trunc.resize(trunc.size() - 3);
    EXPECT_EQ(orcd_model_load(dev, write_file("trunc.gguf", trunc).c_str(), nullptr, &m), ORCD_MODEL_LOAD_FAILED);
    EXPECT_NE(detail().find("truncated"), std::string::npos) << detail();

    EXPECT_EQ(orcd_model_load(dev, write_file("mamba.gguf", gguf_with_arch("mamba")).c_str(), nullptr, &m),
              ORCD_MODEL_LOAD_FAILED);
    EXPECT_NE(detail().find("unsupported architecture 'mamba' (supported: "), std::string::npos) << detail();
    EXPECT_NE(detail().find("llama"), std::string::npos) << detail();

    EXPECT_EQ(orcd_model_load(dev, write_file("nokeys.gguf", gguf_with_arch("llama")).c_str(), nullptr, &m),
              ORCD_MODEL_LOAD_FAILED);
    EXPECT_NE(detail().find("missing key"), std::string::npos) << detail();
    orcd_device_close(dev);
}

// Counts a corrupt file declares are refused before anything is sized by
// them (a block_count of 2^32 - 1 once filled gigabytes of per-layer lists
// before its check), and a 64-bit value is never wrapped to a plausible one.
TEST(CApiErrors, CorruptCountsAreRefusedBeforeAnythingIsSizedByThem) {
    orcd_device* dev = open_cpu_device();
    ASSERT_NE(dev, nullptr);
    struct Case {
        const char* name;
        std::function<void(orcd::gguf::Writer&)> edit;
        std::vector<std::string> says;
    };
    const std::vector<Case> cases = {
        {"layers", [](orcd::gguf::Writer& w) { w.set_uint32("llama.block_count", 100000); },
         {"block_count 100000 is implausibly large"}},
        {"layers64", [](orcd::gguf::Writer& w) { w.set_uint64("llama.block_count", (1ull << 32) + 5); },
         {"llama.block_count", "above 2^32 - 1"}},
        {"ctx64", [](orcd::gguf::Writer& w) { w.set_uint64("llama.context_length", (1ull << 32) + 2048); },
         {"llama.context_length", "above 2^32 - 1"}},
    };
    for (const Case& c : cases) {
        const std::string path = orcd::test::write_with_metadata(
            orcd::test::stories_model(), orcd::test::temp_dir() + "/" + c.name + ".gguf", c.edit);
        orcd_model* m = nullptr;
        EXPECT_EQ(orcd_model_load(dev, path.c_str(), nullptr, &m), ORCD_MODEL_LOAD_FAILED) << c.name;
        for (const std::string& s : c.says) EXPECT_NE(detail().find(s), std::string::npos) << c.name << ": " << detail();
        EXPECT_EQ(m, nullptr);
    }
    orcd_device_close(dev);
}

// A model stating a longer context than any cache here holds loads only with
// a smaller one asked for; without, the refusal says what to ask.
TEST(CApiErrors, AModelContextAboveTheMaximumNeedsASmallerOne) {
    orcd_device* dev = open_cpu_device();
    ASSERT_NE(dev, nullptr);
    const std::string path = orcd::test::write_with_metadata(
        orcd::test::stories_model(), orcd::test::temp_dir() + "/long_ctx.gguf",
        [](orcd::gguf::Writer& w) { w.set_uint32("llama.context_length", ORCD_MAX_CONTEXT + 1); });
    orcd_model* m = nullptr;
    EXPECT_EQ(orcd_model_load(dev, path.c_str(), nullptr, &m), ORCD_MODEL_LOAD_FAILED);
    EXPECT_NE(detail().find("exceeds the maximum context"), std::string::npos) << detail();
    EXPECT_NE(detail().find("n_ctx"), std::string::npos) << detail();
    orcd_model_params mp = orcd_model_default_params();
    mp.n_ctx = ORCD_MAX_CONTEXT + 1;
    EXPECT_EQ(orcd_model_load(dev, path.c_str(), &mp, &m), ORCD_INVALID_REQUEST);
    mp.n_ctx = 64;
    ASSERT_EQ(orcd_model_load(dev, path.c_str(), &mp, &m), ORCD_OK) << detail();
    orcd_model_free(m);
    orcd_device_close(dev);
}

TEST(CApiErrors, CudaDeviceWithoutAGpuIsACudaErrorNeverAFallback) {
    orcd_device_params dp = orcd_device_default_params();
    dp.kind = ORCD_DEVICE_CUDA;
    dp.gpu_index = 4096;  // out of range on any machine
    orcd_device* dev = nullptr;
    EXPECT_EQ(orcd_device_open(&dp, &dev), ORCD_CUDA_ERROR);
    EXPECT_EQ(dev, nullptr);
    EXPECT_FALSE(detail().empty());
}

TEST_F(CApi, InvalidRequestForBadArguments) {
    orcd_job* job = nullptr;
    EXPECT_EQ(orcd_job_create(model_, "x", 1, nullptr, nullptr), ORCD_INVALID_REQUEST);
    auto bad = [&](auto mutate, const char* what) {
        orcd_job_params p = orcd_job_default_params();
        mutate(p);
        EXPECT_EQ(create(p, &job), ORCD_INVALID_REQUEST) << what;
        EXPECT_EQ(job, nullptr);
        EXPECT_FALSE(detail().empty());
    };
    bad([](orcd_job_params& p) { p.max_tokens = 0; }, "max_tokens 0");
    bad([](orcd_job_params& p) { p.temperature = -0.5f; }, "negative temperature");
    bad([](orcd_job_params& p) { p.top_p = 1.5f; }, "top_p > 1");
    bad([](orcd_job_params& p) { p.top_k = -1; }, "top_k < 0");
    bad([](orcd_job_params& p) { p.min_p = 2.0f; }, "min_p > 1");
    bad([](orcd_job_params& p) { p.repetition_penalty = 0.0f; }, "penalty 0");
    bad([](orcd_job_params& p) { p.repetition_last_n = -2; }, "last_n < 0");
    bad([](orcd_job_params& p) { p.n_stop = 5; }, "5 stop sequences");
    static const char* empty_stop[] = {""};
    bad([](orcd_job_params& p) { p.stop = empty_stop; p.n_stop = 1; }, "empty stop sequence");

    int32_t id = 999999;
    char buf[8];
    size_t n = 0;
    EXPECT_EQ(orcd_detokenize(model_, &id, 1, buf, sizeof buf, &n), ORCD_INVALID_REQUEST);
    int32_t ids[2];
    EXPECT_EQ(orcd_tokenize(model_, "Once upon a time", 16, ORCD_TOKENIZE_ADD_BOS, ids, 2, &n), ORCD_INVALID_REQUEST);
    EXPECT_EQ(n, 5u);  // the full count is still reported
    EXPECT_EQ(orcd_tokenize(model_, "x", 1, 4, nullptr, 0, &n), ORCD_INVALID_REQUEST);
    EXPECT_NE(detail().find("unknown flag"), std::string::npos) << detail();
}

// Control-token text in a prompt stays text unless the caller asks for
// parse_special, through orcd_tokenize and through a job alike.
TEST_F(CApi, ParseSpecialDecidesWhetherControlTextIsMatched) {
    const std::string text = "</s>Once";
    const auto tokenize = [&](int32_t flags) {
        size_t n = 0;
        EXPECT_EQ(orcd_tokenize(model_, text.data(), text.size(), flags, nullptr, 0, &n), ORCD_OK) << detail();
        std::vector<int32_t> ids(n);
        EXPECT_EQ(orcd_tokenize(model_, text.data(), text.size(), flags, ids.data(), ids.size(), &n), ORCD_OK);
        return ids;
    };
    const std::vector<int32_t> plain = tokenize(0);
    const std::vector<int32_t> special = tokenize(ORCD_TOKENIZE_PARSE_SPECIAL);
    const std::vector<int32_t> both = tokenize(ORCD_TOKENIZE_ADD_BOS | ORCD_TOKENIZE_PARSE_SPECIAL);
    ASSERT_FALSE(special.empty());
    EXPECT_EQ(special.front(), 2);  // </s>, the EOS of this vocabulary
    EXPECT_EQ(std::count(plain.begin(), plain.end(), 2), 0);
    EXPECT_GT(plain.size(), special.size());
    ASSERT_EQ(both.size(), special.size() + 1);
    EXPECT_EQ(both.front(), 1);  // BOS
    EXPECT_TRUE(std::equal(special.begin(), special.end(), both.begin() + 1));

    for (int32_t parse : {0, 1}) {
        orcd_job_params p = orcd_job_default_params();
        p.max_tokens = 1;
        p.parse_special = parse;
        orcd_job* job = nullptr;
        ASSERT_EQ(orcd_job_create(model_, text.data(), text.size(), &p, &job), ORCD_OK) << detail();
        orcd_job_stats st{};
        ASSERT_EQ(orcd_job_get_stats(job, &st), ORCD_OK);
        EXPECT_EQ(st.prompt_tokens, (parse ? special.size() : plain.size()) + 1) << "parse_special " << parse;
        orcd_job_free(job);
    }
}

// A vocabulary loads from a vocabulary-only GGUF without a device, and a
// model lends its own; both tokenize through the same calls.
TEST(CApiVocab, LoadsAVocabularyOnlyFile) {
    orcd_vocab* vocab = nullptr;
    const std::string path = orcd::test::data_path("tokenizer/ggml-vocab-gpt-2.gguf");
    ASSERT_EQ(orcd_vocab_load(path.c_str(), &vocab), ORCD_OK) << orcd_last_error_detail();
    orcd_vocab_info info{};
    ASSERT_EQ(orcd_vocab_get_info(vocab, &info), ORCD_OK);
    EXPECT_STREQ(info.kind, "bpe");
    EXPECT_STREQ(info.pre, "gpt-2");
    EXPECT_EQ(info.n_tokens, 50257u);
    EXPECT_EQ(info.bos_token, 50256);
    EXPECT_EQ(info.add_bos, 0);
    const std::string text = "Hello world<|endoftext|>";
    int32_t ids[16];
    size_t n = 0;
    ASSERT_EQ(orcd_vocab_tokenize(vocab, text.data(), text.size(), ORCD_TOKENIZE_PARSE_SPECIAL, ids, 16, &n), ORCD_OK);
    // GPT-2's ids for "Hello", " world", then <|endoftext|> (HF tokenizers).
    EXPECT_EQ(std::vector<int32_t>(ids, ids + n), (std::vector<int32_t>{15496, 995, 50256}));
    char buf[64];
    ASSERT_EQ(orcd_vocab_detokenize(vocab, ids, 2, buf, sizeof buf, &n), ORCD_OK);
    EXPECT_EQ(std::string(buf, n), "Hello world");
    EXPECT_EQ(orcd_vocab_tokenize(vocab, "x", 1, 8, ids, 16, &n), ORCD_INVALID_REQUEST);
    orcd_vocab_free(vocab);
    orcd_vocab_free(nullptr);

    EXPECT_EQ(orcd_vocab_load("/nonexistent/vocab.gguf", &vocab), ORCD_MODEL_LOAD_FAILED);
    EXPECT_EQ(vocab, nullptr);
    EXPECT_EQ(orcd_vocab_load(nullptr, &vocab), ORCD_INVALID_REQUEST);
}

TEST_F(CApi, ModelLendsItsVocabulary) {
    const orcd_vocab* vocab = orcd_model_vocab(model_);
    ASSERT_NE(vocab, nullptr);
    EXPECT_EQ(orcd_model_vocab(nullptr), nullptr);
    orcd_vocab_info info{};
    ASSERT_EQ(orcd_vocab_get_info(vocab, &info), ORCD_OK);
    EXPECT_STREQ(info.kind, "spm");
    EXPECT_STREQ(info.pre, "");
    EXPECT_EQ(info.n_tokens, 512u);
    EXPECT_EQ(info.add_bos, 1);
    int32_t a[8], b[8];
    size_t na = 0, nb = 0;
    ASSERT_EQ(orcd_vocab_tokenize(vocab, "Once upon", 9, ORCD_TOKENIZE_ADD_BOS, a, 8, &na), ORCD_OK);
    ASSERT_EQ(orcd_tokenize(model_, "Once upon", 9, ORCD_TOKENIZE_ADD_BOS, b, 8, &nb), ORCD_OK);
    EXPECT_EQ(std::vector<int32_t>(a, a + na), std::vector<int32_t>(b, b + nb));
    orcd_vocab_free(const_cast<orcd_vocab*>(vocab));  // documented as a mistake; must stay harmless
    ASSERT_EQ(orcd_tokenize(model_, "Once upon", 9, ORCD_TOKENIZE_ADD_BOS, b, 8, &nb), ORCD_OK);
}

TEST_F(CApi, InvalidRequestWhenPromptPlusMaxTokensExceedsTheContext) {
    orcd_model_info info{};
    ASSERT_EQ(orcd_model_get_info(model_, &info), ORCD_OK);
    orcd_job_params p = orcd_job_default_params();
    p.max_tokens = info.context_length;  // + 5 prompt tokens > context
    orcd_job* job = nullptr;
    EXPECT_EQ(create(p, &job), ORCD_INVALID_REQUEST);
    EXPECT_NE(detail().find("exceeds the context"), std::string::npos) << detail();
    p.max_tokens = info.context_length - 5;  // exactly fits
    ASSERT_EQ(create(p, &job), ORCD_OK) << detail();
    orcd_job_free(job);
}

TEST_F(CApi, SmallContextIsHonouredAndReported) {
    orcd_model_params mp = orcd_model_default_params();
    mp.n_ctx = 16;
    orcd_model* m = nullptr;
    ASSERT_EQ(orcd_model_load(dev_, orcd::test::stories_model().c_str(), &mp, &m), ORCD_OK);
    orcd_model_info info{};
    orcd_model_get_info(m, &info);
    EXPECT_EQ(info.context_length, 16u);
    EXPECT_EQ(info.kv_cache_bytes, 16ull * info.n_layer * 2 * info.n_head_kv * (info.n_embd / info.n_head) * 4);
    orcd_job_params p = orcd_job_default_params();
    p.max_tokens = 12;  // 5 + 12 > 16
    orcd_job* job = nullptr;
    EXPECT_EQ(orcd_job_create(m, "Once upon a time", 16, &p, &job), ORCD_INVALID_REQUEST);
    orcd_model_free(m);
}

TEST_F(CApi, BusyWhileAJobIsAliveAndFreeAfterwards) {
    orcd_job_params p = orcd_job_default_params();
    p.max_tokens = 16;
    orcd_job *a = nullptr, *b = nullptr;
    ASSERT_EQ(create(p, &a), ORCD_OK);
    EXPECT_EQ(create(p, &b), ORCD_BUSY);
    EXPECT_EQ(orcd_error_retriable(ORCD_BUSY), 1);
    orcd_job_free(a);
    ASSERT_EQ(create(p, &b), ORCD_OK);
    orcd_job_free(b);
}

TEST_F(CApi, CancelledBeforeAndDuringTheStream) {
    orcd_job_params p = orcd_job_default_params();
    p.max_tokens = 2000;
    orcd_job* job = nullptr;
    ASSERT_EQ(create(p, &job), ORCD_OK);
    orcd_job_cancel(job);
    orcd_job_cancel(job);  // idempotent
    orcd_job_event ev{};
    EXPECT_EQ(orcd_job_next(job, &ev), ORCD_CANCELLED);
    orcd_job_free(job);

    ASSERT_EQ(create(p, &job), ORCD_OK);
    std::atomic<bool> stop{false};
    std::thread canceller([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        orcd_job_cancel(job);
        stop = true;
    });
    orcd_status st = ORCD_OK;
    int steps = 0;
    while (st == ORCD_OK && !ev.done) {
        st = orcd_job_next(job, &ev);
        ++steps;
    }
    canceller.join();
    // 2000 tokens take far longer than 20 ms, so the cancel lands first.
    EXPECT_EQ(st, ORCD_CANCELLED) << "after " << steps << " steps";
    orcd_job_free(job);
}

TEST_F(CApi, InferenceTimeout) {
    orcd_job_params p = orcd_job_default_params();
    p.max_tokens = 16;
    p.timeout_seconds = 1e-6;
    orcd_job* job = nullptr;
    ASSERT_EQ(create(p, &job), ORCD_OK);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    orcd_job_event ev{};
    EXPECT_EQ(orcd_job_next(job, &ev), ORCD_INFERENCE_TIMEOUT);
    EXPECT_EQ(orcd_error_retriable(ORCD_INFERENCE_TIMEOUT), 1);
    orcd_job_free(job);
}

TEST_F(CApi, NextAfterTheEndIsInvalid) {
    orcd_job_params p = orcd_job_default_params();
    p.max_tokens = 1;
    orcd_job* job = nullptr;
    ASSERT_EQ(create(p, &job), ORCD_OK);
    orcd_job_event ev{};
    ASSERT_EQ(orcd_job_next(job, &ev), ORCD_OK);
    EXPECT_EQ(ev.done, 1);
    EXPECT_EQ(ev.stop_reason, ORCD_STOP_MAX_TOKENS);
    EXPECT_EQ(orcd_job_next(job, &ev), ORCD_INVALID_REQUEST);
    orcd_job_free(job);
}

#if defined(ORCD_FAULT_INJECTION)
TEST_F(CApi, InternalWhenTheTokenizerFailsAndTheModelStaysUsable) {
    orcd::fault::arm(orcd::fault::Point::Tokenizer, 1);
    orcd_job_params p = orcd_job_default_params();
    p.max_tokens = 4;
    orcd_job* job = nullptr;
    EXPECT_EQ(create(p, &job), ORCD_INTERNAL);
    EXPECT_NE(detail().find("tokenizer"), std::string::npos) << detail();
    ASSERT_EQ(create(p, &job), ORCD_OK) << "the job slot must be released after a failed create";
    orcd_job_free(job);
}
#endif

TEST_F(CApi, DetailIsThreadLocal) {
    orcd_job* job = nullptr;
    orcd_job_params p = orcd_job_default_params();
    p.max_tokens = 0;
    ASSERT_EQ(create(p, &job), ORCD_INVALID_REQUEST);
    const std::string mine = detail();
    std::string theirs;
    std::thread([&] {
        orcd_model* m = nullptr;
        orcd_model_load(dev_, "/nonexistent", nullptr, &m);
        theirs = detail();
    }).join();
    EXPECT_EQ(detail(), mine);
    EXPECT_NE(theirs, mine);
}

TEST_F(CApi, ModelInfoAndMemoryStats) {
    orcd_model_info info{};
    ASSERT_EQ(orcd_model_get_info(model_, &info), ORCD_OK);
    EXPECT_STREQ(info.architecture, "llama");
    EXPECT_STREQ(info.quant_kind, "F32");
    EXPECT_STREQ(info.tokenizer_kind, "spm");
    EXPECT_EQ(info.vocab_size, 512u);
    EXPECT_EQ(info.context_length, 2048u);
    EXPECT_EQ(info.n_layer, 5u);
    EXPECT_EQ(info.n_head, 8u);
    EXPECT_EQ(info.n_head_kv, 4u);
    EXPECT_EQ(info.bos_token, 1);
    EXPECT_EQ(info.eos_token, 2);
    EXPECT_EQ(info.kv_cache_bytes, 2048ull * 5 * 2 * 4 * 8 * 4);
    EXPECT_GT(info.weight_bytes, 900000u);
    orcd_memory_stats ms{};
    ASSERT_EQ(orcd_model_memory_stats(model_, &ms), ORCD_OK);
    EXPECT_EQ(ms.kv_cache_bytes, info.kv_cache_bytes);
    EXPECT_EQ(ms.total_bytes, ms.weights_bytes + ms.kv_cache_bytes + ms.activations_bytes + ms.workspace_bytes +
                                  ms.sampling_bytes);
    int32_t resident = 0;
    ASSERT_EQ(orcd_model_check_residency(model_, &resident), ORCD_OK);
    EXPECT_EQ(resident, 1);
}

TEST_F(CApi, ProgressCallbackSeesEachQuarterOnce) {
    std::vector<int> seen;
    orcd_model_params mp = orcd_model_default_params();
    mp.progress = [](void* user, int32_t pct, uint64_t, uint64_t) { static_cast<std::vector<int>*>(user)->push_back(pct); };
    mp.progress_user = &seen;
    orcd_model* m = nullptr;
    ASSERT_EQ(orcd_model_load(dev_, orcd::test::stories_model().c_str(), &mp, &m), ORCD_OK);
    EXPECT_EQ(seen, (std::vector<int>{0, 25, 50, 75, 100}));
    orcd_model_free(m);
}

}  // namespace
