// The CPU reference's decoders against llama.cpp's own dequantizer, bit for
// bit. testdata/reference/dequant.json holds, for every block-format tensor
// of the reference files (llama-quantize's files of every format, and the
// synthesizer's MXFP4 experts), the sha256 of the F32 values llama.cpp
// expands it to (scripts/make-dequant-hashes.sh). Here each tensor is
// decoded row by row through the CPU format table and must hash the same:
// one element off by one bit fails, and the message names the tensor.
#include "backend/cpu/cpu_formats.h"
#include "common/reference_models.h"
#include "common/test_paths.h"
#include "gguf/gguf.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace orcd {
namespace {

// sha256 of the values' bytes, through a file in `dir`.
std::string sha256_of(const std::string& dir, const std::vector<float>& values) {
    const std::string path = dir + "/tensor.f32";
    {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(values.data()), std::streamsize(values.size() * sizeof(float)));
        if (!out) throw std::runtime_error("cannot write " + path);
    }
    return test::file_sha256(path);
}

std::vector<float> decode(const gguf::TensorInfo& t) {
    const cpu::Format* f = cpu::format_of(t.type);
    if (!f) throw std::runtime_error(std::string(t.name) + ": no CPU decoder for " + gguf::tensor_type_name(t.type));
    const uint64_t n = t.ne[0], rows = t.n_elements / n, row_bytes = t.n_bytes / rows;
    std::vector<float> out(t.n_elements);
    for (uint64_t r = 0; r < rows; ++r) f->decode_row(t.data + r * row_bytes, out.data() + r * n, n);
    return out;
}

TEST(DequantOracle, EveryBlockFormatDecodesToTheBytesLlamaCppExpandsItTo) {
    const std::string dir = test::temp_dir();
    std::map<std::string, std::string> path_of;
    for (const test::ReferenceModel& m : test::reference_models(dir)) path_of[m.name] = m.path;

    std::ifstream in(test::data_path("reference/dequant.json"));
    ASSERT_TRUE(in) << test::data_path("reference/dequant.json");
    const nlohmann::json oracle = nlohmann::json::parse(in);
    std::set<std::string> formats;
    size_t checked = 0, equal = 0;
    for (const auto& file : oracle.at("files")) {
        const std::string name = file.at("name");
        ASSERT_TRUE(path_of.count(name)) << name << " is not a reference model";
        const auto gguf = gguf::File::open(path_of[name]);
        for (const auto& e : file.at("tensors")) {
            const std::string tensor = e.at("name");
            SCOPED_TRACE(name + ": " + tensor);
            const gguf::TensorInfo* t = gguf->find_tensor(tensor);
            ASSERT_NE(t, nullptr);
            ASSERT_EQ(gguf::tensor_type_name(t->type), e.at("type").get<std::string>());
            const std::string got = sha256_of(dir, decode(*t));
            EXPECT_EQ(got, e.at("sha256").get<std::string>())
                << "decoded " << gguf::tensor_type_name(t->type) << " values differ from llama.cpp's";
            equal += got == e.at("sha256").get<std::string>();
            formats.insert(e.at("type").get<std::string>());
            ++checked;
        }
    }
    // Every block format the worker loads is covered by at least one tensor.
    for (const char* want : {"Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL",
                             "IQ4_XS", "BF16", "F16", "MXFP4"})
        EXPECT_TRUE(formats.count(want)) << want << " has no tensor in dequant.json";
    std::printf("[ stats    ] %zu of %zu tensors (%zu formats) decoded to llama.cpp's bytes\n", equal, checked,
                formats.size());
}

}  // namespace
}  // namespace orcd
