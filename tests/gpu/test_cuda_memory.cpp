// VRAM enforcement: the tracked allocator, residency, the up-front budget,
// out-of-memory during a job, and leaks over many jobs.
#include "backend/cuda/cuda_backend.h"
#include "common/error.h"
#include "common/fault_injection.h"
#include "common/test_paths.h"
#include "capi_util.h"
#include "engine/backend.h"
#include "engine/model_config.h"
#include "engine/weights.h"
#include "gguf/gguf.h"
#include "gpu_test_util.h"

#include <cstdlib>
#include <regex>

namespace orcd {
namespace {

using cuda::MemCategory;

// stories260K bound on the host.
struct Stories : test::HostModel {
    Stories() : HostModel(test::stories_model()) {}
};

template <class B>
constexpr bool has_end_job = requires(B& b) { b.end_job(); };

// "key=<digits>" from an error detail, or -1.
long long number_after(const std::string& s, const std::string& key) {
    std::smatch m;
    if (std::regex_search(s, m, std::regex(key + "=([0-9]+)"))) return std::stoll(m[1]);
    return -1;
}

// Every device byte is tracked by category and returned by the RAII handle.
TEST(CudaVram, AllocatorTracksCategoriesAndFreesOnDestruction) {
    ORCD_REQUIRE_CUDA();
    test::Gpu g;
    cuda::DeviceAllocator& a = g.alloc();
    const uint64_t base = a.used_total();
    {
        cuda::DeviceBuffer w = a.alloc(1000, MemCategory::Weights);
        cuda::DeviceBuffer k = a.alloc(4096, MemCategory::KvCache);
        EXPECT_EQ(w.bytes(), 1024u) << "sizes round up to 256";
        EXPECT_EQ(a.used(MemCategory::Weights), 1024u);
        EXPECT_EQ(a.used(MemCategory::KvCache), 4096u);
        EXPECT_EQ(a.used_total(), base + 1024 + 4096);
        cuda::DeviceBuffer moved = std::move(w);
        EXPECT_FALSE(w);
        EXPECT_EQ(moved.bytes(), 1024u);
        EXPECT_EQ(a.used_total(), base + 1024 + 4096) << "a move must not change the accounting";
        k.reset();
        EXPECT_EQ(a.used(MemCategory::KvCache), 0u);
    }
    EXPECT_EQ(a.used_total(), base);
}

// The residency check accepts our device allocations and rejects host
// memory (pageable and pinned), so it can fail.
TEST(CudaVram, ResidencyScanPassesForDeviceMemoryOnly) {
    ORCD_REQUIRE_CUDA();
    test::Gpu g;
    cuda::DeviceBuffer b = g.alloc().alloc(1 << 20, MemCategory::Activations);
    std::string why;
    EXPECT_TRUE(g.alloc().verify_residency(&why)) << why;
    EXPECT_TRUE(cuda::DeviceAllocator::is_device_resident(b.get(), 0, &why)) << why;
    std::vector<char> host(4096);
    EXPECT_FALSE(cuda::DeviceAllocator::is_device_resident(host.data(), 0, &why));
    std::printf("[ stats    ] pageable host pointer rejected: %s\n", why.c_str());
    cuda::PinnedHostBuffer pinned(4096);
    EXPECT_FALSE(cuda::DeviceAllocator::is_device_resident(pinned.data(), 0, &why));
    std::printf("[ stats    ] pinned host pointer rejected: %s\n", why.c_str());
    EXPECT_FALSE(cuda::DeviceAllocator::is_device_resident(b.get(), 1 << 20, &why)) << "wrong device accepted";
}

TEST(CudaVram, ModelIsResidentAfterLoad) {
    ORCD_REQUIRE_CUDA();
    Stories m;
    auto dev = make_cuda_device(0);
    auto be = dev->create_backend();
    m.load_into(*be, 256, 64);
    EXPECT_TRUE(be->check_residency()) << static_cast<cuda::CudaBackend&>(*be).residency_error();
    const MemoryStats s = be->memory_stats();
    EXPECT_GE(s.weights, be->weight_bytes());
    EXPECT_EQ(s.kv_cache, (be->kv_bytes() + 255) / 256 * 256);
    EXPECT_GT(s.activations, 0u);
    EXPECT_GT(s.workspace, 0u);
    EXPECT_GT(s.sampling, 0u);
    EXPECT_GT(s.device_total, s.device_free);
    std::printf("[ stats    ] stories260K resident: weights=%llu kv=%llu act=%llu ws=%llu sampling=%llu\n",
                (unsigned long long)s.weights, (unsigned long long)s.kv_cache, (unsigned long long)s.activations,
                (unsigned long long)s.workspace, (unsigned long long)s.sampling);
}

TEST(CudaVram, DeviceIndexOutOfRangeIsACudaError) {
    ORCD_REQUIRE_CUDA();
    int count = 0;
    ASSERT_EQ(cudaGetDeviceCount(&count), cudaSuccess);
    for (int bad : {count, count + 7, -1}) {
        try {
            make_cuda_device(bad);
            FAIL() << "gpu index " << bad << " accepted";
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), ORCD_CUDA_ERROR);
            EXPECT_EQ(std::string(e.what()), "gpu index " + std::to_string(bad) + " out of range (" +
                                                 std::to_string(count) + " devices)");
        }
    }
    const orcd_device_info info = make_cuda_device(0)->info();
    EXPECT_EQ(info.kind, ORCD_DEVICE_CUDA);
    EXPECT_GT(std::strlen(info.name), 0u);
    EXPECT_GE(info.sm_major, 7);
    EXPECT_GT(info.multiprocessors, 0);
    EXPECT_GT(info.total_memory_bytes, info.free_memory_bytes);
    EXPECT_GT(info.cuda_runtime_version, 0);
    std::printf("[ stats    ] device 0: %s sm_%d%d, %d SMs, %llu bytes, runtime %d, driver %d\n", info.name,
                info.sm_major, info.sm_minor, info.multiprocessors, (unsigned long long)info.total_memory_bytes,
                info.cuda_runtime_version, info.cuda_driver_version);
}

