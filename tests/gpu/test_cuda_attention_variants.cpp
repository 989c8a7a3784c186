// What varies between architectures in attention and positions, on the
// device against the CPU reference: sliding windows (a query at p sees
// [p + 1 - window, p]; positions 127/128/129 around a window of 128), sink
// logits, a score scale other than 1/sqrt(head_dim), NEOX rotation and YaRN
// scaling at positions past the original context (4096).
#include "backend/cpu/cpu_ops.h"
#include "backend/cuda/kernels.h"
#include "backend/cuda/matmul.h"
#include "backend/cuda/prefill_attention.h"
#include "gpu_test_util.h"

#include <cmath>
#include <cstring>

namespace orcd {
namespace {

using test::Gpu;

struct Variant {
    uint32_t window;
    bool sinks;
    float scale;  // 0: 1/sqrt(head_dim)
};

// n_tokens queries at pos0.. over one slot's F16 cache; path 0: the
// attention kernel (decode kernel with splits for one token), 1: the cuBLAS
// prefill path. Bound: kernel path 2e-5 + 1e-4 |ref| (online softmax, expf
// ulps, summation order); cuBLAS path (q and p rounded to F16): 2e-3 (1 + |ref|).
void check(uint32_t n_tokens, uint32_t pos0, const Variant& var, int path) {
    Gpu g;
    const uint32_t n_head = 8, n_kv = 2, hd = 64, n_ctx = pos0 + n_tokens + 5;
    const uint64_t row = uint64_t(n_kv) * hd;
    const std::vector<uint16_t> k16 = test::to_f16(test::random_floats(n_ctx * row, 40 + pos0, -1.5f, 1.5f));
    const std::vector<uint16_t> v16 = test::to_f16(test::random_floats(n_ctx * row, 41 + pos0, -1, 1));
    const std::vector<float> q = test::random_floats(size_t(n_tokens) * n_head * hd, 42 + pos0, -1.5f, 1.5f);
    const std::vector<float> sinks = test::random_floats(n_head, 43, -1.0f, 3.0f);
    cuda::DeviceBuffer dk = g.upload(k16), dv = g.upload(v16), dq = g.upload(q), ds = g.upload(sinks);
    cuda::DeviceBuffer out = g.poisoned(q.size() * 4);
    const float scale = var.scale > 0 ? var.scale : 1.0f / std::sqrt(float(hd));
    const cuda::AttentionParams params{scale, var.window, var.sinks ? ds.as<float>() : nullptr};
    if (path == 0) {
        cuda::DeviceBuffer ws = g.poisoned(cuda::attention_split_floats(n_head, hd) * 4);
        cuda::attention_split_reset(ws.as<float>(), n_head, hd, g.stream());
        cuda::attention(out.as<float>(), dq.as<float>(), dk.as<uint16_t>(), dv.as<uint16_t>(), n_tokens, pos0, n_head,
                        n_kv, hd, ws.as<float>(), g.stream(), nullptr, 0, params);
    } else {
        cuda::Gemm gemm(g.alloc(), g.stream());
        const cuda::PrefillAttentionPlan plan = cuda::plan_prefill_attention(n_head, n_kv, hd, n_tokens, n_ctx);
        ASSERT_TRUE(plan.enabled());
        cuda::DeviceBuffer ws = g.poisoned(plan.bytes);
        cuda::prefill_attention(gemm, plan, ws.get(), out.as<float>(), dq.as<float>(), dk.as<uint16_t>(),
                                dv.as<uint16_t>(), n_tokens, pos0, params);
    }
    const std::vector<float> kf = test::from_f16(k16), vf = test::from_f16(v16);
    std::vector<float> want(q.size());
    const cpu::AttentionShape shape{n_head, n_kv, hd, scale, var.window, var.sinks ? sinks.data() : nullptr};
    for (uint32_t t = 0; t < n_tokens; ++t)
        cpu::attention_row(&want[size_t(t) * n_head * hd], &q[size_t(t) * n_head * hd], kf.data(), vf.data(), pos0 + t,
                           shape);
    const std::string what = std::string(path ? "cublas" : "kernel") + " n=" + std::to_string(n_tokens) +
                             " pos0=" + std::to_string(pos0) + " window=" + std::to_string(var.window) +
                             (var.sinks ? " sinks" : "") + " scale=" + std::to_string(scale);
    if (path == 0)
        EXPECT_TRUE(test::all_close(what, g.download<float>(out, q.size()), want, 2e-5, 1e-4));
    else
        EXPECT_TRUE(test::all_close(what, g.download<float>(out, q.size()), want, 2e-3, 2e-3));
}

TEST(CudaAttentionVariants, SlidingWindowAtItsBoundary) {
    ORCD_REQUIRE_CUDA();
    for (uint32_t pos : {126u, 127u, 128u, 129u, 300u, 5000u}) {
        check(1, pos, {128, false, 0}, 0);       // decode, split over the window
        check(3, pos - 1, {128, false, 0}, 0);   // a chunk straddling the boundary
    }
    check(64, 100, {128, false, 0}, 1);          // cuBLAS path: rows before and past 128 keys
    check(40, 200, {128, false, 0}, 1);
}

TEST(CudaAttentionVariants, SinksJoinTheSoftmax) {
    ORCD_REQUIRE_CUDA();
    for (uint32_t pos : {0u, 5u, 129u, 3000u}) {
        check(1, pos, {0, true, 0}, 0);
        check(1, pos, {128, true, 0}, 0);
        check(4, pos, {128, true, 0}, 0);
    }
    check(33, 150, {128, true, 0}, 1);
    check(17, 0, {0, true, 0}, 1);
}

TEST(CudaAttentionVariants, ScaleOtherThanTheDefault) {
    ORCD_REQUIRE_CUDA();
    check(1, 77, {0, false, 0.2f}, 0);
    check(5, 20, {0, false, 0.05f}, 0);
    check(20, 20, {0, false, 0.2f}, 1);
}

RopeConfig rope_of(RopeMode mode, bool yarn) {
    RopeConfig r;
    r.mode = mode;
    r.dims = 64;
    r.freq_base = yarn ? 150000.0f : 10000.0f;
    if (yarn) {
        // GPT-OSS-20B: factor 32 over an original context of 4096; the
        // correction dimensions the reference derives, [8, 18].
        r.yarn = true;
        r.freq_scale = 1.0f / 32.0f;
        r.yarn_ext_factor = 1.0f;
        r.yarn_low = 8.0f;
        r.yarn_high = 18.0f;
        r.mscale = 1.0f + 0.1f * std::log(32.0f);
    }
    return r;
}

// Rotations at positions up to 120000 (YaRN beyond the original 4096). Bound:
// both sides form theta = pos * base^(-2i/d) in F32, and powf on the device
// may differ from std::pow by an ulp, which moves theta by up to
// pos * 2^-23 radians; plus sincosf against std::cos/sin (a few ulps):
// 1e-5 + (1e-5 + pos * 2^-22) |x| per element (|x| <= 1).
TEST(CudaAttentionVariants, NeoxAndYarnRotationMatchTheReference) {
    ORCD_REQUIRE_CUDA();
    Gpu g;
    const uint32_t heads = 4, hd = 64, n_tokens = 3;
    for (RopeMode mode : {RopeMode::Normal, RopeMode::Neox}) {
        for (bool yarn : {false, true}) {
            for (uint32_t pos0 : {0u, 4095u, 5000u, 120000u}) {
                const RopeConfig r = rope_of(mode, yarn);
                const std::vector<float> x = test::random_floats(size_t(n_tokens) * heads * hd, pos0 + 3, -1, 1);
                cuda::DeviceBuffer dx = g.upload(x);
                cuda::rope(dx.as<float>(), n_tokens, heads, hd, r, pos0, g.stream());
                std::vector<float> want = x;
                for (uint32_t t = 0; t < n_tokens; ++t) cpu::rope(&want[size_t(t) * heads * hd], heads, hd, pos0 + t, r);
                EXPECT_TRUE(test::all_close(std::string(rope_mode_name(mode)) + (yarn ? "+yarn" : "") +
                                                " pos0=" + std::to_string(pos0),
                                            g.download<float>(dx, x.size()), want, 1e-5 + 1e-5 + pos0 * 0x1p-22, 0));
            }
        }
    }
}

// The fused rope + KV store equals rope() then store_kv(), bit for bit, in
// every mode (the decode graph relies on it).
TEST(CudaAttentionVariants, FusedRopeStoreEqualsSeparateKernelsInEveryMode) {
    ORCD_REQUIRE_CUDA();
    Gpu g;
    const uint32_t n_head = 8, n_kv = 2, hd = 64, n_tokens = 5, pos0 = 4100;
    const KvLayout layout{1, pos0 + n_tokens, n_kv, hd, 2, 1};
    for (RopeMode mode : {RopeMode::Normal, RopeMode::Neox, RopeMode::None}) {
        for (bool yarn : {false, true}) {
            const RopeConfig r = rope_of(mode, yarn);
            const std::vector<float> q = test::random_floats(size_t(n_tokens) * n_head * hd, 1, -1, 1);
            const std::vector<float> k = test::random_floats(size_t(n_tokens) * n_kv * hd, 2, -1, 1);
            const std::vector<float> v = test::random_floats(size_t(n_tokens) * n_kv * hd, 3, -1, 1);
            cuda::DeviceBuffer q1 = g.upload(q), q2 = g.upload(q), k1 = g.upload(k), k2 = g.upload(k), dv = g.upload(v);
            cuda::DeviceBuffer c1 = g.poisoned(layout.total_bytes()), c2 = g.poisoned(layout.total_bytes());
            cuda::rope_store_kv(q1.as<float>(), k1.as<float>(), dv.as<float>(), c1.as<uint16_t>(), layout, 0, 0,
                                n_tokens, n_head, r, pos0, g.stream());
            cuda::rope(q2.as<float>(), n_tokens, n_head, hd, r, pos0, g.stream());
            cuda::rope(k2.as<float>(), n_tokens, n_kv, hd, r, pos0, g.stream());
            cuda::store_kv(c2.as<uint16_t>(), layout, 0, pos0, k2.as<float>(), dv.as<float>(), n_tokens, g.stream());
            const std::string what = std::string(rope_mode_name(mode)) + (yarn ? "+yarn" : "");
            EXPECT_EQ(g.download<float>(q1, q.size()), g.download<float>(q2, q.size())) << what;
            const size_t n16 = layout.total_elems();
            const std::vector<uint16_t> a = g.download<uint16_t>(c1, n16), b = g.download<uint16_t>(c2, n16);
            EXPECT_EQ(std::memcmp(a.data() + layout.offset(0, 0, pos0), b.data() + layout.offset(0, 0, pos0),
                                  n_tokens * layout.row_elems() * 2), 0) << what << " K";
            EXPECT_EQ(std::memcmp(a.data() + layout.offset(0, 1, pos0), b.data() + layout.offset(0, 1, pos0),
                                  n_tokens * layout.row_elems() * 2), 0) << what << " V";
        }
    }
}

// The decode step's attention with the rotation and the cache store in its
// kernel (attention_rope_store) equals rope_store_kv() then attention(), bit
// for bit: the output and the new cache row. Query heads sharing a KV head
// (14:2: seven blocks write the same new row; 16:2 and GPT-OSS-20B's 64:8:
// eight), 8:8, Phi-3's head_dim 96 without grouping; windows, sinks, every
// rotation mode. Where the decode kernel does not apply (head_dim 12, not a
// multiple of 8) it declines, and writes nothing.
TEST(CudaAttentionVariants, AttentionWithRopeStoreEqualsTheTwoKernels) {
    ORCD_REQUIRE_CUDA();
    Gpu g;
    struct Shape {
        uint32_t n_head, n_kv, hd;
    };
    {
        const uint32_t n_ctx = 64, hd = 12;
        const KvLayout layout{1, n_ctx, 2, hd, 2, 1};
        cuda::DeviceBuffer dq = g.poisoned(8 * hd * 4), dk = g.poisoned(2 * hd * 4), dv = g.poisoned(2 * hd * 4);
        cuda::DeviceBuffer c = g.upload(std::vector<uint16_t>(layout.total_elems(), 0x3c00));
        cuda::DeviceBuffer o = g.upload(std::vector<float>(8 * hd, 7.0f));
        cuda::DeviceBuffer pos = g.upload(std::vector<uint32_t>{3});
        RopeConfig r = rope_of(RopeMode::Neox, false);
        r.dims = hd;
        EXPECT_FALSE(cuda::attention_rope_store(o.as<float>(), dq.as<float>(), dk.as<float>(), dv.as<float>(),
                                                c.as<uint16_t>(), c.as<uint16_t>() + layout.offset(0, 1, 0), 8, 2, hd,
                                                nullptr, g.stream(), pos.as<uint32_t>(), n_ctx, {}, r));
        EXPECT_EQ(g.download<uint16_t>(c, layout.total_elems()), std::vector<uint16_t>(layout.total_elems(), 0x3c00));
        EXPECT_EQ(g.download<float>(o, 8 * hd), std::vector<float>(8 * hd, 7.0f));
    }
    for (const Shape sh : {Shape{14, 2, 64}, Shape{16, 2, 64}, Shape{64, 8, 64}, Shape{8, 8, 64}, Shape{32, 32, 96}}) {
        for (RopeMode mode : {RopeMode::Normal, RopeMode::Neox, RopeMode::None}) {
            for (uint32_t p : {0u, 5u, 128u, 3000u}) {
                const bool yarn = p == 3000;
                const uint32_t window = p % 2 == 0 ? 128 : 0;
                RopeConfig r = rope_of(mode, yarn);
                r.dims = sh.hd;
                const uint32_t n_ctx = 3100;
                const KvLayout layout{1, n_ctx, sh.n_kv, sh.hd, 2, 1};
                const uint64_t n16 = layout.total_elems();
                const std::vector<uint16_t> cache = test::to_f16(test::random_floats(n16, 50 + p, -1.5f, 1.5f));
                const std::vector<float> q = test::random_floats(size_t(sh.n_head) * sh.hd, 51 + p, -1.5f, 1.5f);
                const std::vector<float> k = test::random_floats(size_t(sh.n_kv) * sh.hd, 52 + p, -1.5f, 1.5f);
                const std::vector<float> v = test::random_floats(size_t(sh.n_kv) * sh.hd, 53 + p, -1, 1);
                const std::vector<float> sinks = test::random_floats(sh.n_head, 54, -1.0f, 3.0f);
                cuda::DeviceBuffer q1 = g.upload(q), q2 = g.upload(q), dk = g.upload(k), dv = g.upload(v);
                cuda::DeviceBuffer c1 = g.upload(cache), c2 = g.upload(cache), ds = g.upload(sinks);
                cuda::DeviceBuffer pos = g.upload(std::vector<uint32_t>{p});
                cuda::DeviceBuffer o1 = g.poisoned(q.size() * 4), o2 = g.poisoned(q.size() * 4);
                cuda::DeviceBuffer w1 = g.poisoned(cuda::attention_split_floats(sh.n_head, sh.hd) * 4);
                cuda::DeviceBuffer w2 = g.poisoned(cuda::attention_split_floats(sh.n_head, sh.hd) * 4);
                cuda::attention_split_reset(w1.as<float>(), sh.n_head, sh.hd, g.stream());
                cuda::attention_split_reset(w2.as<float>(), sh.n_head, sh.hd, g.stream());
                const cuda::AttentionParams params{0.0f, window, window ? ds.as<float>() : nullptr};
                uint16_t* k1 = c1.as<uint16_t>() + layout.offset(0, 0, 0);
                uint16_t* v1 = c1.as<uint16_t>() + layout.offset(0, 1, 0);
                ASSERT_TRUE(cuda::attention_rope_store(o1.as<float>(), q1.as<float>(), dk.as<float>(), dv.as<float>(),
                                                       k1, v1, sh.n_head, sh.n_kv, sh.hd, w1.as<float>(), g.stream(),
                                                       pos.as<uint32_t>(), n_ctx, params, r));
                cuda::rope_store_kv(q2.as<float>(), dk.as<float>(), dv.as<float>(), c2.as<uint16_t>(), layout, 0, 0, 1,
                                    sh.n_head, r, 0, g.stream(), pos.as<uint32_t>());
                cuda::attention(o2.as<float>(), q2.as<float>(), c2.as<uint16_t>() + layout.offset(0, 0, 0),
                                c2.as<uint16_t>() + layout.offset(0, 1, 0), 1, 0, sh.n_head, sh.n_kv, sh.hd,
                                w2.as<float>(), g.stream(), pos.as<uint32_t>(), n_ctx, params);
                const std::string what = std::to_string(sh.n_head) + ":" + std::to_string(sh.n_kv) + "x" +
                                         std::to_string(sh.hd) + " " + rope_mode_name(mode) + (yarn ? "+yarn" : "") +
                                         " p=" + std::to_string(p) + " window=" + std::to_string(window);
                const std::vector<float> a = g.download<float>(o1, q.size()), b = g.download<float>(o2, q.size());
                EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * 4)) << what << " output";
                const std::vector<uint16_t> ca = g.download<uint16_t>(c1, n16), cb = g.download<uint16_t>(c2, n16);
                EXPECT_EQ(0, std::memcmp(ca.data(), cb.data(), n16 * 2)) << what << " cache";
            }
        }
    }
}

}  // namespace
}  // namespace orcd
