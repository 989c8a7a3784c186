// The C API on the CUDA device: greedy stories260K against the golden ids of
// llama.cpp, residency, and device selection errors.
#include "capi_util.h"
#include "common/golden.h"
#include "common/test_paths.h"
#include "gpu_test_util.h"

#include <algorithm>

namespace orcd {
namespace {

// Bound on the GPU's logit error for stories260K: 2e-2 (see
// test_cuda_model.cpp). A step whose golden top-1 margin is below twice that
// may legitimately flip; the comparison stops there and says so.
constexpr double kMarginBound = 4e-2;

TEST(CudaCapi, GreedyStories260KMatchesGolden) {
    ORCD_REQUIRE_CUDA();
    test::CapiDevice dev;
    test::CapiModel model;
    test::open_cuda_model(dev, model, test::stories_model());
    int prompts = 0;
    size_t compared_total = 0;
    for (const test::GoldenRecord& g : test::stories_golden()) {
        orcd_job_params p = orcd_job_default_params();
        p.temperature = 0;
        p.max_tokens = uint32_t(g.ids.size());
        const test::JobResult r = test::run_job(model.m, g.prompt, p);
        ASSERT_EQ(r.status, ORCD_OK) << r.detail;
        const test::IdComparison c = test::compare_ids(g, r.ids, kMarginBound);
        std::printf("[ stats    ] \"%s\": %s\n", g.prompt.c_str(), c.summary.c_str());
        EXPECT_TRUE(c.ok) << "prompt \"" << g.prompt << "\": " << c.summary;
        EXPECT_GE(r.ids.size(), std::min(c.stopped_at, g.ids.size())) << "the job ended early";
        compared_total += c.compared;
        ++prompts;
    }
    EXPECT_GT(prompts, 0);
    EXPECT_GT(compared_total, 0u);
}

TEST(CudaCapi, ModelIsResidentAndReportsMemory) {
    ORCD_REQUIRE_CUDA();
    test::CapiDevice dev;
    test::CapiModel model;
    test::open_cuda_model(dev, model, test::stories_model());
    int32_t resident = 0;
    ASSERT_EQ(orcd_model_check_residency(model.m, &resident), ORCD_OK);
    EXPECT_EQ(resident, 1);
    orcd_memory_stats s{};
    ASSERT_EQ(orcd_model_memory_stats(model.m, &s), ORCD_OK);
    EXPECT_EQ(s.total_bytes, s.weights_bytes + s.kv_cache_bytes + s.activations_bytes + s.workspace_bytes +
                                 s.sampling_bytes);
    EXPECT_GT(s.weights_bytes, 0u);
    EXPECT_GT(s.device_total_bytes, 0u);
    orcd_model_info info{};
    ASSERT_EQ(orcd_model_get_info(model.m, &info), ORCD_OK);
    EXPECT_GT(info.load_gbps, 0.0);
    std::printf("[ stats    ] model info: weights %llu bytes, kv %llu bytes, load %.3f GB/s\n",
                (unsigned long long)info.weight_bytes, (unsigned long long)info.kv_cache_bytes, info.load_gbps);
}

TEST(CudaCapi, OutOfRangeGpuIndexIsCudaError) {
    ORCD_REQUIRE_CUDA();
    orcd_device_params dp = orcd_device_default_params();
    dp.kind = ORCD_DEVICE_CUDA;
    dp.gpu_index = 64;
    orcd_device* d = nullptr;
    EXPECT_EQ(orcd_device_open(&dp, &d), ORCD_CUDA_ERROR);
    EXPECT_EQ(d, nullptr);
    EXPECT_NE(std::string(orcd_last_error_detail()).find("gpu index 64 out of range"), std::string::npos)
        << orcd_last_error_detail();
    orcd_device_close(d);
}

}  // namespace
}  // namespace orcd