// A context larger than the card: INSUFFICIENT_VRAM before any allocation,
// with the required and available bytes in the detail.
TEST(CudaVram, ContextTooLargeIsInsufficientVramWithNumbers) {
    ORCD_REQUIRE_CUDA();
    Stories m;
    auto dev = make_cuda_device(0);
    auto be = dev->create_backend();
    test::Gpu g;
    const uint64_t free_before = g.alloc().mem_info().free;
    const uint64_t per_pos = uint64_t(m.cfg.n_layer) * 2 * m.cfg.n_head_kv * m.cfg.head_dim * 2;
    const uint64_t n_ctx = std::min<uint64_t>(free_before / per_pos * 2, 0xffffffffull);
    ASSERT_GT(n_ctx * per_pos, free_before) << "cannot build a context larger than the card";
    const uint64_t tracked_before = g.alloc().used_total();
    try {
        m.load_into(*be, uint32_t(n_ctx), 64);
        FAIL() << "a " << n_ctx << "-position context was accepted";
    } catch (const Error& e) {
        const std::string d = e.what();
        std::printf("[ stats    ] %s\n", d.c_str());
        EXPECT_EQ(e.code(), ORCD_INSUFFICIENT_VRAM) << d;
        const long long req = number_after(d, "required"), avail = number_after(d, "available");
        EXPECT_GT(req, 0) << d;
        EXPECT_GT(avail, 0) << d;
        EXPECT_GT(req, avail) << d;
    }
    EXPECT_EQ(g.alloc().used_total(), tracked_before) << "the budget check must come before any allocation";
}

