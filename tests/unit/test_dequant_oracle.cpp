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
            const std::string tensor = e.at("name"), type = e.at("type"), want = e.at("sha256");
            SCOPED_TRACE(name + ": " + tensor);
            const gguf::TensorInfo* t = gguf->find_tensor(tensor);
            ASSERT_NE(t, nullptr);
            ASSERT_EQ(gguf::tensor_type_name(t->type), type);
            const std::string got = sha256_of(dir, decode(*t));
            EXPECT_EQ(got, want) << "decoded " << type << " values differ from llama.cpp's";
            equal += got == want;
            formats.insert(type);
            ++checked;
        }
    }
    // Every format of the CPU table but F32 (a copy) is covered by at least
    // one tensor, so a format added to the table needs its oracle entry.
    size_t table = 0;
    for (uint32_t id = 0; id < 256; ++id) {
        const cpu::Format* f = cpu::format_of(gguf::TensorType(id));
        if (!f || f->type == gguf::TensorType::F32) continue;
        ++table;
        EXPECT_TRUE(formats.count(gguf::tensor_type_name(f->type)))
            << gguf::tensor_type_name(f->type) << " has no tensor in dequant.json";
    }
    EXPECT_EQ(table, 15u) << "the CPU table's formats (less F32) are " << cpu::supported_formats();
    std::printf("[ stats    ] %zu of %zu tensors (%zu formats) decoded to llama.cpp's bytes\n", equal, checked,
                formats.size());
}

}  // namespace
}  // namespace orcd
