// Every reference model (testdata/reference: each architecture and block
// format) on CUDA: its logits against the CPU reference's on the same
// prompts, its greedy and teacher-forced generations against llama.cpp's,
// the same request twice bitwise, and the decode graph equal to plain
// launches bitwise.
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/launch.h"
#include "capi_util.h"
#include "common/reference_models.h"
#include "common/test_paths.h"
#include "gpu_test_util.h"

#include <cmath>
#include <cstring>

namespace orcd {
namespace {

// Logits of a prompt's first generated step, through the C API.
std::vector<float> first_logits(orcd_model* m, const std::string& prompt) {
    orcd_model_info info{};
    orcd_model_get_info(m, &info);
    orcd_job_params p = orcd_job_default_params();
    p.temperature = 0;
    p.max_tokens = 1;
    test::CapiJob job;
    EXPECT_EQ(orcd_job_create(m, prompt.data(), prompt.size(), &p, &job.j), ORCD_OK) << orcd_last_error_detail();
    orcd_job_event ev{};
    EXPECT_EQ(orcd_job_next(job.j, &ev), ORCD_OK) << orcd_last_error_detail();
    std::vector<float> l(info.vocab_size);
    EXPECT_EQ(orcd_job_last_logits(job.j, l.data(), l.size()), ORCD_OK);
    return l;
}

orcd_model* load(orcd_device* dev, const std::string& path) {
    orcd_model_params mp = orcd_model_default_params();
    mp.n_ctx = 256;
    orcd_model* m = nullptr;
    EXPECT_EQ(orcd_model_load(dev, path.c_str(), &mp, &m), ORCD_OK) << orcd_last_error_detail();
    return m;
}

TEST(CudaReferenceModels, MatchTheCpuReferenceAndLlamaCpp) {
    ORCD_REQUIRE_CUDA();
    const std::vector<test::ReferenceModel> models = test::reference_models(test::temp_dir());
    orcd_device_params dp = orcd_device_default_params();
    test::CapiDevice cpu, gpu;
    dp.kind = ORCD_DEVICE_CPU;
    ASSERT_EQ(orcd_device_open(&dp, &cpu.d), ORCD_OK);
    dp.kind = ORCD_DEVICE_CUDA;
    ASSERT_EQ(orcd_device_open(&dp, &gpu.d), ORCD_OK) << orcd_last_error_detail();
    for (const test::ReferenceModel& r : models) {
        SCOPED_TRACE(r.name);
        test::CapiModel mc, mg;
        mc.m = load(cpu.d, r.path);
        mg.m = load(gpu.d, r.path);
        ASSERT_TRUE(mc.m && mg.m);
        // CUDA against the CPU reference, first step of every golden prompt.
        // Bound: prefill rounds activations (and decoded weights) to F16 for
        // the tensor cores and the KV cache is F16: about 2^-11 relative per
        // product, a few layers deep: 2e-2 (1 + |logit|) relative to the
        // logits' own scale. A model with experts runs a prompt this short
        // through the batch-1 expert kernels, which round x to 8 bits per
        // 32 values (quant_q8.cuh: up to 2^-8 of a unit's largest value per
        // element), and its router may then order two close experts
        // differently: twice the bound.
        orcd_model_info info{};
        orcd_model_get_info(mg.m, &info);
        const double rel = std::string(info.architecture) == "gpt-oss" ? 4e-2 : 2e-2;
        double worst = 0;
        for (const test::GoldenRecord& gr : test::load_golden(r.golden)) {
            const std::vector<float> a = first_logits(mc.m, gr.prompt), b = first_logits(mg.m, gr.prompt);
            ASSERT_EQ(a.size(), b.size());
            double scale = 0;
            for (float v : a) scale = std::max(scale, double(std::fabs(v)));
            std::vector<double> tol(a.size(), rel * (1 + scale));
            EXPECT_TRUE(test::all_close(r.name + " CUDA vs CPU logits", b, a, tol));
            for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, double(std::fabs(a[i] - b[i])));
        }
        // A prompt long enough for the prompt-sized paths (tensor-core
        // attention, experts grouped by expert in F16): the F16 bound.
        {
            std::string longp;
            for (int i = 0; i < 12; ++i) longp += "Once upon a time there was a little girl who liked to play. ";
            const std::vector<float> a = first_logits(mc.m, longp), b = first_logits(mg.m, longp);
            ASSERT_EQ(a.size(), b.size());
            double scale = 0;
            for (float v : a) scale = std::max(scale, double(std::fabs(v)));
            std::vector<double> tol(a.size(), 2e-2 * (1 + scale));
            EXPECT_TRUE(test::all_close(r.name + " CUDA vs CPU logits, long prompt", b, a, tol));
        }
        // Against llama.cpp: the CPU reference's bounds widened by CUDA's
        // own difference from it (twice the worst measured just above).
        test::check_against_golden(mg.m, r, r.margin_bound + 2 * worst, r.logit_tol + 2 * worst);

        // The same request twice: the same ids and the same final logits.
        orcd_job_params p = orcd_job_default_params();
        p.temperature = 0.8f;
        p.seed = 42;
        p.has_seed = 1;
        p.max_tokens = 24;
        const test::JobResult x = test::run_job(mg.m, "Once upon a time", p);
        const test::JobResult y = test::run_job(mg.m, "Once upon a time", p);
        ASSERT_EQ(x.status, ORCD_OK) << x.detail;
        EXPECT_EQ(x.ids, y.ids);
        EXPECT_EQ(x.stats.final_logits_hash, y.stats.final_logits_hash);
    }
}

// The decode graph of each architecture and format equals plain launches,
// bit for bit (a graph is only a cheaper way to launch the same kernels),
// and so do launches that overlap their predecessor and launches that do
// not (launch.cuh: the overlap changes when a kernel starts, never what it
// computes; a kernel reading too early would show here). In models with
// experts every boundary overlaps but the expert products', which release
// their successor only at exit (kernel_begin_late).
TEST(CudaReferenceModels, DecodeGraphAndOverlappedLaunchesEqualPlainLaunchesBitwise) {
    ORCD_REQUIRE_CUDA();
    const std::vector<test::ReferenceModel> models = test::reference_models(test::temp_dir());
    auto dev = make_cuda_device(0);
    const bool overlap_was = cuda::overlap_launches();
    struct Way {
        bool graph, overlap;
        const char* name;
    };
    const Way ways[] = {{true, true, "graph, overlapped"}, {false, true, "plain, overlapped"},
                        {true, false, "graph, serial"}, {false, false, "plain, serial"}};
    for (const test::ReferenceModel& r : models) {
        SCOPED_TRACE(r.name);
        test::HostModel m(r.path);
        const std::vector<int32_t> prompt = {1, 403, 407, 261, 378};
        std::vector<std::vector<float>> runs;
        for (const Way& w : ways) {
            cuda::set_overlap_launches(w.overlap);
            std::unique_ptr<Backend> be = dev->create_backend();
            static_cast<cuda::CudaBackend&>(*be).set_decode_graph_enabled(w.graph);
            m.load_into(*be, 64, 16);
            be->begin_job();
            be->forward(prompt.data(), uint32_t(prompt.size()), 0);
            std::vector<float> all = test::logits_of(*be, m.cfg.n_vocab);
            int32_t tok = 2;
            for (uint32_t s = 0; s < 12; ++s) {
                be->forward(&tok, 1, uint32_t(prompt.size()) + s);
                const std::vector<float> l = test::logits_of(*be, m.cfg.n_vocab);
                all.insert(all.end(), l.begin(), l.end());
                tok = int32_t((s * 37 + 11) % m.cfg.n_vocab);
            }
            if (w.graph) {
                EXPECT_EQ(static_cast<cuda::CudaBackend&>(*be).decode_graph_status(), "graph") << w.name;
            }
            runs.push_back(std::move(all));
        }
        for (size_t i = 1; i < runs.size(); ++i)
            EXPECT_EQ(std::memcmp(runs[0].data(), runs[i].data(), runs[0].size() * 4), 0)
                << ways[0].name << " and " << ways[i].name << " differ";
    }
    cuda::set_overlap_launches(overlap_was);
}

}  // namespace
}  // namespace orcd
