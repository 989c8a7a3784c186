// The block formats on the device against the CPU reference (the format
// table of backend/cpu, exact by construction): every format's batch-1
// products with every epilogue, its F16 decoding for the GEMM path and the
// GEMM itself, embedding rows, and the mixture-of-experts kernels. Random
// blocks, extreme scales; outputs poisoned (NaN) before every launch.
#include "backend/cpu/cpu_formats.h"
#include "backend/cpu/cpu_ops.h"
#include "backend/cuda/formats.h"
#include "backend/cuda/kernels.h"
#include "backend/cuda/matmul.h"
#include "backend/cuda/matvec_q8.h"
#include "gguf/gguf.h"
#include "gpu_test_util.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <iterator>
#include <random>
#include <vector>

namespace orcd {
namespace {

using gguf::TensorType;
using test::Gpu;

constexpr TensorType kBlockTypes[] = {TensorType::Q4_0, TensorType::Q4_1, TensorType::Q5_0,  TensorType::Q5_1,
                                      TensorType::Q8_0, TensorType::Q2_K, TensorType::Q3_K,  TensorType::Q4_K,
                                      TensorType::Q5_K, TensorType::Q6_K, TensorType::IQ4_NL, TensorType::IQ4_XS,
                                      TensorType::MXFP4, TensorType::BF16};

// The batch-1 products are checked on every format the backend computes:
// the block formats and the plain F16 and F32.
std::vector<TensorType> product_types() {
    std::vector<TensorType> types(std::begin(kBlockTypes), std::end(kBlockTypes));
    types.push_back(TensorType::F16);
    types.push_back(TensorType::F32);
    return types;
}

uint64_t block_elems(TensorType t) {
    uint64_t be = 0, bb = 0;
    gguf::tensor_type_layout(uint32_t(t), &be, &bb);
    return be;
}
uint64_t row_bytes(TensorType t, uint64_t cols) {
    uint64_t be = 0, bb = 0;
    gguf::tensor_type_layout(uint32_t(t), &be, &bb);
    return cols / be * bb;
}

// Offsets of the binary16 scale fields in a block.
std::vector<size_t> f16_fields(TensorType t) {
    switch (t) {
        case TensorType::Q4_1: case TensorType::Q5_1: case TensorType::Q4_K: case TensorType::Q5_K: return {0, 2};
        case TensorType::Q2_K: return {80, 82};
        case TensorType::Q3_K: return {108};
        case TensorType::Q6_K: return {208};
        case TensorType::MXFP4: case TensorType::BF16: return {};
        default: return {0};
    }
}

// Random rows of a format: random code bytes, scales of ordinary size (and,
// with `extreme`, the largest binary16 and subnormals, E8M0 exponents at
// both ends).
// A stack of experts as the backend keeps it: uploaded as stored, then
// rewritten into its type's layout for experts where it has one (formats.h;
// MXFP4's regrouped units).
cuda::DeviceBuffer upload_experts(Gpu& g, TensorType t, const std::vector<uint8_t>& q, uint64_t rows, uint64_t cols) {
    cuda::DeviceBuffer raw = g.upload(q);
    const cuda::Format* f = cuda::layout_of(t, true);
    if (f == cuda::format_of(t)) return raw;
    cuda::DeviceBuffer out = g.poisoned(rows * cuda::device_row_bytes(t, true, cols));
    f->regroup(out.as<uint8_t>(), raw.as<uint8_t>(), cols, rows, g.stream());
    EXPECT_EQ(cudaStreamSynchronize(g.stream()), cudaSuccess);
    return out;
}

std::vector<uint8_t> random_rows(TensorType t, uint64_t rows, uint64_t cols, uint32_t seed, bool extreme,
                                 bool allow_overflow = false) {
    std::mt19937 rng(seed);
    const uint64_t rb = row_bytes(t, cols);
    std::vector<uint8_t> w(rows * rb);
    for (uint8_t& b : w) b = uint8_t(rng());
    if (t == TensorType::BF16 || t == TensorType::F16 || t == TensorType::F32) {
        for (uint64_t i = 0; i < rows * cols; ++i) {
            float f = std::uniform_real_distribution<float>(-1, 1)(rng);
            uint32_t bits;
            std::memcpy(&bits, &f, 4);
            if (t == TensorType::F32) {
                std::memcpy(&w[4 * i], &bits, 4);
                continue;
            }
            const uint16_t h = t == TensorType::F16 ? gguf::fp32_to_fp16(f) : uint16_t(bits >> 16);
            std::memcpy(&w[2 * i], &h, 2);
        }
        return w;
    }
    const uint64_t bb = row_bytes(t, block_elems(t));
    const uint16_t extremes[] = {0x7bff, 0x03ff, 0x0001, 0x8000};
    for (uint64_t b = 0; b < w.size() / bb; ++b) {
        uint8_t* blk = &w[b * bb];
        if (t == TensorType::MXFP4) {
            // E8M0: subnormal scales (0, 1, 2), 2^127 (255) only where the
            // test takes infinities, else around 2^-10.
            const uint8_t top = allow_overflow ? 255 : 200;
            blk[0] = extreme ? uint8_t(rng() % 4 == 0 ? (rng() % 2 ? top : rng() % 3) : 110 + rng() % 30)
                             : uint8_t(118 + rng() % 12);
            continue;
        }
        for (size_t off : f16_fields(t)) {
            uint16_t h = gguf::fp32_to_fp16(std::uniform_real_distribution<float>(-0.02f, 0.02f)(rng));
            if (extreme && rng() % 5 == 0) h = extremes[rng() % 4];
            std::memcpy(blk + off, &h, 2);
        }
    }
    return w;
}

std::vector<float> decode(TensorType t, const std::vector<uint8_t>& w, uint64_t rows, uint64_t cols) {
    const cpu::Format* f = cpu::format_of(t);
    std::vector<float> out(rows * cols);
    for (uint64_t r = 0; r < rows; ++r) f->decode_row(w.data() + r * row_bytes(t, cols), &out[r * cols], cols);
    return out;
}

// Per-output bound scaled by S = sum_i |W[r][i] x[i]|: both sides sum F32
// products of the same exact weights, in different orders, and the kernels
// factor each unit's scale (scale * (sum q x + offset * sum x)): 2e-5 S.
std::vector<double> bound(const std::vector<float>& w, const std::vector<float>& x, uint64_t rows, uint64_t cols,
                          double rel) {
    std::vector<double> tol(rows);
    for (uint64_t r = 0; r < rows; ++r) {
        double s = 0;
        for (uint64_t i = 0; i < cols; ++i) s += std::fabs(double(w[r * cols + i]) * x[i]);
        tol[r] = rel * s + 1e-30;
    }
    return tol;
}

// tol[r] += factor * sum_i |W[r][i]| step[i]: the most moving each x[i] by
// up to step[i] (its 8-bit rounding: half its unit's d) moves output r.
void add_rounding_bound(std::vector<double>& tol, const std::vector<float>& w, const std::vector<float>& step,
                        uint64_t rows, uint64_t cols, double factor) {
    for (uint64_t r = 0; r < rows; ++r)
        for (uint64_t i = 0; i < cols; ++i) tol[r] += factor * std::fabs(double(w[r * cols + i])) * step[i];
}

std::vector<float> cpu_matvec(const std::vector<float>& w, const std::vector<float>& x, uint64_t rows, uint64_t cols) {
    std::vector<float> y(rows);
    for (uint64_t r = 0; r < rows; ++r) {
        float s = 0.0f;
        for (uint64_t i = 0; i < cols; ++i) s += w[r * cols + i] * x[i];
        y[r] = s;
    }
    return y;
}

// x as the 8-bit-activation kernels round it (quant_q8.cuh): per 32-element
// unit d = amax / 127, q = rint(x * (127 / amax)); returns d q, and in
// `half_step` each element's d / 2, the most its rounding moves it.
std::vector<float> round_q8(const std::vector<float>& x, std::vector<float>& half_step) {
    std::vector<float> out(x.size());
    half_step.assign(x.size(), 0.0f);
    for (size_t u = 0; u + 32 <= x.size(); u += 32) {
        float a = 0.0f;
        for (size_t i = u; i < u + 32; ++i) a = std::max(a, std::fabs(x[i]));
        const float inv = a > 0.0f ? 127.0f / a : 0.0f, d = a / 127.0f;
        for (size_t i = u; i < u + 32; ++i) {
            out[i] = d * std::nearbyint(x[i] * inv);
            half_step[i] = d / 2;
        }
    }
    return out;
}

// A gate activation's output against the reference's, from the gate and up
// products' bounds: the activation's slope (at most ~1.1 for silu, 1.702 * 8
// for the clamped form) times those bounds. Extreme scales overflow the
// product of gate and up: an infinity must be the reference's own infinity.
void expect_swiglu_close(const std::string& what, std::vector<float> got, std::vector<float> want,
                         const std::vector<double>& t_gate, const std::vector<double>& t_up,
                         const std::vector<float>& gate, const std::vector<float>& up) {
    std::vector<double> t(want.size());
    for (size_t r = 0; r < want.size(); ++r) {
        t[r] = 16.0 * (t_gate[r] * (1.0 + std::fabs(up[r])) + t_up[r] * (1.0 + std::fabs(gate[r]))) + 1e-6;
        if (std::isinf(want[r]) && got[r] == want[r]) got[r] = want[r] = 0.0f;
    }
    EXPECT_TRUE(test::all_close(what, got, want, t));
}

// Formats whose batch-1 product takes x rounded to 8 bits are checked twice:
// against the CPU reference on the rounded x (the F32 bound: the same
// integers, summed in another order), and against the exact product with
// the rounding's own bound, sum_i |W[r][i]| d_i / 2.
TEST(CudaFormats, MatvecEveryFormatAndEpilogue) {
    ORCD_REQUIRE_CUDA();
    Gpu g;
    struct Shape {
        uint64_t rows, cols;
        bool extremes;
    };
    // 512 columns: fewer steps than lanes; 2304: nine super-blocks (Q6_K
    // rows that start at 2 mod 4), two steps a lane, a split product of the
    // 8-bit kernels (2-3 warps a row pair); 4500 rows: the largest blocks of
    // the 8-bit kernels; 64 rows of 8192: a split product of 4 warps a row
    // pair (matvec_q8.cu); 333 rows of 160: rows of every
    // 32-element format that start off 16-byte boundaries, a partial last
    // tile; 36000 rows: more tiles a block than the 8-bit kernel's
    // shared-memory stages (their barriers' phases wrap).
    const Shape shapes[] = {{37, 512, true},    {70, 2304, true},  {4500, 256, false},
                            {64, 8192, false},  {333, 160, false}, {36000, 256, false}};
    for (const Shape& shape : shapes)
    for (TensorType t : product_types()) {
        if (shape.cols % block_elems(t) != 0) continue;
        const bool q8 = cuda::format_of(t)->q8_activations;
        // Formats whose product normalises x as it stages it (the 8-bit
        // ones, and F16 / F32 rows up to kPlainNormCols); the others take
        // h from rmsnorm() into norm.out.
        const bool plain = t == TensorType::F16 || t == TensorType::F32;
        const bool norm_staged = q8 || (plain && shape.cols <= cuda::kPlainNormCols);
        for (bool extreme : {false, true}) {
            if (extreme && (!shape.extremes || plain)) continue;  // plain rows: no scales
            const uint64_t rows = shape.rows, cols = shape.cols;
            const std::string what = std::string(gguf::tensor_type_name(t)) + " " + std::to_string(rows) + "x" +
                                     std::to_string(cols) + (extreme ? " extreme scales" : "");
            const std::vector<uint8_t> wq = random_rows(t, rows, cols, 11 + uint32_t(t), extreme);
            const std::vector<uint8_t> uq = random_rows(t, rows, cols, 91 + uint32_t(t), extreme);
            const std::vector<float> w = decode(t, wq, rows, cols), u = decode(t, uq, rows, cols);
            std::vector<float> x = test::random_floats(cols, 5, -1, 1);
            for (int i = 0; i < 32; ++i) x[32 + i] = 0.0f;  // a unit of zeros (the 8-bit step is 0)
            std::vector<float> half_step;
            const std::vector<float> xr = q8 ? round_q8(x, half_step) : x;
            const std::vector<float> bias = test::random_floats(rows, 6, -1, 1);
            cuda::DeviceBuffer dw = g.upload(wq), du = g.upload(uq), dx = g.upload(x), db = g.upload(bias);
            const cuda::DeviceMatrix W{t, cols, rows, dw.get()}, U{t, cols, rows, du.get()};
            const std::vector<float> yw = cpu_matvec(w, xr, rows, cols), yu = cpu_matvec(u, xr, rows, cols);
            const std::vector<double> tol = bound(w, xr, rows, cols, 2e-5);
            // The scales are kept where the products stay finite.
            for (float v : yw) ASSERT_TRUE(std::isfinite(v)) << what;

            if (q8) {
                cuda::DeviceBuffer y = g.poisoned(rows * 4);
                cuda::matvec(y.as<float>(), dx.as<float>(), W, g.stream());
                const std::vector<float> exact = cpu_matvec(w, x, rows, cols);
                std::vector<double> te = bound(w, x, rows, cols, 2e-5);
                add_rounding_bound(te, w, half_step, rows, cols, 1.0);
                EXPECT_TRUE(test::all_close("matvec vs exact x " + what, g.download<float>(y, rows), exact, te));
            }

            cuda::DeviceBuffer y = g.poisoned(rows * 4);
            cuda::matvec(y.as<float>(), dx.as<float>(), W, g.stream());
            EXPECT_TRUE(test::all_close("matvec " + what, g.download<float>(y, rows), yw, tol));

            cuda::DeviceBuffer yb = g.poisoned(rows * 4);
            cuda::matvec(yb.as<float>(), dx.as<float>(), W, g.stream(), db.as<float>());
            std::vector<float> want_b(rows);
            for (uint64_t r = 0; r < rows; ++r) want_b[r] = yw[r] + bias[r];
            EXPECT_TRUE(test::all_close("matvec+bias " + what, g.download<float>(yb, rows), want_b, tol));

            const std::vector<float> y0 = test::random_floats(rows, 8, -1, 1);
            cuda::DeviceBuffer ya = g.upload(y0);
            cuda::matvec_add(ya.as<float>(), dx.as<float>(), W, g.stream());
            std::vector<float> want_a(rows);
            for (uint64_t r = 0; r < rows; ++r) want_a[r] = y0[r] + yw[r];
            EXPECT_TRUE(test::all_close("matvec_add " + what, g.download<float>(ya, rows), want_a, tol));

            cuda::DeviceBuffer q = g.poisoned(rows * 4), k = g.poisoned(rows * 4), v = g.poisoned(rows * 4);
            cuda::matvec_qkv(q.as<float>(), k.as<float>(), v.as<float>(), dx.as<float>(), W, U, W, g.stream(),
                             db.as<float>(), nullptr, nullptr);
            EXPECT_TRUE(test::all_close("qkv.q " + what, g.download<float>(q, rows), want_b, tol));
            EXPECT_TRUE(test::all_close("qkv.k " + what, g.download<float>(k, rows), yu, bound(u, xr, rows, cols, 2e-5)));
            EXPECT_TRUE(test::all_close("qkv.v " + what, g.download<float>(v, rows), yw, tol));

            for (cuda::GateAct act : {cuda::GateAct::Silu, cuda::GateAct::SiluOai}) {
                cuda::DeviceBuffer s = g.poisoned(rows * 4);
                cuda::matvec_swiglu(s.as<float>(), dx.as<float>(), W, U, g.stream(), nullptr, nullptr, act);
                std::vector<float> want_s(rows);
                if (act == cuda::GateAct::Silu)
                    cpu::swiglu(want_s.data(), yw.data(), yu.data(), rows);
                else
                    cpu::swiglu_oai(want_s.data(), yw.data(), yu.data(), rows);
                expect_swiglu_close("swiglu " + what, g.download<float>(s, rows), want_s, tol,
                                    bound(u, xr, rows, cols, 2e-5), yw, yu);
            }

            // With a RowNorm the products are of h = RMSNorm(x) * nw, which
            // some kernels compute as they stage x (norm_staged) and the
            // others take from rmsnorm() into norm.out. Against the exact product on the
            // reference's h: the F32 bound, the device's scale off the
            // reference's by at most (cols + 4) ulps (its sum of squares is
            // combined in another order), and for the 8-bit kernels the
            // rounding of h, sum_i |W[r][i]| d_i / 2 (d_i of the
            // reference's h, with 0.1% for the scale). Not with extreme
            // scales: h is larger than x and their products overflow.
            if (extreme) continue;
            const std::vector<float> nw = test::random_floats(cols, 12, 0.5f, 1.5f);
            std::vector<float> h(cols);
            cpu::rmsnorm(h.data(), x.data(), nw.data(), uint32_t(cols), 1e-5f);
            std::vector<float> h_step(cols, 0.0f);
            if (q8) round_q8(h, h_step);
            const double rel_scale = double(cols + 4) * std::ldexp(1.0, -24);
            auto norm_tol = [&](const std::vector<float>& m) {
                std::vector<double> tm = bound(m, h, rows, cols, 2e-5 + rel_scale);
                add_rounding_bound(tm, m, h_step, rows, cols, 1.001);
                return tm;
            };
            const std::vector<float> hw = cpu_matvec(w, h, rows, cols), hu = cpu_matvec(u, h, rows, cols);
            const std::vector<double> tw = norm_tol(w), tu = norm_tol(u);
            cuda::DeviceBuffer dnw = g.upload(nw), hout = g.poisoned(cols * 4);
            const cuda::RowNorm norm{dnw.as<float>(), 1e-5f, hout.as<float>()};
            cuda::DeviceBuffer nq = g.poisoned(rows * 4), nk = g.poisoned(rows * 4), nv = g.poisoned(rows * 4);
            cuda::matvec_qkv(nq.as<float>(), nk.as<float>(), nv.as<float>(), dx.as<float>(), W, U, W, g.stream(),
                             nullptr, nullptr, nullptr, &norm);
            EXPECT_TRUE(test::all_close("normed qkv.q " + what, g.download<float>(nq, rows), hw, tw));
            EXPECT_TRUE(test::all_close("normed qkv.k " + what, g.download<float>(nk, rows), hu, tu));
            EXPECT_TRUE(test::all_close("normed qkv.v " + what, g.download<float>(nv, rows), hw, tw));
            if (!norm_staged) {
                // Not staged: h went through norm.out.
                std::vector<double> th(cols);
                for (uint64_t i = 0; i < cols; ++i) th[i] = std::fabs(double(h[i])) * (rel_scale + 1e-6) + 1e-30;
                EXPECT_TRUE(test::all_close("normed h " + what, g.download<float>(hout, cols), h, th));
            } else {
                // Staged: no norm kernel ran, norm.out keeps its poison.
                EXPECT_EQ(g.download<uint32_t>(hout, cols), std::vector<uint32_t>(cols, 0xffffffffu))
                    << "normed h written " << what;
            }
            cuda::DeviceBuffer ns = g.poisoned(rows * 4);
            cuda::matvec_swiglu(ns.as<float>(), dx.as<float>(), W, U, g.stream(), nullptr, nullptr, cuda::GateAct::Silu,
                                &norm);
            std::vector<float> want_ns(rows);
            cpu::swiglu(want_ns.data(), hw.data(), hu.data(), rows);
            expect_swiglu_close("normed swiglu " + what, g.download<float>(ns, rows), want_ns, tw, tu, hw, hu);
        }
    }
}

// A product of few rows and many steps a row is split: several warps share
// each row pair (matvec_q8.cu). Its rows must have the bits they have in a
// launch too large to split, the first rows of the same matrix: plain,
// with a bias, added to y, and through SwiGLU. 4864 columns are
// Qwen2.5-0.5B's down product.
TEST(CudaFormats, SplitProductsKeepTheBitsOfUnsplitOnes) {
    ORCD_REQUIRE_CUDA();
    Gpu g;
    constexpr uint64_t kSmall = 70, kLarge = 16384, kCols = 4864;
    for (TensorType t : {TensorType::Q4_0, TensorType::Q5_0, TensorType::Q8_0, TensorType::Q4_K, TensorType::Q6_K,
                         TensorType::IQ4_NL, TensorType::MXFP4}) {
        const std::string what = gguf::tensor_type_name(t);
        const bool k_quant = block_elems(t) == 256;
        const uint32_t steps = uint32_t(kCols / (k_quant ? 64 : 32));
        // The test means something only where the one launch splits and the other does not.
        ASSERT_GT(cuda::q8_split_parts(uint32_t(kSmall / 2), steps), 1u) << what;
        ASSERT_EQ(cuda::q8_split_parts(uint32_t(kLarge / 2), steps), 1u) << what;
        ASSERT_EQ(cuda::q8_split_parts(uint32_t(kLarge), steps), 1u) << what;  // SwiGLU: a group an output
        const std::vector<uint8_t> wq = random_rows(t, kLarge, kCols, 700 + uint32_t(t), false);
        const std::vector<uint8_t> uq = random_rows(t, kLarge, kCols, 800 + uint32_t(t), false);
        cuda::DeviceBuffer dw = g.upload(wq), du = g.upload(uq);
        cuda::DeviceBuffer dx = g.upload(test::random_floats(kCols, 9, -1, 1));
        cuda::DeviceBuffer db = g.upload(test::random_floats(kLarge, 10, -1, 1));
        const std::vector<float> y0 = test::random_floats(kLarge, 11, -1, 1);
        auto run = [&](uint64_t rows) {
            const cuda::DeviceMatrix W{t, kCols, rows, dw.get()}, U{t, kCols, rows, du.get()};
            std::vector<std::vector<uint32_t>> out;
            cuda::DeviceBuffer y = g.poisoned(rows * 4), yb = g.poisoned(rows * 4), ya = g.upload(y0),
                               ys = g.poisoned(rows * 4);
            cuda::matvec(y.as<float>(), dx.as<float>(), W, g.stream());
            cuda::matvec(yb.as<float>(), dx.as<float>(), W, g.stream(), db.as<float>());
            cuda::matvec_add(ya.as<float>(), dx.as<float>(), W, g.stream());
            cuda::matvec_swiglu(ys.as<float>(), dx.as<float>(), W, U, g.stream());
            for (cuda::DeviceBuffer* b : {&y, &yb, &ya, &ys}) out.push_back(g.download<uint32_t>(*b, kSmall));
            return out;
        };
        const auto split = run(kSmall), whole = run(kLarge);
        const char* names[] = {"matvec", "matvec+bias", "matvec_add", "swiglu"};
        for (size_t i = 0; i < split.size(); ++i) {
            EXPECT_EQ(split[i], whole[i]) << what << " " << names[i] << ": split rows differ from unsplit";
            // A poisoned output (an unwritten row) cannot pass as equal.
            EXPECT_EQ(std::count(split[i].begin(), split[i].end(), 0xffffffffu), 0) << what << " " << names[i];
        }
    }
}

// A SwiGLU product whose warps take two outputs at a time (4 rows) gives
// each output the bits of the launch whose warps take one (2 rows): a row's
// sum is one lane's steps in order, then the butterfly, either way. Rows of
// one step a lane (896 columns; K-quant formats 1024), as Qwen2.5-0.5B's.
TEST(CudaFormats, SwigluOutputsTwoAWarpKeepTheBitsOfOneAWarp) {
    ORCD_REQUIRE_CUDA();
    Gpu g;
    constexpr uint64_t kFew = 1000, kMany = 4864;
    for (TensorType t : {TensorType::Q4_0, TensorType::Q5_0, TensorType::Q8_0, TensorType::Q4_K, TensorType::Q6_K,
                         TensorType::IQ4_NL, TensorType::MXFP4}) {
        const std::string what = gguf::tensor_type_name(t);
        const bool k_quant = block_elems(t) == 256;
        const uint64_t cols = k_quant ? 1024 : 896;
        const uint32_t steps = uint32_t(cols / (k_quant ? 64 : 32));
        // The test means something only where the two launches take different rows a warp.
        ASSERT_EQ(cuda::q8_swiglu_rows(kFew, steps), 2u) << what;
        ASSERT_EQ(cuda::q8_swiglu_rows(kMany, steps), 4u) << what;
        const std::vector<uint8_t> wq = random_rows(t, kMany, cols, 300 + uint32_t(t), false);
        const std::vector<uint8_t> uq = random_rows(t, kMany, cols, 400 + uint32_t(t), false);
        cuda::DeviceBuffer dw = g.upload(wq), du = g.upload(uq);
        cuda::DeviceBuffer dx = g.upload(test::random_floats(cols, 12, -1, 1));
        cuda::DeviceBuffer dbg = g.upload(test::random_floats(kMany, 13, -1, 1));
        cuda::DeviceBuffer dbu = g.upload(test::random_floats(kMany, 14, -1, 1));
        auto run = [&](uint64_t rows, bool bias) {
            const cuda::DeviceMatrix W{t, cols, rows, dw.get()}, U{t, cols, rows, du.get()};
            cuda::DeviceBuffer y = g.poisoned(rows * 4);
            if (bias)
                cuda::matvec_swiglu(y.as<float>(), dx.as<float>(), W, U, g.stream(), dbg.as<float>(), dbu.as<float>());
            else
                cuda::matvec_swiglu(y.as<float>(), dx.as<float>(), W, U, g.stream());
            return g.download<uint32_t>(y, rows);
        };
        for (bool bias : {false, true}) {
            const std::vector<uint32_t> few = run(kFew, bias), many = run(kMany, bias);
            EXPECT_TRUE(std::equal(few.begin(), few.end(), many.begin()))
                << what << (bias ? " with biases" : "") << ": two outputs a warp differ from one";
            // A poisoned output (an unwritten row) cannot pass.
            EXPECT_EQ(std::count(many.begin(), many.end(), 0xffffffffu), 0) << what << (bias ? " with biases" : "");
        }
    }
}

// Kernel nodes that `launches` puts on the stream, counted by capturing it
// into a graph (nothing runs).
size_t kernels_launched(Gpu& g, const std::function<void()>& launches) {
    cudaGraph_t graph = nullptr;
    EXPECT_EQ(cudaStreamBeginCapture(g.stream(), cudaStreamCaptureModeThreadLocal), cudaSuccess);
    launches();
    EXPECT_EQ(cudaStreamEndCapture(g.stream(), &graph), cudaSuccess);
    size_t n = 0;
    EXPECT_EQ(cudaGraphGetNodes(graph, nullptr, &n), cudaSuccess);
    cudaGraphDestroy(graph);
    return n;
}

// Q/K/V of two formats, as Q4_K_M files give some layers (V in Q6_K beside
// Q4_K, or Q8_0 beside Q5_0 where rows are not a multiple of 256): one
// launch where the format table has a kernel for the pair, two otherwise;
// either way each row bitwise what its format's own product gives, within
// the 8-bit product's bound of the CPU reference, and with a norm staged
// (norm.out untouched) within the normed bound.
TEST(CudaFormats, QkvOfTwoFormatsSharesOneLaunch) {
    ORCD_REQUIRE_CUDA();
    Gpu g;
    struct Case {
        TensorType qk, v;
        uint64_t rows, rows_kv, cols;
        size_t launches;
    };
    const Case cases[] = {
        {TensorType::Q5_0, TensorType::Q8_0, 896, 128, 896, 1},   // Qwen2.5-0.5B's layers
        {TensorType::Q4_K, TensorType::Q6_K, 512, 128, 2048, 1},  // Llama's
        {TensorType::Q4_K, TensorType::Q6_K, 71, 35, 2304, 1},    // partial groups, Q6_K rows at 2 mod 4
        {TensorType::Q8_0, TensorType::Q5_0, 300, 64, 896, 1},    // the pair's second format on Q and K
        {TensorType::Q4_0, TensorType::Q6_K, 256, 64, 1024, 2},   // no kernel for the pair
    };
    for (const Case& c : cases) {
        const std::string what = std::string(gguf::tensor_type_name(c.qk)) + "+" + gguf::tensor_type_name(c.v) + " " +
                                 std::to_string(c.rows) + "/" + std::to_string(c.rows_kv) + "x" + std::to_string(c.cols);
        const uint64_t cols = c.cols;
        const TensorType types[3] = {c.qk, c.qk, c.v};
        const uint64_t rows[3] = {c.rows, c.rows_kv, c.rows_kv};
        std::vector<float> w[3];
        cuda::DeviceBuffer dw[3], db[3];
        std::vector<float> bias[3];
        cuda::DeviceMatrix M[3];
        for (int i = 0; i < 3; ++i) {
            const std::vector<uint8_t> q = random_rows(types[i], rows[i], cols, 300 + uint32_t(i), false);
            w[i] = decode(types[i], q, rows[i], cols);
            dw[i] = g.upload(q);
            M[i] = cuda::DeviceMatrix{types[i], cols, rows[i], dw[i].get()};
            bias[i] = test::random_floats(rows[i], 310 + uint64_t(i), -1, 1);
            db[i] = g.upload(bias[i]);
        }
        std::vector<float> x = test::random_floats(cols, 320, -1, 1);
        std::vector<float> half_step;
        const std::vector<float> xr = round_q8(x, half_step);
        cuda::DeviceBuffer dx = g.upload(x);

        cuda::DeviceBuffer y[3] = {g.poisoned(c.rows * 4), g.poisoned(c.rows_kv * 4), g.poisoned(c.rows_kv * 4)};
        auto qkv = [&](const cuda::RowNorm* norm) {
            cuda::matvec_qkv(y[0].as<float>(), y[1].as<float>(), y[2].as<float>(), dx.as<float>(), M[0], M[1], M[2],
                             g.stream(), db[0].as<float>(), db[1].as<float>(), db[2].as<float>(), norm);
        };
        EXPECT_EQ(kernels_launched(g, [&] { qkv(nullptr); }), c.launches) << what;
        qkv(nullptr);
        for (int i = 0; i < 3; ++i) {
            const std::string m = what + " " + "qkv"[i];
            cuda::DeviceBuffer alone = g.poisoned(rows[i] * 4);
            cuda::matvec(alone.as<float>(), dx.as<float>(), M[i], g.stream(), db[i].as<float>());
            const std::vector<uint32_t> got = g.download<uint32_t>(y[i], rows[i]);
            EXPECT_EQ(got, g.download<uint32_t>(alone, rows[i])) << m << ": not the bits of its own product";
            std::vector<float> want = cpu_matvec(w[i], xr, rows[i], cols);
            for (uint64_t r = 0; r < rows[i]; ++r) want[r] += bias[i][r];
            EXPECT_TRUE(test::all_close(m, g.download<float>(y[i], rows[i]), want, bound(w[i], xr, rows[i], cols, 2e-5)));
        }

        // With the norm staged (the bound of MatvecEveryFormatAndEpilogue's normed products).
        const std::vector<float> nw = test::random_floats(cols, 330, 0.5f, 1.5f);
        std::vector<float> h(cols), h_step(cols, 0.0f);
        cpu::rmsnorm(h.data(), x.data(), nw.data(), uint32_t(cols), 1e-5f);
        round_q8(h, h_step);
        const double rel_scale = double(cols + 4) * std::ldexp(1.0, -24);
        cuda::DeviceBuffer dnw = g.upload(nw), hout = g.poisoned(cols * 4);
        const cuda::RowNorm norm{dnw.as<float>(), 1e-5f, hout.as<float>()};
        for (cuda::DeviceBuffer& b : y) b = g.poisoned(b.bytes());
        qkv(&norm);
        for (int i = 0; i < 3; ++i) {
            std::vector<float> want = cpu_matvec(w[i], h, rows[i], cols);
            for (uint64_t r = 0; r < rows[i]; ++r) want[r] += bias[i][r];
            std::vector<double> tol = bound(w[i], h, rows[i], cols, 2e-5 + rel_scale);
            add_rounding_bound(tol, w[i], h_step, rows[i], cols, 1.001);
            EXPECT_TRUE(test::all_close(what + " normed " + "qkv"[i], g.download<float>(y[i], rows[i]), want, tol));
        }
        EXPECT_EQ(g.download<uint32_t>(hout, cols), std::vector<uint32_t>(cols, 0xffffffffu)) << "norm.out written " << what;
    }
}

TEST(CudaFormats, F16DecodingAndEmbeddingRowsAreExact) {
    ORCD_REQUIRE_CUDA();
    Gpu g;
    for (TensorType t : kBlockTypes) {
        const uint64_t rows = 9, cols = 768;
        const std::vector<uint8_t> wq = random_rows(t, rows, cols, 7 + uint32_t(t), true, true);
        const std::vector<float> w = decode(t, wq, rows, cols);
        cuda::DeviceBuffer dw = g.upload(wq);
        const cuda::Format* f = cuda::format_of(t);
        ASSERT_NE(f, nullptr);
        ASSERT_NE(f->to_f16, nullptr);
        cuda::DeviceBuffer h = g.poisoned(rows * cols * 2);
        f->to_f16(h.as<uint16_t>(), dw.get(), cols, rows, g.stream());
        const std::vector<uint16_t> got16 = g.download<uint16_t>(h, rows * cols);
        size_t bad = 0;
        for (size_t i = 0; i < got16.size(); ++i) bad += got16[i] != gguf::fp32_to_fp16(w[i]);
        EXPECT_EQ(bad, 0u) << gguf::tensor_type_name(t) << " F16 decoding";

        const std::vector<int32_t> ids = {3, 0, 8, 3};
        cuda::DeviceBuffer dids = g.upload(ids), out = g.poisoned(ids.size() * cols * 4);
        cuda::embedding(out.as<float>(), dw.get(), t, cols, dids.as<int32_t>(), uint32_t(ids.size()), g.stream());
        const std::vector<float> got = g.download<float>(out, ids.size() * cols);
        size_t differ = 0;
        for (size_t k = 0; k < ids.size(); ++k)
            differ += std::memcmp(&got[k * cols], &w[size_t(ids[k]) * cols], cols * 4) != 0;
        EXPECT_EQ(differ, 0u) << gguf::tensor_type_name(t) << " embedding rows differ from the CPU decoding";
    }
}

// Prefill: rows decoded to F16 a chunk at a time, then tensor-core GEMMs
// with x rounded to F16: a relative 2^-11 on weights and activations each,
// 1.2e-3 S. A scratch smaller than the matrix forces several chunks.
TEST(CudaFormats, GemmThroughBoundedF16Scratch) {
    ORCD_REQUIRE_CUDA();
    Gpu g;
    for (TensorType t : kBlockTypes) {
        const uint64_t rows = 300, cols = 512;
        const uint32_t n = 7;
        const std::vector<uint8_t> wq = random_rows(t, rows, cols, 3 + uint32_t(t), false);
        const std::vector<float> w = decode(t, wq, rows, cols);
        const std::vector<float> x = test::random_floats(size_t(n) * cols, 17, -1, 1);
        cuda::DeviceBuffer dw = g.upload(wq), dx = g.upload(x), x16 = g.poisoned(size_t(n) * cols * 2);
        cuda::DeviceBuffer scratch = g.poisoned(128 * cols * 2);  // 128 rows: three chunks
        cuda::Gemm gemm(g.alloc(), g.stream());
        gemm.set_dequant_scratch(scratch.get(), scratch.bytes());
        cuda::DeviceBuffer y = g.poisoned(size_t(n) * rows * 4);
        gemm.gemm(y.as<float>(), dx.as<float>(), cuda::DeviceMatrix{t, cols, rows, dw.get()}, n, x16.as<uint16_t>());
        const std::vector<float> got = g.download<float>(y, size_t(n) * rows);
        std::vector<float> want;
        std::vector<double> tol;
        for (uint32_t k = 0; k < n; ++k) {
            const std::vector<float> xk(x.begin() + k * cols, x.begin() + (k + 1) * cols);
            const std::vector<float> yk = cpu_matvec(w, xk, rows, cols);
            const std::vector<double> tk = bound(w, xk, rows, cols, 1.2e-3);
            want.insert(want.end(), yk.begin(), yk.end());
            tol.insert(tol.end(), tk.begin(), tk.end());
        }
        EXPECT_TRUE(test::all_close(std::string("gemm ") + gguf::tensor_type_name(t), got, want, tol));
    }
}

TEST(CudaFormats, ExpertRoutingBreaksTiesByLowerIndexAsTheReference) {
    ORCD_REQUIRE_CUDA();
    Gpu g;
    const uint32_t n_expert = 32, n_used = 4, n = 6;
    std::vector<float> logits = test::random_floats(size_t(n) * n_expert, 3, -2, 2);
    // Ties at the cut, all equal, NaN in the middle.
    for (uint32_t i = 0; i < n_expert; ++i) logits[i] = float(i % 3);
    for (uint32_t i = 0; i < n_expert; ++i) logits[n_expert + i] = 0.5f;
    logits[2 * n_expert + 7] = NAN;
    cuda::DeviceBuffer dl = g.upload(logits), ids = g.poisoned(n * n_used * 4), w = g.poisoned(n * n_used * 4);
    cuda::moe_route(dl.as<float>(), n_expert, n_used, ids.as<int32_t>(), w.as<float>(), n, g.stream());
    const std::vector<int32_t> got_ids = g.download<int32_t>(ids, n * n_used);
    const std::vector<float> got_w = g.download<float>(w, n * n_used);
    for (uint32_t t = 0; t < n; ++t) {
        int32_t want_ids[8];
        float want_w[8];
        cpu::top_k_softmax(&logits[t * n_expert], n_expert, n_used, want_ids, want_w);
        for (uint32_t j = 0; j < n_used; ++j) {
            EXPECT_EQ(got_ids[t * n_used + j], want_ids[j]) << "token " << t << " slot " << j;
            EXPECT_NEAR(got_w[t * n_used + j], want_w[j], 1e-6) << "token " << t << " slot " << j;
        }
    }
}

// The expert kernels against the CPU's per-token loop (backend/cpu
// CpuBlockOps::moe's arithmetic): gate/up with per-expert biases and the
// clamped activation, then down, weighted and added in selection order.
// Formats with 8-bit activations: gate and up take x rounded as the kernels
// round it (the same x, so the very same integers), and down's rounding of
// the activations (which the device computes itself) is bounded by
// sum_i |W_down[r][i]| d_i / 2. Three tokens of two experts, and one token
// (decode) of four experts (a whole down group) and of two (the group's
// rows past the selection repeated, their results dropped); formats whose
// gate/up warps take 4 outputs a step (MXFP4, IQ4_NL, Q4_0) and 2 (the
// others).
TEST(CudaFormats, ExpertProductsMatchTheReference) {
    ORCD_REQUIRE_CUDA();
    Gpu g;
    // 8-bit formats (MXFP4, Q8_0, Q4_K, Q6_K, IQ4_NL, Q4_0) and a team-kernel
    // one (Q2_K); rows shorter and longer than a warp's 32 units; each with
    // the three (tokens, experts) calls of the comment above.
    struct Case {
        TensorType t;
        uint32_t E, F;
    };
    struct Run {
        Case c;
        uint32_t n, K;  // tokens, experts a token
    };
    std::vector<Run> runs;
    for (const Case& c : {Case{TensorType::MXFP4, 256, 256}, Case{TensorType::Q8_0, 256, 256},
                          Case{TensorType::Q4_K, 256, 256}, Case{TensorType::Q2_K, 256, 256},
                          Case{TensorType::Q6_K, 512, 256}, Case{TensorType::IQ4_NL, 256, 256},
                          Case{TensorType::Q4_0, 256, 256}, Case{TensorType::MXFP4, 1312, 800},
                          Case{TensorType::Q4_K, 1280, 768}})
        for (const auto& [n, K] : {std::pair<uint32_t, uint32_t>{3, 2}, {1, 4}, {1, 2}}) runs.push_back({c, n, K});
    for (const Run& run : runs) {
        const TensorType t = run.c.t;
        const uint32_t E = run.c.E, F = run.c.F, X = 4, n = run.n, K = run.K;
        SCOPED_TRACE(std::string(gguf::tensor_type_name(t)) + " E=" + std::to_string(E) + " tokens=" +
                     std::to_string(n) + " experts=" + std::to_string(K));
        // Bytes per expert in VRAM (gate/up: F rows of E; down: E rows of F).
        const uint64_t eb = cuda::device_row_bytes(t, true, E) * F;
        const std::vector<uint8_t> gq = random_rows(t, uint64_t(X) * F, E, 1, false),
                                   uq = random_rows(t, uint64_t(X) * F, E, 2, false),
                                   dq = random_rows(t, uint64_t(X) * E, F, 3, false);
        const std::vector<float> gw = decode(t, gq, uint64_t(X) * F, E), uw = decode(t, uq, uint64_t(X) * F, E),
                                 dw = decode(t, dq, uint64_t(X) * E, F);
        const std::vector<float> bg = test::random_floats(X * F, 4, -0.5, 0.5), bu = test::random_floats(X * F, 5, -0.5, 0.5),
                                 bd = test::random_floats(X * E, 6, -0.5, 0.5);
        const std::vector<float> x = test::random_floats(n * E, 7, -1, 1), x0 = test::random_floats(n * E, 8, -1, 1);
        const std::vector<int32_t> ids = K == 4 ? std::vector<int32_t>{2, 0, 3, 1} : std::vector<int32_t>{2, 0, 1, 3, 3, 2};
        const std::vector<float> wts = K == 4 ? std::vector<float>{0.4f, 0.3f, 0.2f, 0.1f}
                                              : std::vector<float>{0.7f, 0.3f, 0.55f, 0.45f, 0.9f, 0.1f};
        cuda::DeviceBuffer dgq = upload_experts(g, t, gq, uint64_t(X) * F, E),
                           duq = upload_experts(g, t, uq, uint64_t(X) * F, E),
                           ddq = upload_experts(g, t, dq, uint64_t(X) * E, F), dbg = g.upload(bg), dbu = g.upload(bu),
                           dbd = g.upload(bd), dx = g.upload(x), dids = g.upload(ids), dwts = g.upload(wts),
                           act = g.poisoned(n * K * F * 4), res = g.upload(x0), res_f32 = g.upload(x0),
                           units = g.poisoned(n * K * (F / 32) * cuda::kQ8UnitBytes);
        const cuda::Format* f = cuda::layout_of(t, true);
        cuda::MoeGateUpArgs gu{dgq.get(), duq.get(), dbg.as<float>(), dbu.as<float>(), eb, dx.as<float>(),
                               dids.as<int32_t>(), act.as<float>(), F, E, K, n, cuda::GateAct::SiluOai, units.get()};
        const bool rounded = f->moe_gate_up(gu, g.stream());
        // The 8-bit formats' gate/up rounds the activations for down.
        EXPECT_EQ(rounded, f->q8_activations);
        {
            // x staged before the wait (written long before: the upload) gives the same bits.
            cuda::DeviceBuffer act2 = g.poisoned(n * K * F * 4), units2 = g.poisoned(n * K * (F / 32) * cuda::kQ8UnitBytes);
            cuda::MoeGateUpArgs early = gu;
            early.out = act2.as<float>();
            early.units = units2.get();
            early.x_early = true;
            EXPECT_EQ(f->moe_gate_up(early, g.stream()), rounded);
            EXPECT_EQ(g.download<uint8_t>(act2, n * K * F * 4), g.download<uint8_t>(act, n * K * F * 4)) << "x early";
            if (rounded) {
                EXPECT_EQ(g.download<uint8_t>(units2, n * K * (F / 32) * cuda::kQ8UnitBytes),
                          g.download<uint8_t>(units, n * K * (F / 32) * cuda::kQ8UnitBytes))
                    << "units, x early";
            }
        }
        cuda::MoeDownArgs dn{ddq.get(), dbd.as<float>(), cuda::device_row_bytes(t, true, F) * E, act.as<float>(), dids.as<int32_t>(),
                             dwts.as<float>(), res.as<float>(), E, F, K, n, rounded ? units.get() : nullptr};
        f->moe_down(dn, g.stream());
        const std::vector<float> got = g.download<float>(res, n * E);
        // Down rounding the F32 activations itself gives the same bits.
        dn.units = nullptr;
        dn.x = res_f32.as<float>();
        f->moe_down(dn, g.stream());
        const std::vector<float> got_f32 = g.download<float>(res_f32, n * E);
        EXPECT_EQ(0, std::memcmp(got_f32.data(), got.data(), got.size() * 4)) << "down on units against down on F32";

        std::vector<float> want = x0;
        std::vector<double> tol(n * E, 0.0);
        const bool q8 = f->q8_activations;
        for (uint32_t tk = 0; tk < n; ++tk) {
            std::vector<float> xt(x.begin() + tk * E, x.begin() + (tk + 1) * E), half_step;
            if (q8) xt = round_q8(xt, half_step);
            std::vector<float> acc(E);
            for (uint32_t j = 0; j < K; ++j) {
                const uint32_t e = uint32_t(ids[tk * K + j]);
                const std::vector<float> ge(gw.begin() + uint64_t(e) * F * E, gw.begin() + uint64_t(e + 1) * F * E),
                    ue(uw.begin() + uint64_t(e) * F * E, uw.begin() + uint64_t(e + 1) * F * E),
                    de(dw.begin() + uint64_t(e) * E * F, dw.begin() + uint64_t(e + 1) * E * F);
                std::vector<float> gv = cpu_matvec(ge, xt, F, E), uv = cpu_matvec(ue, xt, F, E), a(F);
                for (uint32_t r = 0; r < F; ++r) gv[r] += bg[e * F + r], uv[r] += bu[e * F + r];
                cpu::swiglu_oai(a.data(), gv.data(), uv.data(), F);
                const std::vector<float> yv = cpu_matvec(de, a, E, F);
                std::vector<double> td = bound(de, a, E, F, 1e-4);
                if (q8) {
                    std::vector<float> hs;
                    round_q8(a, hs);
                    add_rounding_bound(td, de, hs, E, F, 1.01);
                }
                for (uint32_t r = 0; r < E; ++r) {
                    const float y = wts[tk * K + j] * (yv[r] + bd[e * E + r]);
                    acc[r] = j == 0 ? y : acc[r] + y;
                    // The gate/up products' rounding reaches down through the
                    // activation (slope <= 1.702 * 8) and |W_down|.
                    double wsum = 0;
                    for (uint32_t i = 0; i < F; ++i) wsum += std::fabs(de[uint64_t(r) * F + i]);
                    tol[tk * E + r] += td[r] + 1e-3 * wsum + 1e-5;
                }
            }
            for (uint32_t r = 0; r < E; ++r) want[tk * E + r] = x0[tk * E + r] + acc[r];
        }
        EXPECT_TRUE(test::all_close(std::string("moe ") + gguf::tensor_type_name(t), got, want, tol));
    }
}

// MXFP4 experts are regrouped at load (formats.h, quant_blocks.cuh MXFP4G):
// the regrouped rows decode to the stored rows' values bit for bit through
// the layout's own F16 decoding, for rows of whole groups of 16 units and
// rows ending in a partial group (1, 9 and 10 units over), extreme scales
// included.
TEST(CudaFormats, RegroupedExpertsKeepTheirValues) {
    ORCD_REQUIRE_CUDA();
    Gpu g;
    const cuda::Format* plain = cuda::format_of(TensorType::MXFP4);
    const cuda::Format* experts = cuda::layout_of(TensorType::MXFP4, true);
    ASSERT_NE(plain, nullptr);
    ASSERT_NE(experts, plain);
    EXPECT_EQ(cuda::device_row_bytes(TensorType::MXFP4, true, 2880), 1536u);  // 5 groups of 272, 10 units in 176
    EXPECT_EQ(cuda::device_row_bytes(TensorType::MXFP4, true, 512), 272u);
    EXPECT_EQ(cuda::device_row_bytes(TensorType::MXFP4, false, 2880), 1530u);
    for (const uint64_t cols : {32u, 288u, 512u, 2880u}) {
        SCOPED_TRACE("cols=" + std::to_string(cols));
        const uint64_t rows = 37;
        const std::vector<uint8_t> q = random_rows(TensorType::MXFP4, rows, cols, 31, true);
        cuda::DeviceBuffer raw = g.upload(q), grouped = upload_experts(g, TensorType::MXFP4, q, rows, cols);
        cuda::DeviceBuffer a = g.poisoned(rows * cols * 2), b = g.poisoned(rows * cols * 2);
        plain->to_f16(a.as<uint16_t>(), raw.get(), cols, rows, g.stream());
        experts->to_f16(b.as<uint16_t>(), grouped.get(), cols, rows, g.stream());
        EXPECT_EQ(g.download<uint16_t>(a, rows * cols), g.download<uint16_t>(b, rows * cols));
    }
}

// A prompt chunk's experts grouped on the device: moe_sort's order and tile
// table against a stable sort on the host, then the formats' grouped
// products (MXFP4) against the CPU on the F16 activations they read. Shapes
// with short last stages and partial tiles in both directions; one expert
// takes three tiles (nine of 16 rows), one none; extreme E8M0 scales; both
// tile heights. Bounds: the same exact
// weights times the same F16 activations summed in F32 in another order
// (2e-5 of sum |w x|), and the gate/up product's F16 output rounding
// (2^-11 relative) with the sums' error carried through the activation
// (slope below 40).
TEST(CudaFormats, GroupedExpertProductsMatchTheReference) {
    ORCD_REQUIRE_CUDA();
    Gpu g;
    const uint32_t E = 320, F = 224, X = 8, K = 4, n = 150, P = n * K;
    std::mt19937 rng(11);
    std::vector<int32_t> ids(P);
    for (uint32_t t = 0; t < n; ++t) {
        // Expert 0 in 90% of the tokens (three tiles), expert 7 in none.
        std::vector<int32_t> pool = {1, 2, 3, 4, 5, 6};
        std::shuffle(pool.begin(), pool.end(), rng);
        ids[t * K] = t % 10 == 0 ? pool[5] : 0;
        for (uint32_t j = 1; j < K; ++j) ids[t * K + j] = pool[j - 1];
    }
    for (const uint32_t tile_rows : {cuda::kMoeTileRowsLarge, cuda::kMoeTileRowsSmall}) {
        SCOPED_TRACE("tiles of " + std::to_string(tile_rows) + " rows");
        const uint32_t max_tiles = cuda::moe_max_tiles(P, X, tile_rows);
        cuda::DeviceBuffer dids = g.upload(ids), order = g.poisoned(uint64_t(3) * P * 4),
                           tiles = g.poisoned((1 + 3 * uint64_t(max_tiles)) * 4);
        cuda::moe_sort(dids.as<int32_t>(), P, K, X, tile_rows, order.as<int32_t>(), tiles.as<int32_t>(), g.stream());
        const std::vector<int32_t> got_order = g.download<int32_t>(order, 3 * P);
        const std::vector<int32_t> got_tiles = g.download<int32_t>(tiles, 1 + 3 * max_tiles);
        std::vector<int32_t> want_order(3 * P), want_tiles = {0};
        uint32_t q = 0;
        for (uint32_t e = 0; e < X; ++e) {
            const uint32_t first = q;
            for (uint32_t p = 0; p < P; ++p) {
                if (uint32_t(ids[p]) != e) continue;
                want_order[q] = int32_t(p / K);
                want_order[P + p] = int32_t(q);
                want_order[2 * P + q] = int32_t(e);
                ++q;
            }
            for (uint32_t r = first; r < q; r += tile_rows) {
                want_tiles.insert(want_tiles.end(), {int32_t(e), int32_t(r), int32_t(std::min(tile_rows, q - r))});
                ++want_tiles[0];
            }
        }
        ASSERT_EQ(q, P);
        uint32_t tiles_of_0 = 0;
        for (int32_t i = 0; i < want_tiles[0]; ++i) tiles_of_0 += want_tiles[1 + 3 * i] == 0;
        EXPECT_EQ(tiles_of_0, (135 + tile_rows - 1) / tile_rows);
        EXPECT_EQ(got_order, want_order);
        EXPECT_EQ(std::vector<int32_t>(got_tiles.begin(), got_tiles.begin() + want_tiles.size()), want_tiles);

        for (const TensorType t : kBlockTypes) {
            const cuda::Format* f = cuda::layout_of(t, true);
            ASSERT_NE(f, nullptr);
            if (t == TensorType::MXFP4) {
                EXPECT_NE(f->moe_grouped, nullptr);
            }
            if (!f->moe_grouped) continue;
            SCOPED_TRACE(gguf::tensor_type_name(t));
            const std::vector<uint8_t> gq = random_rows(t, uint64_t(X) * F, E, 21, true),
                                       uq = random_rows(t, uint64_t(X) * F, E, 22, true),
                                       dq = random_rows(t, uint64_t(X) * E, F, 23, true);
            const std::vector<float> gw = decode(t, gq, uint64_t(X) * F, E), uw = decode(t, uq, uint64_t(X) * F, E),
                                     dw = decode(t, dq, uint64_t(X) * E, F);
            const std::vector<float> bg = test::random_floats(X * F, 24, -0.5, 0.5),
                                     bu = test::random_floats(X * F, 25, -0.5, 0.5),
                                     bd = test::random_floats(X * E, 26, -0.5, 0.5);
            const std::vector<uint16_t> x16 = test::to_f16(test::random_floats(n * E, 27, -1, 1));
            const std::vector<float> xf = test::from_f16(x16);
            cuda::DeviceBuffer dgq = upload_experts(g, t, gq, uint64_t(X) * F, E),
                               duq = upload_experts(g, t, uq, uint64_t(X) * F, E),
                               ddq = upload_experts(g, t, dq, uint64_t(X) * E, F), dbg = g.upload(bg),
                               dbu = g.upload(bu), dbd = g.upload(bd), dx = g.upload(x16),
                               act = g.poisoned(uint64_t(P) * F * 2), y = g.poisoned(uint64_t(P) * E * 4);
            const cuda::MoeGroupedArgs gu{.w = dgq.get(),
                                          .w_up = duq.get(),
                                          .bias = dbg.as<float>(),
                                          .bias_up = dbu.as<float>(),
                                          .expert_bytes = cuda::device_row_bytes(t, true, E) * F,
                                          .x = dx.as<uint16_t>(),
                                          .x_row = order.as<int32_t>(),
                                          .tiles = tiles.as<int32_t>(),
                                          .max_tiles = max_tiles,
                                          .tile_rows = tile_rows,
                                          .y16 = act.as<uint16_t>(),
                                          .rows = F,
                                          .cols = E,
                                          .act = cuda::GateAct::SiluOai};
            f->moe_grouped(gu, g.stream());
            const cuda::MoeGroupedArgs dn{.w = ddq.get(),
                                          .bias = dbd.as<float>(),
                                          .expert_bytes = cuda::device_row_bytes(t, true, F) * E,
                                          .x = act.as<uint16_t>(),
                                          .tiles = tiles.as<int32_t>(),
                                          .max_tiles = max_tiles,
                                          .tile_rows = tile_rows,
                                          .y = y.as<float>(),
                                          .rows = E,
                                          .cols = F};
            f->moe_grouped(dn, g.stream());
            const std::vector<float> got_act = test::from_f16(g.download<uint16_t>(act, uint64_t(P) * F));
            const std::vector<float> got_y = g.download<float>(y, uint64_t(P) * E);

            std::vector<float> want_act(uint64_t(P) * F), want_y(uint64_t(P) * E);
            std::vector<double> tol_act(want_act.size()), tol_y(want_y.size());
            for (uint32_t r = 0; r < P; ++r) {
                const uint32_t tok = uint32_t(want_order[r]), e = uint32_t(want_order[2 * P + r]);
                const std::vector<float> xt(xf.begin() + uint64_t(tok) * E, xf.begin() + uint64_t(tok + 1) * E);
                const std::vector<float> ge(gw.begin() + uint64_t(e) * F * E, gw.begin() + uint64_t(e + 1) * F * E),
                    ue(uw.begin() + uint64_t(e) * F * E, uw.begin() + uint64_t(e + 1) * F * E),
                    de(dw.begin() + uint64_t(e) * E * F, dw.begin() + uint64_t(e + 1) * E * F);
                std::vector<float> gv = cpu_matvec(ge, xt, F, E), uv = cpu_matvec(ue, xt, F, E);
                const std::vector<double> sg = bound(ge, xt, F, E, 2e-5), su = bound(ue, xt, F, E, 2e-5);
                for (uint32_t c = 0; c < F; ++c) gv[c] += bg[e * F + c], uv[c] += bu[e * F + c];
                cpu::swiglu_oai(&want_act[uint64_t(r) * F], gv.data(), uv.data(), F);
                for (uint32_t c = 0; c < F; ++c) {
                    const uint64_t i = uint64_t(r) * F + c;
                    tol_act[i] = std::fabs(want_act[i]) * std::ldexp(1.0, -11) + 40 * (sg[c] + su[c]) + 1e-30;
                }
                // Down on the activations the device stored (its F16 rounding
                // is checked just above).
                const std::vector<float> at(got_act.begin() + uint64_t(r) * F, got_act.begin() + uint64_t(r + 1) * F);
                const std::vector<float> yv = cpu_matvec(de, at, E, F);
                const std::vector<double> sd = bound(de, at, E, F, 2e-5);
                for (uint32_t c = 0; c < E; ++c) {
                    want_y[uint64_t(r) * E + c] = yv[c] + bd[e * E + c];
                    tol_y[uint64_t(r) * E + c] = sd[c] + 1e-6;
                }
            }
            EXPECT_TRUE(test::all_close("grouped gate/up", got_act, want_act, tol_act));
            EXPECT_TRUE(test::all_close("grouped down", got_y, want_y, tol_y));
        }
    }
}

}  // namespace
}  // namespace orcd
