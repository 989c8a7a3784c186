#include "backend/cuda/cuda_check.h"
#include "backend/cuda/formats.h"
#include "backend/cuda/matmul.h"
#include "common/error.h"

#include <cublas_v2.h>

#include <algorithm>
#include <string>

namespace orcd::cuda {
namespace {

void check_cublas(cublasStatus_t s, const char* what) {
    if (s == CUBLAS_STATUS_SUCCESS) return;
    const std::string detail = std::string("cuBLAS ") + cublasGetStatusName(s) + " (" + cublasGetStatusString(s) +
                               ") in " + what;
    // Its own allocations (handle state) failing is an out-of-memory case.
    fail(s == CUBLAS_STATUS_ALLOC_FAILED ? ORCD_VRAM_OOM : ORCD_CUDA_ERROR, detail);
}

}  // namespace

Gemm::Gemm(DeviceAllocator& alloc, cudaStream_t stream) : stream_(stream) {
    workspace_ = alloc.alloc(kWorkspaceBytes, MemCategory::Workspace);
    cublasHandle_t h = nullptr;
    check_cublas(cublasCreate(&h), "cublasCreate");
    handle_ = h;
    check_cublas(cublasSetStream(h, stream), "cublasSetStream");
    check_cublas(cublasSetWorkspace(h, workspace_.get(), workspace_.bytes()), "cublasSetWorkspace");
    check_cublas(cublasSetAtomicsMode(h, CUBLAS_ATOMICS_NOT_ALLOWED), "cublasSetAtomicsMode");
    check_cublas(cublasSetMathMode(h, cublasMath_t(CUBLAS_DEFAULT_MATH | CUBLAS_MATH_DISALLOW_REDUCED_PRECISION_REDUCTION)),
                 "cublasSetMathMode");
}

Gemm::~Gemm() {
    if (handle_) (void)cublasDestroy(handle_);
}

void Gemm::matmul(float* y, const float* x, const DeviceMatrix& W, uint32_t n_tokens, f16_bits* x16) {
    if (n_tokens == 1)
        matvec(y, x, W, stream_);
    else
        gemm(y, x, W, n_tokens, x16);
}

void Gemm::gemm(float* y, const float* x, const DeviceMatrix& W, uint32_t n_tokens, f16_bits* x16) {
    if (n_tokens == 0 || W.ne1 == 0) return;
    if (W.type != gguf::TensorType::F32) {
        if (!x16) fail(ORCD_INTERNAL, "gemm: F16 and block-format weights need the F16 activation scratch");
        to_f16(x16, x, uint64_t(n_tokens) * W.ne0, stream_);
        gemm_f16x(y, x16, W, n_tokens);
        return;
    }
    if (W.ne0 > 0x7fffffffull || W.ne1 > 0x7fffffffull) fail(ORCD_INTERNAL, "gemm: matrix too large for cuBLAS");
    const int m = int(W.ne1), n = int(n_tokens), k = int(W.ne0);
    const float alpha = 1.0f, beta = 0.0f;
    const cublasStatus_t s = cublasGemmEx(handle_, CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &alpha, W.data, CUDA_R_32F, k, x,
                                          CUDA_R_32F, k, &beta, y, CUDA_R_32F, m, CUBLAS_COMPUTE_32F_PEDANTIC,
                                          CUBLAS_GEMM_DEFAULT);
    check_cublas(s, "cublasGemmEx");
    check_launch("cublasGemmEx");
}

void Gemm::gemm_f16x(float* y, const f16_bits* x16, const DeviceMatrix& W, uint32_t n_tokens) {
    if (n_tokens == 0 || W.ne1 == 0) return;
    if (W.ne0 > 0x7fffffffull || W.ne1 > 0x7fffffffull) fail(ORCD_INTERNAL, "gemm: matrix too large for cuBLAS");
    const int m = int(W.ne1), n = int(n_tokens), k = int(W.ne0);
    const float alpha = 1.0f, beta = 0.0f;
    cublasStatus_t s;
    if (W.type == gguf::TensorType::F32) {
        fail(ORCD_INTERNAL, "gemm: F32 weights take F32 activations");
    } else if (W.type == gguf::TensorType::F16) {
        s = cublasGemmEx(handle_, CUBLAS_OP_T, CUBLAS_OP_N, m, n, k, &alpha, W.data, CUDA_R_16F, k, x16, CUDA_R_16F, k,
                         &beta, y, CUDA_R_32F, m, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    } else {
        const Format* f = layout_of(W.type, W.expert);
        if (!f || !f->to_f16)
            fail(ORCD_INTERNAL, std::string("gemm: unsupported weight type ") + gguf::tensor_type_name(W.type));
        const uint64_t row_f16 = W.ne0 * 2, row_bytes = device_row_bytes(W.type, W.expert, W.ne0);
        const uint64_t chunk = std::min<uint64_t>(W.ne1, w16_bytes_ / row_f16);
        if (!w16_ || chunk == 0) fail(ORCD_INTERNAL, "gemm: no decode scratch for a block-format matrix");
        s = CUBLAS_STATUS_SUCCESS;
        // Rows [r0, r0 + m) decoded to F16, then Y^T[r0 .. r0+m) = W_chunk^T' X^T.
        for (uint64_t r0 = 0; r0 < W.ne1 && s == CUBLAS_STATUS_SUCCESS; r0 += chunk) {
            const uint64_t m_rows = std::min(chunk, W.ne1 - r0);
            f->to_f16(static_cast<uint16_t*>(w16_), static_cast<const uint8_t*>(W.data) + r0 * row_bytes, W.ne0,
                      m_rows, stream_);
            check_launch("to_f16 (weights)");
            s = cublasGemmEx(handle_, CUBLAS_OP_T, CUBLAS_OP_N, int(m_rows), n, k, &alpha, w16_, CUDA_R_16F, k, x16,
                             CUDA_R_16F, k, &beta, y + r0, CUDA_R_32F, m, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
        }
    }
    check_cublas(s, "cublasGemmEx");
    check_launch("cublasGemmEx");
}

uint64_t Gemm::dequant_bytes(uint64_t largest_matrix_f16_bytes) {
    return std::min(largest_matrix_f16_bytes, kDequantChunkBytes);
}

void Gemm::batched_f16(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const f16_bits* A, int lda,
                       long long stride_a, const f16_bits* B, int ldb, long long stride_b, float* C, int ldc,
                       long long stride_c, int batch) {
    if (m <= 0 || n <= 0 || k <= 0 || batch <= 0) return;
    const float beta = 0.0f;
    const cublasStatus_t s = cublasGemmStridedBatchedEx(
        handle_, trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N, m, n, k, &alpha, A,
        CUDA_R_16F, lda, stride_a, B, CUDA_R_16F, ldb, stride_b, &beta, C, CUDA_R_32F, ldc, stride_c, batch,
        CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    check_cublas(s, "cublasGemmStridedBatchedEx");
    check_launch("cublasGemmStridedBatchedEx");
}

}  // namespace orcd::cuda
