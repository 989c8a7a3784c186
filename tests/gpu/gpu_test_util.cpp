#include "gpu_test_util.h"

#include "backend/cuda/cuda_check.h"
#include "gguf/gguf.h"

#include <cmath>
#include <cstdio>
#include <sstream>

namespace orcd::test {

bool cuda_available() {
    int n = 0;
    const cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        return false;
    }
    return n > 0;
}

Gpu::Gpu() : ctx_(cuda::CudaContext::open(0)) {}

cuda::DeviceBuffer Gpu::poisoned(uint64_t bytes) {
    cuda::DeviceBuffer b = ctx_->alloc->alloc(bytes, cuda::MemCategory::Workspace);
    ORCD_CUDA_CHECK(cudaMemsetAsync(b.get(), 0xff, b.bytes(), ctx_->stream));
    return b;
}

void Gpu::copy_in(void* dst, const void* src, uint64_t bytes) {
    ORCD_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, ctx_->stream));
    sync();
}

void Gpu::copy_out(void* dst, const void* src, uint64_t bytes) {
    ORCD_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, ctx_->stream));
    sync();
}

void Gpu::sync() { ORCD_CUDA_CHECK(cudaStreamSynchronize(ctx_->stream)); }

std::vector<float> random_floats(size_t n, uint64_t seed, float lo, float hi) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<float> d(lo, hi);
    std::vector<float> v(n);
    for (float& x : v) x = d(rng);
    return v;
}

std::vector<uint16_t> to_f16(const std::vector<float>& v) {
    std::vector<uint16_t> h(v.size());
    for (size_t i = 0; i < v.size(); ++i) h[i] = gguf::fp32_to_fp16(v[i]);
    return h;
}

std::vector<float> from_f16(const std::vector<uint16_t>& v) {
    std::vector<float> f(v.size());
    for (size_t i = 0; i < v.size(); ++i) f[i] = gguf::fp16_to_fp32(v[i]);
    return f;
}

::testing::AssertionResult all_close(const std::string& what, const std::vector<float>& got,
                                     const std::vector<float>& want, const std::vector<double>& tol) {
    if (got.size() != want.size() || tol.size() != want.size())
        return ::testing::AssertionFailure() << what << ": size mismatch " << got.size() << " vs " << want.size();
    double max_abs = 0, max_rel = 0;
    size_t worst = 0, n_bad = 0, first_bad = got.size();
    for (size_t i = 0; i < got.size(); ++i) {
        const double g = got[i], w = want[i];
        const double err = std::isnan(g) || std::isnan(w) ? INFINITY : std::fabs(g - w);
        const double rel = err / std::max(std::fabs(w), 1e-30);
        if (err > max_abs || std::isinf(err)) {
            if (!(err <= max_abs)) worst = i;
            max_abs = std::max(max_abs, err);
        }
        if (std::fabs(w) > 1e-6) max_rel = std::max(max_rel, rel);
        if (!(err <= tol[i])) {
            ++n_bad;
            if (first_bad == got.size()) first_bad = i;
        }
    }
    std::ostringstream msg;
    msg << what << ": n=" << got.size() << " max_abs_err=" << max_abs << " max_rel_err=" << max_rel << " (worst at ["
        << worst << "] got " << got[worst] << " want " << want[worst] << ")";
    std::printf("[ stats    ] %s\n", msg.str().c_str());
    if (n_bad == 0) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << msg.str() << "; " << n_bad << " elements out of bound, first at ["
                                         << first_bad << "] got " << got[first_bad] << " want " << want[first_bad]
                                         << " bound " << tol[first_bad];
}

::testing::AssertionResult all_close(const std::string& what, const std::vector<float>& got,
                                     const std::vector<float>& want, double abs_tol, double rel_tol) {
    std::vector<double> tol(want.size());
    for (size_t i = 0; i < want.size(); ++i) tol[i] = abs_tol + rel_tol * std::fabs(double(want[i]));
    return all_close(what, got, want, tol);
}

}  // namespace orcd::test
