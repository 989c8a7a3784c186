// Engine pieces on their own: KV cache bookkeeping, stop-sequence matching,
// and the CPU reference math on hand-computed cases.
#include "backend/cpu/cpu_ops.h"
#include "common/error.h"
#include "engine/kv_cache.h"
#include "engine/stop_matcher.h"

#include <gtest/gtest.h>

#include <cmath>

namespace orcd {
namespace {

TEST(KvCache, LayoutOffsetsAndSize) {
    const KvLayout l{5, 2048, 4, 8, 4};
    EXPECT_EQ(l.row_elems(), 32u);
    EXPECT_EQ(l.block_elems(), 2048u * 32u);
    EXPECT_EQ(l.total_bytes(), 5ull * 2 * 2048 * 4 * 8 * 4);
    EXPECT_EQ(l.offset(0, 0, 0), 0u);
    EXPECT_EQ(l.offset(0, 1, 0), l.block_elems());
    EXPECT_EQ(l.offset(2, 1, 3), (2 * 2 + 1) * l.block_elems() + 3 * 32);
}

TEST(KvCache, AppendResetAndCapacityErrors) {
    KvCache kv(KvLayout{1, 10, 1, 4, 4});
    EXPECT_EQ(kv.capacity(), 10u);
    EXPECT_EQ(kv.append(4), 0u);
    EXPECT_EQ(kv.append(6), 4u);
    EXPECT_EQ(kv.position(), 10u);
    EXPECT_EQ(kv.remaining(), 0u);
    EXPECT_FALSE(kv.fits(1));
    try {
        kv.append(1);
        FAIL() << "append past capacity must throw";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ORCD_INVALID_REQUEST);
        EXPECT_NE(std::string(e.what()).find("KV cache full"), std::string::npos);
    }
    kv.reset();
    EXPECT_EQ(kv.position(), 0u);
    EXPECT_TRUE(kv.fits(10));
    EXPECT_FALSE(kv.fits(11));
}

TEST(StopMatcher, MatchesAcrossPiecesAndDropsTheStopText) {
    StopMatcher m({"The end"});
    std::string out = m.push("and they lived. Th");
    EXPECT_EQ(out, "and they lived. ");  // "Th" could start the stop string
    out = m.push("e e");
    EXPECT_EQ(out, "");
    out = m.push("nd!");
    EXPECT_EQ(out, "");
    EXPECT_EQ(m.matched(), 0);
    EXPECT_EQ(m.push("more"), "");  // ignored after a match
}

TEST(StopMatcher, ReleasesAHeldPrefixThatStopsMatching) {
    StopMatcher m({"STOP", "xyz"});
    EXPECT_EQ(m.push("aST"), "a");
    EXPECT_EQ(m.push("Oq"), "STOq");
    EXPECT_EQ(m.matched(), -1);
    EXPECT_EQ(m.push("xy"), "");
    EXPECT_EQ(m.flush(), "xy");
}

TEST(StopMatcher, EarliestMatchWinsAndNoStopsPassesThrough) {
    StopMatcher m({"cd", "b"});
    EXPECT_EQ(m.push("abcd"), "a");
    EXPECT_EQ(m.matched(), 1);
    StopMatcher none({});
    EXPECT_EQ(none.push("hello"), "hello");
}

TEST(CpuOps, RmsNormByHand) {
    const float x[4] = {1, 2, 3, 4}, w[4] = {1, 1, 2, 0.5f};
    float out[4];
    cpu::rmsnorm(out, x, w, 4, 0.0f);
    const float rms = std::sqrt((1 + 4 + 9 + 16) / 4.0f);
    EXPECT_FLOAT_EQ(out[0], 1 / rms);
    EXPECT_FLOAT_EQ(out[2], 3 / rms * 2);
    EXPECT_FLOAT_EQ(out[3], 4 / rms * 0.5f);
}

TEST(CpuOps, RopeRotatesAdjacentPairs) {
    // One head of 4 dims, pos 1, base 100: pair 0 turns by 1 rad, pair 1 by 1/10 rad.
    float x[4] = {1, 0, 0, 1};
    cpu::rope(x, 1, 4, 4, 1, 100.0f);
    EXPECT_NEAR(x[0], std::cos(1.0f), 1e-6);
    EXPECT_NEAR(x[1], std::sin(1.0f), 1e-6);
    EXPECT_NEAR(x[2], -std::sin(0.1f), 1e-6);
    EXPECT_NEAR(x[3], std::cos(0.1f), 1e-6);
    float y[4] = {1, 2, 3, 4};
    cpu::rope(y, 1, 4, 4, 0, 100.0f);  // position 0 is the identity
    EXPECT_FLOAT_EQ(y[1], 2);
    EXPECT_FLOAT_EQ(y[3], 4);
}

TEST(CpuOps, AttentionIsCausalAndGrouped) {
    // 2 query heads sharing 1 KV head, head_dim 2, two tokens at pos 0 and 1.
    const float q[2 * 2 * 2] = {1, 0, 0, 1, /* t1 */ 1, 0, 0, 1};
    const float k[2 * 2] = {1, 0, 0, 1};
    const float v[2 * 2] = {10, 20, 30, 40};
    float out[8];
    cpu::attention(out, q, k, v, 2, 0, 2, 1, 2);
    // Token 0 only sees position 0: output = v0 for both heads.
    EXPECT_FLOAT_EQ(out[0], 10);
    EXPECT_FLOAT_EQ(out[3], 20);
    // Token 1, head 0: scores (1, 0)/sqrt(2) -> weights softmax.
    const float s = 1 / std::sqrt(2.0f), w0 = std::exp(s) / (std::exp(s) + 1), w1 = 1 - w0;
    EXPECT_NEAR(out[4], w0 * 10 + w1 * 30, 1e-5);
    EXPECT_NEAR(out[5], w0 * 20 + w1 * 40, 1e-5);
    // Token 1, head 1: scores (0, 1)/sqrt(2).
    EXPECT_NEAR(out[6], w1 * 10 + w0 * 30, 1e-5);
}

TEST(CpuOps, MatmulF16MatchesF32) {
    const float wf[6] = {1, 2, 3, -1, 0.5f, 0.25f};
    uint16_t wh[6];
    for (int i = 0; i < 6; ++i) wh[i] = gguf::fp32_to_fp16(wf[i]);
    const TensorView a = TensorView::of_host(gguf::TensorType::F32, 3, 2, wf);
    const TensorView b = TensorView::of_host(gguf::TensorType::F16, 3, 2, wh);
    const float x[3] = {1, 1, 2};
    float ya[2], yb[2];
    cpu::matmul(ya, x, a, 1);
    cpu::matmul(yb, x, b, 1);
    EXPECT_FLOAT_EQ(ya[0], 9);
    EXPECT_FLOAT_EQ(ya[1], 0);
    EXPECT_FLOAT_EQ(yb[0], 9);
    EXPECT_FLOAT_EQ(yb[1], 0);
}

TEST(CpuOps, SwigluAndAdd) {
    const float g[2] = {0, 2}, u[2] = {3, 4};
    float out[2];
    cpu::swiglu(out, g, u, 2);
    EXPECT_FLOAT_EQ(out[0], 0);
    EXPECT_NEAR(out[1], 2 / (1 + std::exp(-2.0f)) * 4, 1e-6);
    float x[2] = {1, 2};
    cpu::add_inplace(x, u, 2);
    EXPECT_FLOAT_EQ(x[1], 6);
}

TEST(Fp16, RoundTripAndRounding) {
    for (float f : {0.0f, 1.0f, -2.5f, 65504.0f, 6.1035156e-05f, 5.9604645e-08f})
        EXPECT_EQ(gguf::fp16_to_fp32(gguf::fp32_to_fp16(f)), f) << f;
    EXPECT_TRUE(std::isinf(gguf::fp16_to_fp32(gguf::fp32_to_fp16(70000.0f))));
    EXPECT_TRUE(std::isnan(gguf::fp16_to_fp32(gguf::fp32_to_fp16(NAN))));
    // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties to even -> 1.
    EXPECT_EQ(gguf::fp16_to_fp32(gguf::fp32_to_fp16(1.0f + 0.00048828125f)), 1.0f);
}

}  // namespace
}  // namespace orcd
