// The benchmark's GPU-free parts: the bytes a decode step reads (from GGUF
// headers, checked against the shapes' arithmetic and against llama.cpp's own
// model size), llama-bench's JSON (a sample llama-bench wrote), the shares
// and tables, and the manifest scripts/bench.sh keeps.
#include "common/test_paths.h"

#include "compare_manifest.h"
#include "compare_table.h"
#include "decode_bytes.h"
#include "llama_bench_json.h"

#include "gguf/gguf.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace {

using namespace orcd::bench;
using nlohmann::json;

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string synth(const std::string& name, const std::string& args) {
    const std::string out = orcd::test::temp_dir() + "/" + name + ".gguf";
    const std::string cmd = orcd::test::bin_dir() + "/worker-orcd-synth --threads 1 " + args + " -o " + out + " > /dev/null";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
    return out;
}

TEST(BenchDecodeBytes, UntiedLlamaReadsEveryTensorButTheEmbeddingTable) {
    const DecodeBytes d = decode_bytes(
        synth("llama", "--arch llama --dim 64 --layers 2 --heads 4 --kv-heads 2 --ffn 160 --vocab-size 300 --type f16"));
    // F16 matrices, F32 norms; head dim 16, K and V 2 heads x 16 wide.
    const uint64_t embd = 64 * 300 * 2;
    const uint64_t layer = 64 * 4 + 64 * 64 * 2 + 2 * 64 * 32 * 2 + 64 * 64 * 2 + 64 * 4 + 3 * 64 * 160 * 2;
    const uint64_t head = 64 * 4 + 64 * 300 * 2;
    EXPECT_EQ(d.architecture, "llama");
    EXPECT_EQ(d.n_layer, 2u);
    EXPECT_EQ(d.n_vocab, 300u);
    EXPECT_EQ(d.gathered_bytes, embd);
    EXPECT_EQ(d.weights_read, 2 * layer + head);
    EXPECT_EQ(d.tensor_bytes, 2 * layer + head + embd);
    ASSERT_EQ(d.kv_row_elems.size(), 2u);
    EXPECT_EQ(d.kv_row_elems[0], 2u * (16 + 16));
    EXPECT_EQ(d.window[0], 0u);
    // 2 layers x 64 elements x 64.5 positions x 2 bytes.
    EXPECT_DOUBLE_EQ(d.kv_bytes(mean_context(0, 128), 2), 2 * 64 * 64.5 * 2);
    EXPECT_DOUBLE_EQ(d.step_bytes(10, 4), double(2 * layer + head) + 2 * 64 * 10 * 4);
}

TEST(BenchDecodeBytes, TiedOutputReadsTheEmbeddingAsTheHead) {
    const DecodeBytes d = decode_bytes(
        synth("qwen2", "--arch qwen2 --dim 64 --layers 1 --heads 4 --kv-heads 2 --ffn 128 --vocab-size 300 --type f16"));
    EXPECT_EQ(d.gathered_bytes, 0u);
    EXPECT_EQ(d.weights_read, d.tensor_bytes);
}

TEST(BenchDecodeBytes, GptOssReadsTheUsedExpertsAndWindowsItsEvenLayers) {
    // gpt-oss-tiny: 2 layers, dim 128, 4 heads / 2 KV heads of 32, 4 experts
    // of ffn 128 with 2 used, window 8, vocabulary 512; Q8_0 embedding and
    // attention, MXFP4 experts (17 bytes per 32), F32 expert biases.
    const DecodeBytes d = decode_bytes(synth("oss", "--shape gpt-oss-tiny --type q8_0"));
    const uint64_t per_layer_experts = 3 * (128 * 128 * 4 / 32 * 17) + 3 * (128 * 4 * 4);
    EXPECT_EQ(d.n_expert, 4u);
    EXPECT_EQ(d.n_expert_used, 2u);
    EXPECT_EQ(d.expert_bytes, 2 * per_layer_experts);
    EXPECT_EQ(d.gathered_bytes, 512u * 128 / 32 * 34);
    EXPECT_EQ(d.weights_read, d.tensor_bytes - d.gathered_bytes - d.expert_bytes / 2);
    ASSERT_EQ(d.window.size(), 2u);
    EXPECT_EQ(d.window[0], 8u);
    EXPECT_EQ(d.window[1], 0u);
    EXPECT_EQ(d.kv_row_elems[1], 2u * (32 + 32));
    // The windowed layer attends to 8 positions, the other to all 100.
    EXPECT_DOUBLE_EQ(d.kv_bytes(100, 2), 128.0 * 8 * 2 + 128.0 * 100 * 2);
}

