// A model without output.weight uses its token embedding as the LM head
// (tied). Built from stories260K: both variants below embed and project with
// the same matrix (its output.weight), one through the tie and one through
// an explicit copy, so their logits must be identical to the bit.
#include "common/test_paths.h"
#include "gguf/gguf.h"
#include "gguf/gguf_writer.h"

#include <orcd/orcd.h>

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace orcd {
namespace {

std::string write_variant(const gguf::File& src, bool with_output, const std::string& path) {
    const gguf::TensorInfo& head = src.get_tensor("output.weight");
    gguf::Writer w;
    w.copy_metadata(src, "");
    std::vector<const gguf::TensorInfo*> data;
    for (const gguf::TensorInfo& t : src.tensors()) {
        if (t.name == "output.weight" && !with_output) continue;
        std::vector<uint64_t> dims(t.ne, t.ne + t.n_dims);
        w.add_tensor(t.name, t.type, dims);
        // The embedding takes the head's values in both variants.
        data.push_back(t.name == "token_embd.weight" ? &head : &t);
    }
    const std::vector<uint8_t> bytes = w.to_memory([&](size_t i, uint8_t* dst, uint64_t n) {
        std::memcpy(dst, data[i]->data, n);
    });
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    return path;
}

std::vector<float> logits_after(const std::string& path, uint64_t* weight_bytes) {
    orcd_device_params dp = orcd_device_default_params();
    dp.kind = ORCD_DEVICE_CPU;
    orcd_device* dev = nullptr;
    orcd_model* model = nullptr;
    EXPECT_EQ(orcd_device_open(&dp, &dev), ORCD_OK);
    EXPECT_EQ(orcd_model_load(dev, path.c_str(), nullptr, &model), ORCD_OK) << orcd_last_error_detail();
    std::vector<float> logits;
    if (model) {
        orcd_model_info info{};
        orcd_model_get_info(model, &info);
        *weight_bytes = info.weight_bytes;
        orcd_job_params jp = orcd_job_default_params();
        jp.temperature = 0;
        jp.max_tokens = 8;
        orcd_job* job = nullptr;
        EXPECT_EQ(orcd_job_create(model, "Once upon a time", 16, &jp, &job), ORCD_OK);
        orcd_job_event ev{};
        do {
            EXPECT_EQ(orcd_job_next(job, &ev), ORCD_OK);
        } while (!ev.done);
        logits.resize(info.vocab_size);
        EXPECT_EQ(orcd_job_last_logits(job, logits.data(), logits.size()), ORCD_OK);
        orcd_job_free(job);
    }
    orcd_model_free(model);
    orcd_device_close(dev);
    return logits;
}

TEST(TiedOutput, TokenEmbeddingServesAsTheHeadWhenOutputIsAbsent) {
    auto src = gguf::File::open(test::stories_model());
    const std::string dir = test::temp_dir();
    const std::string tied = write_variant(*src, false, dir + "/tied.gguf");
    const std::string twin = write_variant(*src, true, dir + "/twin.gguf");
    uint64_t tied_bytes = 0, twin_bytes = 0;
    const std::vector<float> a = logits_after(tied, &tied_bytes);
    const std::vector<float> b = logits_after(twin, &twin_bytes);
    ASSERT_EQ(a.size(), 512u);
    ASSERT_EQ(b.size(), 512u);
    EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0) << "tied and explicit heads differ";
    // The tie holds the matrix once.
    EXPECT_EQ(twin_bytes - tied_bytes, src->get_tensor("output.weight").n_bytes);
}

}  // namespace
}  // namespace orcd
