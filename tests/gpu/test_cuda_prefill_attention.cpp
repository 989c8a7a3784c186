// Prefill attention through cuBLAS (backend/cuda/prefill_attention.h)
// against cpu::attention, which reads the same F16 cache values as F32.
#include "backend/cpu/cpu_ops.h"
#include "backend/cuda/matmul.h"
#include "backend/cuda/prefill_attention.h"
#include "gpu_test_util.h"

#include <cmath>
#include <cstring>

namespace orcd {
namespace {

using test::Gpu;

constexpr double kU16 = 1.0 / 2048;            // F16 unit roundoff 2^-11 (relative, normal range)
constexpr double kSub16 = 1.0 / 33554432.0;    // 2^-25: half the F16 subnormal spacing (absolute)
constexpr double kU32 = 1.0 / 16777216.0;      // 2^-24

// Bound, per output element (t, h, d). The path rounds q and p to F16 and
// accumulates in F32 in another order than the reference:
//  - a score s_j = scale * q.k_j moves by at most
//      D_j = scale * sum_d ((2^-11 + 2 hd 2^-24) |q_d| + 2^-25) |k_jd|
//    (q rounding, relative 2^-11 or absolute 2^-25 below the normal range;
//    F32 accumulation over hd products, 2^-23 per addition for the tensor
//    cores' adders);
//  - with D = max_j D_j, each probability moves by a factor in
//    [e^-2D, e^2D] (numerator and normaliser), then F16 rounding adds
//    2^-11 p_j + 2^-25, the F32 sum over n_keys terms 2 n_keys 2^-24 p_j;
//  - so |err| <= sum_j (((e^2D - 1)(1 + 2^-11) + 2^-11 + (2 n_keys + 4) 2^-24) p_j + 2^-25) |v_jd|
//    plus the kernel's bound 2e-5 + 1e-4 |ref| (expf ulps, two-pass softmax).
// p_j are the reference probabilities, computed here in double.
std::vector<double> bound(const std::vector<float>& q, const std::vector<float>& kf, const std::vector<float>& vf,
                          const std::vector<float>& ref, uint32_t n_tokens, uint32_t pos0, uint32_t n_head,
                          uint32_t n_kv, uint32_t hd) {
    const uint32_t group = n_head / n_kv;
    const uint64_t row = uint64_t(n_kv) * hd;
    const double scale = 1.0 / std::sqrt(double(hd));
    std::vector<double> tol(ref.size());
    for (uint32_t t = 0; t < n_tokens; ++t) {
        const uint32_t n_keys = pos0 + t + 1;
        for (uint32_t h = 0; h < n_head; ++h) {
            const float* qh = q.data() + (uint64_t(t) * n_head + h) * hd;
            const uint64_t kv_off = uint64_t(h / group) * hd;
            std::vector<double> s(n_keys), p(n_keys);
            double D = 0, mx = -INFINITY;
            for (uint32_t j = 0; j < n_keys; ++j) {
                double dot = 0, dj = 0;
                for (uint32_t d = 0; d < hd; ++d) {
                    const double kd = kf[j * row + kv_off + d];
                    dot += double(qh[d]) * kd;
                    dj += ((kU16 + 2.0 * hd * kU32) * std::fabs(qh[d]) + kSub16) * std::fabs(kd);
                }
                s[j] = dot * scale;
                D = std::max(D, dj * scale);
                mx = std::max(mx, s[j]);
            }
            double sum = 0;
            for (uint32_t j = 0; j < n_keys; ++j) sum += p[j] = std::exp(s[j] - mx);
            const double rel = (std::exp(2 * D) - 1) * (1 + kU16) + kU16 + (2.0 * n_keys + 4) * kU32;
            for (uint32_t d = 0; d < hd; ++d) {
                double e = 0;
                for (uint32_t j = 0; j < n_keys; ++j)
                    e += (rel * p[j] / sum + kSub16) * std::fabs(vf[j * row + kv_off + d]);
                const uint64_t i = (uint64_t(t) * n_head + h) * hd + d;
                tol[i] = e + 2e-5 + 1e-4 * std::fabs(ref[i]);
            }
        }
    }
    return tol;
}

uint64_t align(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

// fit_rows: 0 = the default cap, else a cap whose S and P hold exactly
// that many query rows of one KV head's group over the chunk's keys; `cut`
// is the cut that cap must give (rows a sub-chunk, KV heads a pass).
void check_prefill(uint32_t n_tokens, uint32_t pos0, uint32_t n_head, uint32_t n_kv, uint32_t hd, uint32_t fit_rows = 0,
                   cuda::PrefillSplit cut = {}) {
    Gpu g;
    cuda::Gemm gemm(g.alloc(), g.stream());
    const uint32_t n_ctx = pos0 + n_tokens + 3;
    const uint64_t row = uint64_t(n_kv) * hd;
    std::vector<uint16_t> k16 = test::to_f16(test::random_floats(n_ctx * row, 40 + hd + pos0, -1.5f, 1.5f));
    std::vector<uint16_t> v16 = test::to_f16(test::random_floats(n_ctx * row, 41 + hd + pos0, -1, 1));
    // Rows past the chunk are NaN: a read of a key beyond pos0 + n_tokens shows.
    for (uint64_t i = uint64_t(pos0 + n_tokens) * row; i < k16.size(); ++i) k16[i] = v16[i] = 0x7e00;
    const std::vector<float> q = test::random_floats(size_t(n_tokens) * n_head * hd, 42 + hd + pos0, -1.5f, 1.5f);

    uint64_t cap = cuda::kPrefillAttentionCap;
    if (fit_rows) {
        const uint64_t q_bytes = align(uint64_t(n_tokens) * n_head * hd * 2, 256);
        cap = q_bytes + 512 + uint64_t(fit_rows) * (n_head / n_kv) * align(pos0 + n_tokens, 8) * 6;
    } else {
        cut = cuda::PrefillSplit{n_tokens, n_kv};  // the whole chunk in one pass
    }
    const cuda::PrefillAttentionPlan plan = cuda::plan_prefill_attention(n_head, n_kv, hd, n_tokens, n_ctx, cap);
    ASSERT_TRUE(plan.enabled());
    ASSERT_LE(plan.bytes, cap);
    const cuda::PrefillSplit split = cuda::prefill_split(plan, n_tokens, pos0);
    EXPECT_EQ(split.rows, cut.rows);
    EXPECT_EQ(split.kv_per_pass, cut.kv_per_pass);

    cuda::DeviceBuffer dk = g.upload(k16), dv = g.upload(v16), dq = g.upload(q);
    cuda::DeviceBuffer ws = g.poisoned(plan.bytes);
    const std::string what = "prefill attention n_tokens=" + std::to_string(n_tokens) + " pos0=" + std::to_string(pos0) +
                             " heads=" + std::to_string(n_head) + "/" + std::to_string(n_kv) +
                             " head_dim=" + std::to_string(hd) + " rows=" + std::to_string(split.rows) +
                             " kv_per_pass=" + std::to_string(split.kv_per_pass);
    std::vector<float> first;
    for (int run = 0; run < 2; ++run) {
        cuda::DeviceBuffer out = g.poisoned(q.size() * 4);
        cuda::prefill_attention(gemm, plan, ws.get(), out.as<float>(), dq.as<float>(), dk.as<uint16_t>(),
                                dv.as<uint16_t>(), n_tokens, pos0);
        std::vector<float> got = g.download<float>(out, q.size());
        if (run == 0) {
            first = std::move(got);
        } else {
            EXPECT_EQ(std::memcmp(first.data(), got.data(), got.size() * 4), 0) << what << ": not repeatable";
        }
    }
    const std::vector<float> kf = test::from_f16(k16), vf = test::from_f16(v16);
    std::vector<float> want(q.size());
    cpu::attention(want.data(), q.data(), kf.data(), vf.data(), n_tokens, pos0, n_head, n_kv, hd);
    EXPECT_TRUE(test::all_close(what, first, want, bound(q, kf, vf, want, n_tokens, pos0, n_head, n_kv, hd)));
}

TEST(CudaPrefillAttention, MatchesReferenceWithinF16RoundingBound) {
    ORCD_REQUIRE_CUDA();
    check_prefill(7, 0, 8, 2, 64);      // first chunk of a prompt, GQA group 4
    check_prefill(9, 300, 8, 4, 128);   // a later chunk, rows padded (309 keys)
    check_prefill(4, 20, 8, 4, 8);      // stories260K's head_dim
    check_prefill(3, 10, 4, 4, 12);     // head_dim not a multiple of 8 (unaligned operands)
    check_prefill(2, 0, 4, 1, 64);      // two tokens, one KV head
    check_prefill(64, 1000, 32, 4, 64);     // TinyLlama's heads, longer context
    check_prefill(48, 200, 16, 16, 128);    // no GQA (7B-like), one pass
}

TEST(CudaPrefillAttention, SeveralPassesMatchReference) {
    ORCD_REQUIRE_CUDA();
    check_prefill(40, 100, 16, 4, 64, 40, {40, 1});      // 4 passes of one KV head
    check_prefill(40, 100, 12, 6, 64, 4 * 40, {40, 3});  // 6 KV heads, at most 4 per pass: 2 passes of 3
    check_prefill(33, 7, 16, 16, 128, 5 * 33, {33, 4});  // 16 KV heads: 4 passes of 4
}

// A chunk deep in a long context: its query rows in sub-chunks, each over
// the keys up to its own last row (the causal softmax reads no later key).
TEST(CudaPrefillAttention, SubChunksOfQueryRowsMatchReference) {
    ORCD_REQUIRE_CUDA();
    check_prefill(40, 100, 16, 4, 64, 16, {14, 1});   // 3 sub-chunks of 14, 14, 12 rows; 4 passes each
    check_prefill(64, 1000, 32, 4, 64, 50, {32, 1});  // 2 sub-chunks of 32
    check_prefill(9, 300, 8, 4, 128, 1, {1, 1});      // one row at a time
    check_prefill(21, 50, 8, 2, 64, 20, {11, 1});     // 2 sub-chunks of 11 and 10 rows
}

TEST(CudaPrefillAttention, PlanIsOffWhenItCannotServe) {
    EXPECT_FALSE(cuda::plan_prefill_attention(32, 8, 128, 1, 4096).enabled());  // decode only
    const cuda::PrefillAttentionPlan huge = cuda::plan_prefill_attention(32, 8, 128, 512, 1u << 30);
    EXPECT_FALSE(huge.enabled());  // one row of one KV head's group exceeds the cap
    EXPECT_EQ(huge.bytes, 0u);
    EXPECT_EQ(cuda::prefill_split(huge, 512, 0).rows, 0u);
    EXPECT_FALSE(cuda::prefill_attention_pays_off(huge, 512, 0));
}

TEST(CudaPrefillAttention, TheCutFollowsTheKeysNotTheContext) {
    const cuda::PrefillAttentionPlan p = cuda::plan_prefill_attention(32, 32, 128, 512, 4096);
    ASSERT_TRUE(p.enabled());
    EXPECT_EQ(p.bytes, cuda::kPrefillAttentionCap);
    // 512 rows over 512 keys: every head in one pass.
    EXPECT_EQ(cuda::prefill_split(p, 512, 0).rows, 512u);
    EXPECT_EQ(cuda::prefill_split(p, 512, 0).kv_per_pass, 32u);
    // Over 4096 keys, 21 heads fit: two equal passes rather than 21 + 11.
    EXPECT_EQ(cuda::prefill_split(p, 512, 3584).rows, 512u);
    EXPECT_EQ(cuda::prefill_split(p, 512, 3584).kv_per_pass, 16u);
    // Qwen2.5-0.5B's heads at a 32768-token context (once off: the plan was
    // sized for the whole context): the first chunk in one pass, the last
    // in three sub-chunks of one KV head a pass.
    const cuda::PrefillAttentionPlan qwen = cuda::plan_prefill_attention(14, 2, 64, 512, 32768);
    ASSERT_TRUE(qwen.enabled());
    EXPECT_EQ(cuda::prefill_split(qwen, 512, 0).rows, 512u);
    EXPECT_EQ(cuda::prefill_split(qwen, 512, 0).kv_per_pass, 2u);
    EXPECT_EQ(cuda::prefill_split(qwen, 512, 32256).rows, 171u);
    EXPECT_EQ(cuda::prefill_split(qwen, 512, 32256).kv_per_pass, 1u);
    EXPECT_TRUE(cuda::prefill_attention_pays_off(qwen, 512, 0));
    // GPT-OSS-20B's heads at its whole 131072-token context.
    EXPECT_TRUE(cuda::plan_prefill_attention(64, 8, 64, 512, 131072).enabled());
    EXPECT_EQ(cuda::prefill_split(qwen, 0, 0).rows, 0u);
    EXPECT_EQ(cuda::prefill_split(qwen, 2, 32767).rows, 0u);  // past the context
}

}  // namespace
}  // namespace orcd