#if defined(ORCD_FAULT_INJECTION)
// An allocation failing at load is INSUFFICIENT_VRAM and leaves nothing held.
TEST(CudaVram, InjectedLoadAllocationFailureReleasesEverything) {
    ORCD_REQUIRE_CUDA();
    Stories m;
    auto dev = make_cuda_device(0);
    auto be = dev->create_backend();
    test::Gpu g;
    const uint64_t before = g.alloc().used_total();
    fault::arm(fault::Point::DeviceAlloc, 3);  // the third allocation of the load
    try {
        m.load_into(*be, 256, 64);
        FAIL() << "the injected allocation failure was not reported";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ORCD_INSUFFICIENT_VRAM) << e.what();
        EXPECT_NE(std::string(e.what()).find("vram_used="), std::string::npos) << e.what();
    }
    fault::disarm_all();
    EXPECT_EQ(g.alloc().used_total(), before);
    m.load_into(*be, 256, 64);  // and a retry works
    EXPECT_TRUE(be->check_residency());
}

// A job allocation failing: VRAM_OOM with vram_used and vram_available; the
// next job succeeds.
TEST(CudaVram, InjectedJobAllocationFailureIsVramOomAndNextJobSucceeds) {
    ORCD_REQUIRE_CUDA();
    Stories m;
    auto dev = make_cuda_device(0);
    auto be = dev->create_backend();
    m.load_into(*be, 256, 64);
    const std::vector<int32_t> prompt = {1, 403, 407, 261, 378};
    SamplingConfig cfg;
    cfg.temperature = 0;
    be->begin_job();
    be->forward(prompt.data(), 5, 0);
    fault::arm(fault::Point::JobAlloc);
    try {
        be->sample(cfg, prompt, 1, 0);
        FAIL() << "the injected job allocation failure was not reported";
    } catch (const Error& e) {
        const std::string d = e.what();
        std::printf("[ stats    ] %s\n", d.c_str());
        EXPECT_EQ(e.code(), ORCD_VRAM_OOM) << d;
        EXPECT_GE(number_after(d, "vram_used"), 0) << d;
        EXPECT_GT(number_after(d, "vram_available"), 0) << d;
    }
    fault::disarm_all();
    be->begin_job();
    be->forward(prompt.data(), 5, 0);
    EXPECT_EQ(be->sample(cfg, prompt, 1, 0), 432) << "the next job must run normally (golden first token)";
}

// The same through the C API: the job ends with VRAM_OOM, the next succeeds.
TEST(CudaVram, CapiJobAllocationFailureThenNextJobSucceeds) {
    ORCD_REQUIRE_CUDA();
    test::CapiDevice dev;
    test::CapiModel model;
    test::open_cuda_model(dev, model, test::stories_model());
    orcd_job_params p = orcd_job_default_params();
    p.max_tokens = 8;
    p.temperature = 0;
    fault::arm(fault::Point::JobAlloc);
    const test::JobResult bad = test::run_job(model.m, "Once upon a time", p);
    fault::disarm_all();
    EXPECT_EQ(bad.status, ORCD_VRAM_OOM) << bad.detail;
    EXPECT_NE(bad.detail.find("vram_used="), std::string::npos) << bad.detail;
    EXPECT_NE(bad.detail.find("vram_available="), std::string::npos) << bad.detail;
    const test::JobResult good = test::run_job(model.m, "Once upon a time", p);
    EXPECT_EQ(good.status, ORCD_OK) << good.detail;
    EXPECT_EQ(good.ids.size(), 8u);
}

// An injected kernel launch failure ends the step with CUDA_ERROR; the
// backend keeps working.
TEST(CudaVram, InjectedKernelLaunchFailureIsCudaError) {
    ORCD_REQUIRE_CUDA();
    Stories m;
    auto dev = make_cuda_device(0);
    auto be = test::load_backend(*dev, m, 64, 16);
    const std::vector<int32_t> prompt = {1, 403, 407};
    fault::arm(fault::Point::KernelLaunch, 5);
    try {
        be->forward(prompt.data(), 3, 0);
        FAIL() << "the injected launch failure was not reported";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ORCD_CUDA_ERROR) << e.what();
    }
    fault::disarm_all();
    be->begin_job();
    be->forward(prompt.data(), 3, 0);
    std::vector<float> l(m.cfg.n_vocab);
    be->read_logits(l);
    for (float x : l) ASSERT_FALSE(std::isnan(x));
}
#else
TEST(CudaVram, FaultInjectionTests) { GTEST_SKIP() << "skipped: built without ORCD_FAULT_INJECTION"; }
#endif

