// The batch-1 matrix-vector kernel and the cuBLAS GEMM wrapper against
// cpu::matmul, for F32 and F16 weights, plus run-to-run bitwise determinism.
#include "backend/cpu/cpu_ops.h"
#include "backend/cuda/matmul.h"
#include "gguf/gguf.h"
#include "gpu_test_util.h"

#include <cmath>

namespace orcd {
namespace {

using test::Gpu;

struct Case {
    gguf::TensorType type;
    uint32_t rows, cols, n_tokens;
};

// Per-output bound, scaled by S = sum_i |W[r][i] x[t][i]|:
//   F32 (both sides F32 products, F32 sums in different orders): 1e-5 S
//   F16 weights, batch 1: the same (weights convert exactly, x stays F32);
//   F16 weights, batch > 1: x is rounded to F16 for the tensor cores, a
//   relative 2^-11 per product: 6e-4 S.
void run_case(Gpu& g, cuda::Gemm& gemm, const Case& c, bool force_cublas) {
    const bool f16 = c.type == gguf::TensorType::F16;
    const std::vector<float> wf = test::random_floats(size_t(c.rows) * c.cols, c.rows * 7 + c.cols, -1, 1);
    const std::vector<uint16_t> w16 = test::to_f16(wf);
    const std::vector<float> wref = f16 ? test::from_f16(w16) : wf;
    const std::vector<float> x = test::random_floats(size_t(c.n_tokens) * c.cols, c.cols + 3, -1, 1);
    cuda::DeviceBuffer dw = f16 ? g.upload(w16) : g.upload(wf);
    cuda::DeviceBuffer dx = g.upload(x), dy = g.poisoned(size_t(c.n_tokens) * c.rows * 4);
    cuda::DeviceBuffer x16 = g.poisoned(size_t(c.n_tokens) * c.cols * 2);
    const cuda::DeviceMatrix W{c.type, c.cols, c.rows, dw.get()};
    if (force_cublas)
        gemm.gemm(dy.as<float>(), dx.as<float>(), W, c.n_tokens, x16.as<uint16_t>());
    else
        gemm.matmul(dy.as<float>(), dx.as<float>(), W, c.n_tokens, x16.as<uint16_t>());
    const std::vector<float> got = g.download<float>(dy, size_t(c.n_tokens) * c.rows);

    TensorView tv;
    tv.type = c.type;
    tv.ne0 = c.cols;
    tv.ne1 = c.rows;
    tv.data = f16 ? reinterpret_cast<const uint8_t*>(w16.data()) : reinterpret_cast<const uint8_t*>(wf.data());
    tv.n_bytes = size_t(c.rows) * c.cols * (f16 ? 2 : 4);
    std::vector<float> want(got.size());
    cpu::matmul(want.data(), x.data(), tv, c.n_tokens);

    const double rel = (f16 && (force_cublas || c.n_tokens > 1)) ? 6e-4 : 1e-5;
    std::vector<double> tol(got.size());
    for (uint32_t t = 0; t < c.n_tokens; ++t)
        for (uint32_t r = 0; r < c.rows; ++r) {
            double s = 0;
            for (uint32_t i = 0; i < c.cols; ++i) s += std::fabs(double(wref[size_t(r) * c.cols + i]) * x[size_t(t) * c.cols + i]);
            tol[size_t(t) * c.rows + r] = rel * s + 1e-6;
        }
    EXPECT_TRUE(test::all_close(std::string(force_cublas ? "cublas " : "matmul ") + gguf::tensor_type_name(c.type) +
                                    " rows=" + std::to_string(c.rows) + " cols=" + std::to_string(c.cols) +
                                    " n=" + std::to_string(c.n_tokens),
                                got, want, tol));
}

TEST(CudaMatmul, MatvecMatchesReference) {
    ORCD_REQUIRE_CUDA();
    Gpu g;
    cuda::Gemm gemm(g.alloc(), g.stream());
    for (gguf::TensorType type : {gguf::TensorType::F32, gguf::TensorType::F16}) {
        run_case(g, gemm, {type, 1000, 4096, 1}, false);  // 16-byte path
        run_case(g, gemm, {type, 1001, 4099, 1}, false);  // odd length: scalar path
        run_case(g, gemm, {type, 512, 64, 1}, false);     // shorter than one warp sweep
        run_case(g, gemm, {type, 64, 172, 1}, false);     // stories260K w_down (F16 row not 16-byte aligned)
    }
}

TEST(CudaMatmul, CublasGemmMatchesReference) {
    ORCD_REQUIRE_CUDA();
    Gpu g;
    cuda::Gemm gemm(g.alloc(), g.stream());
    for (gguf::TensorType type : {gguf::TensorType::F32, gguf::TensorType::F16}) {
        run_case(g, gemm, {type, 768, 512, 17}, false);
        run_case(g, gemm, {type, 172, 64, 5}, false);
        run_case(g, gemm, {type, 300, 1000, 1}, true);  // cuBLAS with a single column
    }
}

// The same inputs twice give the same bits (matvec and cuBLAS).
TEST(CudaMatmul, RunsAreBitwiseIdentical) {
    ORCD_REQUIRE_CUDA();
    Gpu g;
    cuda::Gemm gemm(g.alloc(), g.stream());
    const uint32_t rows = 2048, cols = 2048;
    for (uint32_t n : {1u, 64u}) {
        const std::vector<uint16_t> w16 = test::to_f16(test::random_floats(size_t(rows) * cols, 31, -1, 1));
        const std::vector<float> x = test::random_floats(size_t(n) * cols, 32, -1, 1);
        cuda::DeviceBuffer dw = g.upload(w16), dx = g.upload(x), x16 = g.poisoned(size_t(n) * cols * 2);
        const cuda::DeviceMatrix W{gguf::TensorType::F16, cols, rows, dw.get()};
        std::vector<float> first;
        for (int run = 0; run < 3; ++run) {
            cuda::DeviceBuffer y = g.poisoned(size_t(n) * rows * 4);
            gemm.matmul(y.as<float>(), dx.as<float>(), W, n, x16.as<uint16_t>());
            const std::vector<float> got = g.download<float>(y, size_t(n) * rows);
            if (run == 0)
                first = got;
            else
                EXPECT_EQ(0, std::memcmp(first.data(), got.data(), got.size() * 4)) << "n=" << n << " run " << run;
        }
    }
}

}  // namespace
}  // namespace orcd
