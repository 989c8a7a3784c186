// The model accessors of the C API: architecture, weight format, GGUF
// metadata by key and by index, and the registries this build was made with.
#include "common/stories_capi.h"
#include "common/test_paths.h"

#include <orcd/orcd.h>

#include <gtest/gtest.h>

#include <string>

namespace {

class CApiModel : public orcd::test::StoriesCapiTest {
protected:
    std::string meta(const char* key) {
        const char* text = nullptr;
        size_t len = 0;
        EXPECT_EQ(orcd_model_meta_str(model_, key, &text, &len), ORCD_OK);
        return text ? std::string(text, len) : std::string("<absent>");
    }
};

TEST_F(CApiModel, ArchitectureAndWeightFormat) {
    EXPECT_STREQ(orcd_model_architecture(model_), "llama");
    EXPECT_STREQ(orcd_model_weight_format(model_), "F32");
    EXPECT_STREQ(orcd_model_architecture(nullptr), "");
}

TEST_F(CApiModel, MetadataByKeyAsText) {
    EXPECT_EQ(meta("general.architecture"), "llama");
    EXPECT_EQ(meta("llama.context_length"), "2048");
    EXPECT_EQ(meta("llama.embedding_length"), "64");
    EXPECT_EQ(meta("tokenizer.ggml.tokens"), "array[512]");
    EXPECT_EQ(meta("no.such.key"), "<absent>");
    const char* text = nullptr;
    size_t len = 0;
    EXPECT_EQ(orcd_model_meta_str(model_, nullptr, &text, &len), ORCD_INVALID_REQUEST);
}

TEST_F(CApiModel, MetadataEnumeratesSortedKeys) {
    const size_t n = orcd_model_meta_count(model_);
    ASSERT_GT(n, 10u);
    std::string prev;
    bool saw_arch = false;
    for (size_t i = 0; i < n; ++i) {
        const char* k = orcd_model_meta_key(model_, i);
        ASSERT_NE(k, nullptr);
        EXPECT_LT(prev, std::string(k));
        prev = k;
        saw_arch = saw_arch || prev == "general.architecture";
    }
    EXPECT_TRUE(saw_arch);
    EXPECT_EQ(orcd_model_meta_key(model_, n), nullptr);
}

TEST(CApiRegistries, ListTheArchitecturesAndFormatsOfThisBuild) {
    const std::string archs = orcd_supported_architectures();
    for (const char* a : {"llama", "qwen2", "phi3"}) EXPECT_NE(archs.find(a), std::string::npos) << archs;
    const std::string cpu = orcd_supported_weight_formats(ORCD_DEVICE_CPU);
    EXPECT_NE(cpu.find("F32"), std::string::npos) << cpu;
    EXPECT_NE(cpu.find("F16"), std::string::npos) << cpu;
#ifdef ORCD_WITH_CUDA
    EXPECT_NE(std::string(orcd_supported_weight_formats(ORCD_DEVICE_CUDA)).find("F16"), std::string::npos);
#else
    EXPECT_STREQ(orcd_supported_weight_formats(ORCD_DEVICE_CUDA), "");
#endif
}

}  // namespace