TEST(BenchDecodeBytes, TensorBytesAreLlamaCppsModelSizeOnAQuantizedFile) {
    // llama-bench reported model_size 753408 for this Q4_K_M file
    // (testdata/bench/llama-bench-qwen2-q4km.json): its tensor bytes.
    const DecodeBytes q = decode_bytes(orcd::test::data_path("reference/qwen2-q4km.gguf"));
    EXPECT_EQ(q.tensor_bytes, 753408u);
    EXPECT_EQ(q.weights_read, q.tensor_bytes);  // tied output
    const auto f = orcd::gguf::File::open(orcd::test::data_path("reference/llama-q4km.gguf"));
    const DecodeBytes l = decode_bytes(*f);
    EXPECT_EQ(l.gathered_bytes, f->get_tensor("token_embd.weight").n_bytes);
    EXPECT_EQ(l.weights_read, l.tensor_bytes - l.gathered_bytes);
}

TEST(BenchDecodeBytes, JsonRoundTrip) {
    const DecodeBytes d = decode_bytes(synth("rt", "--shape gpt-oss-tiny --type q8_0"));
    const DecodeBytes e = decode_bytes_from_json(json::parse(to_json(d).dump()));
    EXPECT_EQ(e.weights_read, d.weights_read);
    EXPECT_EQ(e.window, d.window);
    EXPECT_EQ(e.kv_row_elems, d.kv_row_elems);
    EXPECT_DOUBLE_EQ(e.kv_bytes(300, 2), d.kv_bytes(300, 2));
}

TEST(LlamaBenchJson, ReadsWhatLlamaBenchWrote) {
    const LlamaBenchRun r = parse_llama_bench(slurp(orcd::test::data_path("bench/llama-bench-qwen2-q4km.json")));
    // Values as they stand in the sample (llama-bench -p 64 -n 16 -d 0,128 -r 2 -fa 1).
    ASSERT_EQ(r.tests.size(), 4u);
    EXPECT_EQ(r.build, "d32676d77 (9749)");
    EXPECT_EQ(r.model_size, 753408u);
    EXPECT_EQ(r.type_k, "f16");
    EXPECT_EQ(r.flash_attn, "1");
    const LlamaBenchTest* tg0 = r.decode(0);
    const LlamaBenchTest* tg128 = r.decode(128);
    const LlamaBenchTest* pp = r.prefill(64, 0);
    ASSERT_TRUE(tg0 && tg128 && pp);
    EXPECT_EQ(tg0->n_gen, 16u);
    EXPECT_DOUBLE_EQ(tg0->avg_ts, 11898.185548);
    EXPECT_DOUBLE_EQ(tg0->stddev_ts, 1631.119217);
    EXPECT_EQ(tg0->reps, 2u);
    EXPECT_DOUBLE_EQ(tg128->avg_ts, 4699.788313);
    EXPECT_DOUBLE_EQ(pp->avg_ts, 52493.864844);
    EXPECT_DOUBLE_EQ(r.prefill(64, 128)->avg_ts, 20445.3865);
    EXPECT_EQ(r.prefill(512, 0), nullptr);
    EXPECT_EQ(r.decode(4096), nullptr);
}

TEST(LlamaBenchJson, ReadsJsonLinesAndRejectsWhatIsNot) {
    const json all = json::parse(slurp(orcd::test::data_path("bench/llama-bench-qwen2-q4km.json")));
    std::string lines;
    for (const json& o : all) lines += o.dump() + "\n";
    EXPECT_DOUBLE_EQ(parse_llama_bench(lines).decode(128)->avg_ts, 4699.788313);
    EXPECT_THROW(parse_llama_bench(""), std::runtime_error);
    EXPECT_THROW(parse_llama_bench("[]"), std::runtime_error);
    EXPECT_THROW(parse_llama_bench("error: failed to load model"), std::runtime_error);
    EXPECT_DOUBLE_EQ(cache_type_bytes("f16"), 2);
    EXPECT_DOUBLE_EQ(cache_type_bytes("q8_0"), 34.0 / 32);
    EXPECT_DOUBLE_EQ(cache_type_bytes("something"), 0);
}

