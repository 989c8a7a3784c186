// Every forward-pass kernel against the CPU reference (backend/cpu/cpu_ops.h)
// on fresh random inputs, outputs poisoned with NaN before the run. Each
// test states its error bound and why.
#include "backend/cpu/cpu_ops.h"
#include "backend/cuda/kernels.h"
#include "engine/sampler.h"
#include "gguf/gguf.h"
#include "gpu_test_util.h"

#include <cmath>
#include <cstring>

namespace orcd {
namespace {

using test::Gpu;

TensorView view(gguf::TensorType type, uint64_t ne0, uint64_t ne1, const void* data) {
    TensorView t;
    t.type = type;
    t.ne0 = ne0;
    t.ne1 = ne1;
    t.data = static_cast<const uint8_t*>(data);
    t.n_bytes = ne0 * ne1 * (type == gguf::TensorType::F16 ? 2 : 4);
    return t;
}

// Bound: exact. A row copy (F16 -> F32 conversion is exact).
TEST(CudaKernels, EmbeddingMatchesReferenceExactly) {
    ORCD_REQUIRE_CUDA();
    Gpu g;
    const uint64_t V = 1000, E = 300;  // E not a multiple of 8: no vector path assumed
    const std::vector<float> table = test::random_floats(V * E, 1, -2, 2);
    const std::vector<uint16_t> table16 = test::to_f16(table);
    const std::vector<int32_t> ids = {0, 999, 17, 17, 512, 3};
    for (gguf::TensorType type : {gguf::TensorType::F32, gguf::TensorType::F16}) {
        cuda::DeviceBuffer t = type == gguf::TensorType::F32 ? g.upload(table) : g.upload(table16);
        cuda::DeviceBuffer d_ids = g.upload(ids);
        cuda::DeviceBuffer out = g.poisoned(ids.size() * E * 4);
        cuda::embedding(out.as<float>(), t.get(), type, E, d_ids.as<int32_t>(), uint32_t(ids.size()), g.stream());
        const std::vector<float> got = g.download<float>(out, ids.size() * E);
        std::vector<float> want(ids.size() * E);
        const TensorView tv = view(type, E, V, type == gguf::TensorType::F32 ? (const void*)table.data()
                                                                                : (const void*)table16.data());
        for (size_t i = 0; i < ids.size(); ++i) cpu::get_row(want.data() + i * E, tv, uint64_t(ids[i]));
        EXPECT_TRUE(test::all_close(std::string("embedding ") + gguf::tensor_type_name(type), got, want, 0, 0));
    }
}

// Bound: |err| <= 1e-6 + 1e-5 |ref|. Only the order of the sum of squares
// differs (a tree on the GPU, left to right on the CPU): a relative error of
// a few ulps of the scale.
TEST(CudaKernels, RmsNormMatchesReference) {
    ORCD_REQUIRE_CUDA();
    Gpu g;
    for (uint32_t n : {64u, 2880u, 4096u, 8192u, 4099u}) {  // 16-byte loads in one pass and in two, single floats
        const uint32_t rows = 7;
        const std::vector<float> x = test::random_floats(size_t(rows) * n, 2 + n, -3, 3);
        const std::vector<float> w = test::random_floats(n, 3 + n, 0.5f, 1.5f);
        cuda::DeviceBuffer dx = g.upload(x), dw = g.upload(w), out = g.poisoned(x.size() * 4);
        cuda::rmsnorm(out.as<float>(), dx.as<float>(), dw.as<float>(), rows, n, 1e-5f, g.stream());
        std::vector<float> want(x.size());
        for (uint32_t r = 0; r < rows; ++r) cpu::rmsnorm(want.data() + size_t(r) * n, x.data() + size_t(r) * n, w.data(), n, 1e-5f);
        EXPECT_TRUE(test::all_close("rmsnorm n=" + std::to_string(n), g.download<float>(out, x.size()), want, 1e-6, 1e-5));
    }
}

// Bound: |err| <= 1e-5 + 1e-6 * pos (inputs in [-1, 1]). theta = pos * freq
// is computed in float on both sides, but powf/sinf/cosf of the CPU library
// and of CUDA may differ by an ulp or two; an ulp of freq moves theta by
// about pos * 1.2e-7 radians.
TEST(CudaKernels, RopeMatchesReference) {
    ORCD_REQUIRE_CUDA();
    Gpu g;
    std::mt19937 rng(4);
    for (uint32_t rope_dim : {64u, 32u}) {
        const uint32_t n_tokens = 5, heads = 8, hd = 64;
        for (uint32_t pos0 : {0u, 1u, std::uniform_int_distribution<uint32_t>(100, 4000)(rng)}) {
            const std::vector<float> x = test::random_floats(size_t(n_tokens) * heads * hd, pos0 + rope_dim, -1, 1);
            cuda::DeviceBuffer dx = g.upload(x);
            cuda::rope(dx.as<float>(), n_tokens, heads, hd, rope_dim, pos0, 10000.0f, g.stream());
            std::vector<float> want = x;
            for (uint32_t t = 0; t < n_tokens; ++t)
                cpu::rope(want.data() + size_t(t) * heads * hd, heads, hd, rope_dim, pos0 + t, 10000.0f);
            const double tol = 1e-5 + 1e-6 * (pos0 + n_tokens);
            EXPECT_TRUE(test::all_close("rope rope_dim=" + std::to_string(rope_dim) + " pos0=" + std::to_string(pos0),
                                        g.download<float>(dx, x.size()), want, tol, 0));
        }
    }
}

// Bound: |err| <= 1e-6 + 4e-7 |ref|: expf differs by up to 2 ulp between
// CUDA and the host library, the rest is IEEE-exact.
TEST(CudaKernels, SwigluMatchesReference) {
    ORCD_REQUIRE_CUDA();
    Gpu g;
    const size_t n = 100003;
    const std::vector<float> gate = test::random_floats(n, 5, -8, 8), up = test::random_floats(n, 6, -2, 2);
    cuda::DeviceBuffer dg = g.upload(gate), du = g.upload(up), out = g.poisoned(n * 4);
    cuda::swiglu(out.as<float>(), dg.as<float>(), du.as<float>(), n, g.stream());
    std::vector<float> want(n);
    cpu::swiglu(want.data(), gate.data(), up.data(), n);
    EXPECT_TRUE(test::all_close("swiglu", g.download<float>(out, n), want, 1e-6, 4e-7));
}

// Bound: exact (one IEEE addition per element on both sides).
TEST(CudaKernels, ResidualAddIsExact) {
    ORCD_REQUIRE_CUDA();
    Gpu g;
    const size_t n = 70001;
    const std::vector<float> x = test::random_floats(n, 7, -5, 5), y = test::random_floats(n, 8, -5, 5);
    cuda::DeviceBuffer dx = g.upload(x), dy = g.upload(y);
    cuda::add_inplace(dx.as<float>(), dy.as<float>(), n, g.stream());
    std::vector<float> want = x;
    cpu::add_inplace(want.data(), y.data(), n);
    EXPECT_TRUE(test::all_close("add_inplace", g.download<float>(dx, n), want, 0, 0));
}

// Bound: exact: docs/sampling.md defines temperature as one IEEE division.
TEST(CudaKernels, TemperatureScalingIsOneIeeeDivision) {
    ORCD_REQUIRE_CUDA();
    Gpu g;
    const size_t n = 32000;
    const std::vector<float> x = test::random_floats(n, 9, -20, 20);
    for (float t : {0.3f, 0.7f, 1.0f, 1.9f}) {
        cuda::DeviceBuffer dx = g.upload(x);
        cuda::scale_temperature(dx.as<float>(), n, t, g.stream());
        std::vector<float> want(n);
        for (size_t i = 0; i < n; ++i) want[i] = x[i] / t;
        EXPECT_TRUE(test::all_close("temperature " + std::to_string(t), g.download<float>(dx, n), want, 0, 0));
    }
}

// Bound: exact, bit for bit against the project's own conversion.
TEST(CudaKernels, ToF16RoundsLikeTheHostConversion) {
    ORCD_REQUIRE_CUDA();
    Gpu g;
    std::vector<float> x = test::random_floats(50000, 10, -70000, 70000);
    x.push_back(1e-7f);  // subnormal half
    x.push_back(-0.0f);
    cuda::DeviceBuffer dx = g.upload(x), out = g.poisoned(x.size() * 2);
    cuda::to_f16(out.as<uint16_t>(), dx.as<float>(), x.size(), g.stream());
    const std::vector<uint16_t> got = g.download<uint16_t>(out, x.size());
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < x.size(); ++i)
        if (got[i] != gguf::fp32_to_fp16(x[i]) && bad++ == 0) first = i;
    EXPECT_EQ(bad, 0u) << "first mismatch at " << first << ": " << x[first] << " -> 0x" << std::hex << got[first]
                       << " want 0x" << gguf::fp32_to_fp16(x[first]);
}

// The cache layout of engine/kv_cache.h: rows land at offset(l, k, pos) as
// F16 and nothing else is touched. Bound: exact.
TEST(CudaKernels, StoreKvWritesTheEngineLayout) {
    ORCD_REQUIRE_CUDA();
    Gpu g;
    KvLayout L{3, 40, 2, 16, 2};
    const uint32_t layer = 1, pos = 11, n = 5;
    const std::vector<float> k = test::random_floats(n * L.row_elems(), 11, -4, 4);
    const std::vector<float> v = test::random_floats(n * L.row_elems(), 12, -4, 4);
    cuda::DeviceBuffer cache = g.poisoned(L.total_bytes()), dk = g.upload(k), dv = g.upload(v);
    cuda::store_kv(cache.as<uint16_t>(), L, layer, pos, dk.as<float>(), dv.as<float>(), n, g.stream());
    const std::vector<uint16_t> got = g.download<uint16_t>(cache, L.total_elems());
    size_t bad = 0;
    for (uint64_t i = 0; i < L.total_elems(); ++i) {
        uint16_t want = 0xffff;
        for (uint32_t kind = 0; kind < 2; ++kind) {
            const uint64_t start = L.offset(layer, kind, pos);
            if (i >= start && i < start + n * L.row_elems())
                want = gguf::fp32_to_fp16((kind == 0 ? k : v)[i - start]);
        }
        if (got[i] != want && bad++ < 5) ADD_FAILURE() << "cache element " << i << " is 0x" << std::hex << got[i] << " want 0x" << want;
    }
    EXPECT_EQ(bad, 0u);
}

// Attention over an F16 cache; the CPU reference reads the same F16 values
// converted to F32. Bound: |err| <= 2e-5 + 1e-4 |ref|: online vs two-pass
// softmax and different summation orders (expf differs by ulps too).
void check_attention(uint32_t n_tokens, uint32_t pos0, uint32_t n_head, uint32_t n_kv, uint32_t hd, bool split) {
    Gpu g;
    const uint32_t n_ctx = pos0 + n_tokens + 3;
    const uint64_t row = uint64_t(n_kv) * hd;
    const std::vector<uint16_t> k16 = test::to_f16(test::random_floats(n_ctx * row, 20 + hd + pos0, -1.5f, 1.5f));
    const std::vector<uint16_t> v16 = test::to_f16(test::random_floats(n_ctx * row, 21 + hd + pos0, -1, 1));
    const std::vector<float> q = test::random_floats(size_t(n_tokens) * n_head * hd, 22 + hd + pos0, -1.5f, 1.5f);
    cuda::DeviceBuffer dk = g.upload(k16), dv = g.upload(v16), dq = g.upload(q);
    cuda::DeviceBuffer out = g.poisoned(q.size() * 4);
    cuda::DeviceBuffer ws = g.poisoned(cuda::attention_split_floats(n_head, hd) * 4);
    cuda::attention_split_reset(ws.as<float>(), n_head, hd, g.stream());
    cuda::attention(out.as<float>(), dq.as<float>(), dk.as<uint16_t>(), dv.as<uint16_t>(), n_tokens, pos0, n_head,
                    n_kv, hd, split ? ws.as<float>() : nullptr, g.stream());
    if (split) {
        // The decode kernel's last split block merges and puts its counter
        // back to zero: a second call on the same workspace gives the same bits.
        const std::vector<float> first = g.download<float>(out, q.size());
        cuda::DeviceBuffer again = g.poisoned(q.size() * 4);
        cuda::attention(again.as<float>(), dq.as<float>(), dk.as<uint16_t>(), dv.as<uint16_t>(), n_tokens, pos0,
                        n_head, n_kv, hd, ws.as<float>(), g.stream());
        const std::vector<float> second = g.download<float>(again, q.size());
        EXPECT_EQ(0, std::memcmp(first.data(), second.data(), first.size() * 4)) << "second call on one workspace";
    }
    const std::vector<float> kf = test::from_f16(k16), vf = test::from_f16(v16);
    std::vector<float> want(q.size());
    cpu::attention(want.data(), q.data(), kf.data(), vf.data(), n_tokens, pos0, n_head, n_kv, hd);
    EXPECT_TRUE(test::all_close("attention n_tokens=" + std::to_string(n_tokens) + " pos0=" + std::to_string(pos0) +
                                    " heads=" + std::to_string(n_head) + "/" + std::to_string(n_kv) +
                                    " head_dim=" + std::to_string(hd) + (split ? " split" : ""),
                                g.download<float>(out, q.size()), want, 2e-5, 1e-4));
}

TEST(CudaKernels, PrefillAttentionMatchesReference) {
    ORCD_REQUIRE_CUDA();
    check_attention(7, 0, 8, 2, 64, false);     // first chunk of a prompt
    check_attention(9, 300, 8, 4, 128, false);  // a later chunk, several key tiles
    check_attention(4, 20, 8, 4, 8, false);     // stories260K's head_dim
    check_attention(3, 10, 4, 4, 12, false);    // head_dim not a multiple of 8 (scalar path)
}

TEST(CudaKernels, DecodeAttentionMatchesReference) {
    ORCD_REQUIRE_CUDA();
    check_attention(1, 0, 32, 4, 64, true);      // one key
    check_attention(1, 200, 32, 4, 64, true);    // 2 splits of 128 keys (the fewest) and 73
    check_attention(1, 3000, 32, 4, 64, true);   // TinyLlama's heads: 16 splits of 188 keys
    check_attention(1, 3000, 16, 2, 64, true);   // 24 splits of 128 keys, the last 57
    check_attention(1, 4095, 64, 8, 64, true);   // GPT-OSS-20B's heads: 8 splits of 512 keys
    check_attention(1, 12000, 8, 8, 128, true);  // 64 splits (the cap) of 188 keys
    check_attention(1, 127, 8, 8, 64, true);     // 128 keys: one split, no merge
    check_attention(1, 128, 8, 8, 64, true);     // 129 keys: two splits, the second of one key (3 warps idle)
    check_attention(1, 700, 16, 4, 128, true);   // head_dim 128: 6 splits
    // head_dims whose 16-byte chunks are not a power of two: lanes past the
    // row hold zeros (Phi-3's 96, 80, 24), with and without grouping.
    check_attention(1, 3000, 32, 32, 96, true);
    check_attention(1, 700, 16, 4, 96, true);
    check_attention(1, 0, 4, 4, 96, true);
    check_attention(1, 200, 8, 2, 80, true);
    check_attention(1, 1000, 8, 8, 24, true);
    check_attention(1, 1000, 8, 2, 12, true);    // scalar path, split
}

// Bound: exact; ties resolve to the lowest id like orcd::argmax.
TEST(CudaKernels, ArgmaxPicksLowestIdOnTies) {
    ORCD_REQUIRE_CUDA();
    Gpu g;
    std::mt19937 rng(13);
    for (uint32_t n : {1u, 2u, 512u, 1003u, 1025u, 32000u, 128256u, 151936u, 201088u}) {
        for (int trial = 0; trial < 5; ++trial) {
            std::vector<float> x = test::random_floats(n, 100 * n + trial, -10, 10);
            if (n > 2) {  // plant a tie at the top
                const uint32_t a = rng() % n, b = rng() % n;
                x[a] = x[b] = 11.0f;
            }
            cuda::DeviceBuffer dx = g.upload(x), out = g.poisoned(4 * cuda::kArgmaxOutInts);
            cuda::argmax(out.as<int32_t>(), dx.as<float>(), n, g.stream());
            const std::vector<int32_t> got = g.download<int32_t>(out, 2);
            EXPECT_EQ(got[0], orcd::argmax(x)) << "n=" << n << " trial " << trial;
            EXPECT_EQ(got[1], 0) << "NaN flag set without NaN";
        }
    }
    // A NaN in one block of one, and in the last of many; it never wins.
    for (uint32_t n : {1000u, 151936u}) {
        std::vector<float> x(n, 1.0f);
        x[n - 500] = NAN;
        cuda::DeviceBuffer dx = g.upload(x), out = g.poisoned(4 * cuda::kArgmaxOutInts);
        cuda::argmax(out.as<int32_t>(), dx.as<float>(), n, g.stream());
        const std::vector<int32_t> got = g.download<int32_t>(out, 2);
        EXPECT_EQ(got[0], 0) << "n=" << n;
        EXPECT_EQ(got[1], 1) << "a NaN logit must be reported, n=" << n;
    }
}

// Bound: exact (one IEEE division or multiplication per distinct id).
TEST(CudaKernels, RepetitionPenaltyMatchesReference) {
    ORCD_REQUIRE_CUDA();
    Gpu g;
    const uint32_t V = 5000;
    std::vector<float> x = test::random_floats(V, 14, -6, 6);
    x[7] = 0.0f;
    std::vector<int32_t> history = {7, 3, 3, 4999, 12, 7, 250, 251, 0};
    std::vector<int32_t> distinct = history;
    std::sort(distinct.begin(), distinct.end());
    distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
    cuda::DeviceBuffer dx = g.upload(x), ids = g.upload(distinct);
    cuda::repetition_penalty(dx.as<float>(), V, ids.as<int32_t>(), uint32_t(distinct.size()), 1.3f, g.stream());
    std::vector<float> want = x;
    apply_repetition_penalty(want, history, 1.3f, 0);
    EXPECT_TRUE(test::all_close("repetition_penalty", g.download<float>(dx, V), want, 0, 0));
}

}  // namespace
}  // namespace orcd
