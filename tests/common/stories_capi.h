// A test fixture holding the CPU device and stories260K loaded through the C
// API, for the tests that exercise the C API on the real model.
#pragma once

#include "common/test_paths.h"

#include <orcd/orcd.h>

#include <gtest/gtest.h>

namespace orcd::test {

class StoriesCapiTest : public ::testing::Test {
protected:
    void SetUp() override {
        orcd_device_params dp = orcd_device_default_params();
        dp.kind = ORCD_DEVICE_CPU;
        ASSERT_EQ(orcd_device_open(&dp, &dev_), ORCD_OK) << orcd_last_error_detail();
        ASSERT_EQ(orcd_model_load(dev_, stories_model().c_str(), nullptr, &model_), ORCD_OK)
            << orcd_last_error_detail();
    }
    void TearDown() override {
        orcd_model_free(model_);
        orcd_device_close(dev_);
    }
    orcd_device* dev_ = nullptr;
    orcd_model* model_ = nullptr;
};

}  // namespace orcd::test
