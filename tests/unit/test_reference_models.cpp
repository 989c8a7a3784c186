// Every reference model (testdata/reference/manifest.json: each architecture
// and weight format, made by llama.cpp's quantizer or by the synthesizer)
// on the CPU reference backend against llama.cpp's greedy generations on the
// same file: prompt ids equal, first-step logits within the entry's bound,
// generated ids equal up to the first step whose reference top-1 margin is
// below the entry's bound (printed per prompt).
#include "common/reference_models.h"
#include "common/test_paths.h"

#include <gtest/gtest.h>

namespace orcd {
namespace {

TEST(ReferenceModels, CpuReferenceMatchesLlamaCppOnTheSameFiles) {
    const std::vector<test::ReferenceModel> models = test::reference_models(test::temp_dir());
    ASSERT_FALSE(models.empty());
    orcd_device_params dp = orcd_device_default_params();
    dp.kind = ORCD_DEVICE_CPU;
    orcd_device* dev = nullptr;
    ASSERT_EQ(orcd_device_open(&dp, &dev), ORCD_OK);
    for (const test::ReferenceModel& r : models) {
        SCOPED_TRACE(r.name);
        orcd_model_params mp = orcd_model_default_params();
        mp.n_ctx = 256;
        orcd_model* model = nullptr;
        ASSERT_EQ(orcd_model_load(dev, r.path.c_str(), &mp, &model), ORCD_OK) << orcd_last_error_detail();
        std::printf("[ stats    ] %s: %s, %s\n", r.name.c_str(), orcd_model_architecture(model),
                    orcd_model_weight_format(model));
        test::check_against_golden(model, r, r.margin_bound, r.logit_tol);
        orcd_model_free(model);
    }
    orcd_device_close(dev);
}

}  // namespace
}  // namespace orcd