// A file whose step reads 10 GB of weights and 1000 KV elements per position.
CompareEntry toy_entry(const std::string& format) {
    CompareEntry e;
    e.model = "toy";
    e.format = format;
    DecodeBytes b;
    b.architecture = "llama";
    b.file_bytes = 10'500'000'000;
    b.weights_read = 10'000'000'000;
    b.n_layer = 1;
    b.kv_row_elems = {1000};
    b.window = {0};
    e.bytes = b;
    e.ours = {{"system", {{"gpu_name", "Test GPU"}, {"commit", "abc"}}},
              {"model", {{"kv_elem_bytes", 2}}},
              {"config", {{"decode_steps", 128}}},
              {"figures",
               {{"copy.gbps", {{"value", 4000.0}}},
                {"decode.depth_0.tok_s", {{"value", 100.0}, {"spread", {{"min", 99.0}, {"max", 101.0}}}}},
                {"prefill.pp512.tok_s", {{"value", 20000.0}}},
                {"http.ttft_ms", {{"value", 9.5}}},
                {"peer_http.ttft_ms", {{"value", 15.25}}}}},
              {"errors", json::array()}};
    LlamaBenchRun l;
    l.build = "b (1)";
    l.tests = {{0, 128, 0, 80.0, 0.5, 3}, {0, 128, 4096, 70.0, 0.5, 3}, {512, 0, 0, 15000.0, 900.0, 3}};
    e.llama = l;
    return e;
}

TEST(BenchCompare, ShareIsStepBytesTimesRateOverTheCeiling) {
    const CompareEntry e = toy_entry("F16");
    const CompareRow r = compare_row(e, CompareOptions{}, 4000);
    ASSERT_EQ(r.ours.decode.size(), 2u);
    // (10e9 + 1000 x 64.5 x 2) B x 100 tok/s / 4000e9 B/s = 25.0003225 %.
    EXPECT_NEAR(r.ours.share[0].value, 25.0003225, 1e-9);
    EXPECT_DOUBLE_EQ(r.ours.decode[0].spread, 2.0);
    EXPECT_FALSE(r.ours.decode[1].has);  // depth 4096 not measured
    // llama.cpp: 80 tok/s at d0; at d4096 (10e9 + 1000 x 4160.5 x 2) x 70 / 4000e9.
    EXPECT_NEAR(r.llama.share[0].value, 20.000258, 1e-9);
    EXPECT_NEAR(r.llama.share[1].value, (10e9 + 1000 * 4160.5 * 2) * 70 / 4000e9 * 100, 1e-9);
    EXPECT_DOUBLE_EQ(r.llama.prefill.value, 15000.0);
    EXPECT_DOUBLE_EQ(r.ours_http.ttft_ms.value, 9.5);
    EXPECT_DOUBLE_EQ(r.peer_http.ttft_ms.value, 15.25);
}