// 100 jobs directly on the backend: tracked bytes return to the post-load
// baseline after every job, device free memory to the level after the first
// job (the first job loads kernels lazily).
TEST(CudaVram, HundredJobsLeaveNoDeviceMemoryBehind) {
    ORCD_REQUIRE_CUDA();
    Stories m;
    auto dev = make_cuda_device(0);
    auto be_base = dev->create_backend();
    auto& be = static_cast<cuda::CudaBackend&>(*be_base);
    m.load_into(be, 256, 64);
    const uint64_t tracked0 = be.memory_stats().total();
    uint64_t free1 = 0;
    SamplingConfig cfg;
    cfg.temperature = 0.9f;
    cfg.top_p = 0.9f;
    cfg.repetition_penalty = 1.1f;
    for (int job = 0; job < 100; ++job) {
        std::vector<int32_t> hist = {1, 403, 407, 261, 378};
        be.begin_job();
        be.forward(hist.data(), uint32_t(hist.size()), 0);
        for (int t = 0; t < 10; ++t) {
            const int32_t tok = be.sample(cfg, hist, uint64_t(job), uint64_t(t));
            hist.push_back(tok);
            be.forward(&tok, 1, uint32_t(hist.size() - 1));
        }
        be.end_job();
        const MemoryStats s = be.memory_stats();
        ASSERT_EQ(s.total(), tracked0) << "tracked bytes after job " << job;
        if (job == 0) free1 = s.device_free;
        ASSERT_EQ(s.device_free, free1) << "cudaMemGetInfo free after job " << job;
    }
    std::printf("[ stats    ] 100 jobs: tracked %llu bytes, device free %llu bytes, unchanged\n",
                (unsigned long long)tracked0, (unsigned long long)free1);
}

// The same through the C API. When the engine returns a job's device
// allocations at its end (Backend::end_job), tracked bytes equal the
// post-load baseline; an engine without that hook leaves the last job's
// sampling buffer (GpuSampler::job_bytes) until the next job starts.
TEST(CudaVram, CapiHundredJobsLeaveNoDeviceMemoryBehind) {
    ORCD_REQUIRE_CUDA();
    test::CapiDevice dev;
    test::CapiModel model;
    test::open_cuda_model(dev, model, test::stories_model(), 256);
    orcd_memory_stats s0{};
    ASSERT_EQ(orcd_model_memory_stats(model.m, &s0), ORCD_OK);
    constexpr bool kEngineEndsJobs = has_end_job<Backend>;
    const uint64_t expected = s0.total_bytes + (kEngineEndsJobs ? 0 : cuda::GpuSampler::job_bytes(256));
    std::printf("[ stats    ] engine %s Backend::end_job(): expecting %llu tracked bytes between jobs\n",
                kEngineEndsJobs ? "calls" : "has no", (unsigned long long)expected);
    orcd_job_params p = orcd_job_default_params();
    p.max_tokens = 12;
    p.temperature = 0.8f;
    p.has_seed = 1;
    uint64_t free1 = 0;
    for (int job = 0; job < 100; ++job) {
        p.seed = uint64_t(job);
        const test::JobResult r = test::run_job(model.m, "Once upon a time", p);
        ASSERT_EQ(r.status, ORCD_OK) << r.detail;
        orcd_memory_stats s{};
        ASSERT_EQ(orcd_model_memory_stats(model.m, &s), ORCD_OK);
        ASSERT_EQ(s.total_bytes, expected) << "tracked bytes after job " << job;
        if (job == 0) free1 = s.device_free_bytes;
        ASSERT_EQ(s.device_free_bytes, free1) << "cudaMemGetInfo free after job " << job;
    }
    int32_t resident = 0;
    ASSERT_EQ(orcd_model_check_residency(model.m, &resident), ORCD_OK);
    EXPECT_EQ(resident, 1);
}

}  // namespace
}  // namespace orcd
