// Small RAII holders over the C API for the GPU tests.
#pragma once

#include <orcd/orcd.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace orcd::test {

struct CapiDevice {
    orcd_device* d = nullptr;
    ~CapiDevice() { orcd_device_close(d); }
};
struct CapiModel {
    orcd_model* m = nullptr;
    ~CapiModel() { orcd_model_free(m); }
};
struct CapiJob {
    orcd_job* j = nullptr;
    ~CapiJob() { orcd_job_free(j); }
};

// Opens CUDA device 0 and loads `path`; fails the test on error.
inline void open_cuda_model(CapiDevice& dev, CapiModel& model, const std::string& path, uint32_t n_ctx = 0) {
    orcd_device_params dp = orcd_device_default_params();
    dp.kind = ORCD_DEVICE_CUDA;
    dp.gpu_index = 0;
    ASSERT_EQ(orcd_device_open(&dp, &dev.d), ORCD_OK) << orcd_last_error_detail();
    orcd_model_params mp = orcd_model_default_params();
    mp.n_ctx = n_ctx;
    ASSERT_EQ(orcd_model_load(dev.d, path.c_str(), &mp, &model.m), ORCD_OK) << orcd_last_error_detail();
}

struct JobResult {
    orcd_status status = ORCD_OK;
    std::string detail;
    std::vector<int32_t> ids;
    std::string text;  // the events' text bytes, concatenated
    orcd_job_stats stats{};
};

// Runs a created job (status: orcd_job_create's) to its end or first error.
inline JobResult run_created_job(orcd_status status, CapiJob& job) {
    JobResult r;
    r.status = status;
    while (r.status == ORCD_OK) {
        orcd_job_event ev{};
        r.status = orcd_job_next(job.j, &ev);
        if (r.status != ORCD_OK) break;
        if (ev.token >= 0) r.ids.push_back(ev.token);
        r.text.append(ev.text, ev.text_len);
        if (ev.done) break;
    }
    if (r.status != ORCD_OK) r.detail = orcd_last_error_detail();
    if (job.j) orcd_job_get_stats(job.j, &r.stats);
    return r;
}

// Runs a job to its end (or its first error).
inline JobResult run_job(orcd_model* model, const std::string& prompt, const orcd_job_params& params) {
    CapiJob job;
    return run_created_job(orcd_job_create(model, prompt.data(), prompt.size(), &params, &job.j), job);
}
// The same from prompt ids (orcd_job_create_tokens).
inline JobResult run_job(orcd_model* model, const std::vector<int32_t>& ids, const orcd_job_params& params) {
    CapiJob job;
    return run_created_job(orcd_job_create_tokens(model, ids.data(), ids.size(), &params, &job.j), job);
}

}  // namespace orcd::test