TEST(BenchCompare, TablesShowBothEnginesAndSayWhatIsMissing) {
    CompareEntry ok = toy_entry("F16");
    CompareEntry refused = toy_entry("Q4_K_M");
    refused.ours["figures"].erase("decode.depth_0.tok_s");
    refused.ours["errors"] = {{{"section", "load"}, {"message", "MODEL_LOAD_FAILED: tensor blk.0.attn_q.weight: Q4_K"}}};
    CompareEntry no_llama = toy_entry("Q8_0");
    no_llama.llama.reset();
    no_llama.llama_missing = "llama-bench exit 1";
    const std::vector<CompareEntry> all = {ok, refused, no_llama};
    EXPECT_DOUBLE_EQ(copy_ceiling(all), 4000);

    const std::string t = model_table(all, "toy", CompareOptions{});
    EXPECT_NE(t.find("Test GPU"), std::string::npos) << t;
    EXPECT_NE(t.find("copy ceiling 4000.0 GB/s"), std::string::npos) << t;
    EXPECT_NE(t.find("| F16 (10.50 GB) | 10.00 | 80.00 / 70.00 | 20% / 18% | 100.0 / — | 25% / — | 1.25x | "
                     "15000.0 ± 900.0 | 20000.0 |"),
              std::string::npos)
        << t;
    EXPECT_NE(t.find("| Q4_K_M (10.50 GB) | 10.00 | 80.00 / 70.00 | 20% / 18% | — | — | — |"), std::string::npos) << t;
    EXPECT_NE(t.find("Q4_K_M, worker-orcd: load: MODEL_LOAD_FAILED: tensor blk.0.attn_q.weight: Q4_K"),
              std::string::npos)
        << t;
    EXPECT_NE(t.find("Q8_0, llama.cpp: llama-bench exit 1"), std::string::npos) << t;
    EXPECT_NE(t.find("| F16 | — | 9.500 / 15.25 |"), std::string::npos) << t;

    const std::string c = compact_table(all, CompareOptions{});
    EXPECT_NE(c.find("| toy | F16 | 10.00 | 100.0 / 80.00 | — / 70.00 | 1.25x | 25% / 20% | 20000.0 / 15000.0 | "
                     "9.500 / 15.25 |"),
              std::string::npos)
        << c;
    const json j = rows_json(all, CompareOptions{});
    EXPECT_EQ(j["rows"].size(), 3u);
    EXPECT_DOUBLE_EQ(j["rows"][0]["llama_cpp"]["decode_tok_s"]["depth_4096"]["value"].get<double>(), 70.0);
}

TEST(BenchCompare, CeilingIsTheMedianOfTheRuns) {
    std::vector<CompareEntry> e = {toy_entry("a"), toy_entry("b"), toy_entry("c"), toy_entry("d")};
    e[0].ours["figures"]["copy.gbps"]["value"] = 4100.0;
    e[1].ours["figures"]["copy.gbps"]["value"] = 4300.0;
    e[2].ours["figures"]["copy.gbps"]["value"] = 4200.0;
    e[3].ours = json();  // not run
    EXPECT_DOUBLE_EQ(copy_ceiling(e), 4200.0);
}

TEST(BenchCompare, ManifestLoadsEveryNamedPart) {
    const std::string dir = orcd::test::temp_dir();
    const DecodeBytes d = decode_bytes(orcd::test::data_path("reference/qwen2-q4km.gguf"));
    std::ofstream(dir + "/info.json") << to_json(d).dump();
    std::ofstream(dir + "/ours.json") << toy_entry("x").ours.dump();
    std::ofstream(dir + "/m.tsv") << "# model\tformat\tinfo\tours\tllama\tnote\n"
                                  << "qwen\tQ4_K_M\t" << dir << "/info.json\t" << dir << "/ours.json\t"
                                  << orcd::test::data_path("bench/llama-bench-qwen2-q4km.json") << "\tbyte vocabulary\n"
                                  << "qwen\tQ8_0\t-\t" << dir << "/missing.json\t" << dir << "/missing.json\n"
                                  << "qwen\tF16\t-\t-\t-\n"
                                  << "qwen\tQ4_0\t-\tours.json\t-\n";  // relative to the manifest
    const std::vector<CompareEntry> e = load_manifest(dir + "/m.tsv");
    ASSERT_EQ(e.size(), 4u);
    EXPECT_EQ(e[0].note, "byte vocabulary");
    ASSERT_TRUE(e[0].bytes && e[0].llama);
    EXPECT_EQ(e[0].bytes->weights_read, d.weights_read);
    EXPECT_DOUBLE_EQ(e[0].llama->decode(0)->avg_ts, 11898.185548);
    EXPECT_TRUE(e[0].ours.is_object());
    EXPECT_FALSE(e[1].ours.is_object());
    EXPECT_NE(e[1].ours_missing.find("cannot read"), std::string::npos) << e[1].ours_missing;
    EXPECT_NE(e[1].llama_missing.find("missing.json"), std::string::npos) << e[1].llama_missing;
    EXPECT_EQ(e[2].ours_missing, "not run");
    EXPECT_TRUE(e[2].llama_missing.empty());
    EXPECT_TRUE(e[3].ours.is_object()) << e[3].ours_missing;
    std::ofstream(dir + "/bad.tsv") << "qwen\tF16\n";
    EXPECT_THROW(load_manifest(dir + "/bad.tsv"), std::runtime_error);
}

}  // namespace
