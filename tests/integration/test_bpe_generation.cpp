// A model with a byte-level BPE vocabulary end to end: a small random-weight
// model carrying llama.cpp's GPT-2 vocabulary. Its near-uniform sampling
// emits arbitrary byte-level tokens, many of them pieces of multi-byte
// characters, which the stream must hold back until whole. parse_special
// decides whether "<|endoftext|>" in a prompt is one control token or text.
#include "worker_process.h"

#include "common/test_paths.h"
#include "http_client.h"
#include "stream_checks.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

namespace orcd::itest {
namespace {

using nlohmann::json;

class BpeGeneration : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = new std::string(orcd::test::temp_dir());
        model_ = new std::string(*dir_ + "/gpt2-vocab-tiny.gguf");
        const std::string cmd = orcd::test::bin_dir() + "/worker-orcd-synth -o " + *model_ +
                                " --dim 64 --layers 1 --heads 4 --kv-heads 4 --ffn 128 --ctx 512 --threads 1 --seed 3"
                                " --vocab " + orcd::test::data_path("tokenizer/ggml-vocab-gpt-2.gguf") + " > /dev/null";
        ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    }
    static void TearDownTestSuite() {
        std::filesystem::remove_all(*dir_);
        delete model_;
        delete dir_;
    }
    static WorkerOptions options() {
        WorkerOptions o;
        o.model = *model_;
        return o;
    }
    static std::string* dir_;
    static std::string* model_;
};

std::string* BpeGeneration::dir_ = nullptr;
std::string* BpeGeneration::model_ = nullptr;

TEST_F(BpeGeneration, HealthSaysBpeAndParseSpecialDecidesPromptTokens) {
    WorkerProcess w(options());
    const json h = json::parse(http_get(w.port(), "/health").body);
    EXPECT_EQ(h["tokenizer_kind"], "bpe");
    EXPECT_EQ(h["vocab_size"], 50257);
    std::vector<uint32_t> counts;
    for (bool parse : {false, true}) {
        const StreamResult r = execute(w.port(), exec_body("ps", "<|endoftext|>Hello", {{"max_tokens", 1},
                                                                                        {"parse_special", parse}}));
        ASSERT_EQ(r.head.status, 200) << r.head.body;
        ASSERT_TRUE(well_formed(r.events));
        counts.push_back(r.events.front().json()["prompt_tokens"].get<uint32_t>());
    }
    // GPT-2 adds no BOS. As text, "<|endoftext|>" is 7 tokens and "Hello"
    // one (testdata/tokenizer/gpt2.vectors.json, Hugging Face's ids); with
    // parse_special the control token and "Hello".
    EXPECT_EQ(counts[0], 8u);
    EXPECT_EQ(counts[1], 2u);
}

TEST_F(BpeGeneration, ByteLevelPiecesStreamAsWholeCharacters) {
    WorkerProcess w(options());
    size_t held_back = 0;  // tokens that produced no text of their own
    // Seeds in turn until one job held a piece back (at most 10 jobs).
    for (uint64_t seed = 1; seed <= 10 && held_back == 0; ++seed) {
        const StreamResult r = execute(w.port(), exec_body("bytes-" + std::to_string(seed), "Hello \xE4\xB8\x96\xE7\x95\x8C",
                                                           {{"max_tokens", 120}, {"temperature", 1.5}, {"seed", seed}}));
        ASSERT_EQ(r.head.status, 200) << r.head.body;
        ASSERT_TRUE(well_formed(r.events));
        for (const SseEvent& e : r.events) {
            if (e.type == "token") {
                EXPECT_TRUE(is_valid_utf8(e.json()["t"].get<std::string>())) << e.data;
            }
        }
        const json end = terminal_data(r.events);
        ASSERT_EQ(terminal_type(r.events), "end") << end.dump();
        held_back += end["tokens_out"].get<size_t>() - token_count(r.events);
    }
    // Random sampling over GPT-2's vocabulary picks lone bytes of multi-byte
    // characters (a few hundred of its 50257 pieces) often enough that some
    // must have been held back within 1200 tokens.
    EXPECT_GT(held_back, 0u);
}

}  // namespace
}  // namespace orcd::itest
