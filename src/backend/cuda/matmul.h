// y = W x for the weight matrices of the model, in their file format (the
// format table, formats.h), always with F32 accumulation and F32 output.
//
// Layout: a matrix W has ne1 rows of ne0 contiguous elements (row-major
// W[out][in], the GGUF order, ne0 = the input dimension). Activations are
// row-major [n_tokens][ne0] in, [n_tokens][ne1] out:
//   y[t][r] = sum_i W[r][i] * x[t][i].
// For cuBLAS (column-major) the same bytes are W^T (ne0 x ne1, lda = ne0),
// X^T (ne0 x n, ldb = ne0) and Y^T (ne1 x n, ldc = ne1), so the product is
// Y^T = op_T(W^T) * X^T: gemm(transa = T, transb = N, m = ne1, n = n_tokens,
// k = ne0).
//
// A block format is another `type` of DeviceMatrix: its own matvec kernel and
// a decode-to-F16 step before the tensor-core GEMM (formats.h).
#pragma once

#include "backend/cuda/device_memory.h"
#include "backend/cuda/kernels.h"
#include "backend/cuda/matvec_launch.h"
#include "gguf/gguf.h"

#include <cuda_runtime_api.h>

#include <cstdint>

struct cublasContext;

namespace orcd::cuda {

struct DeviceMatrix {
    gguf::TensorType type = gguf::TensorType::F32;
    uint64_t ne0 = 0, ne1 = 0;
    const void* data = nullptr;
    bool expert = false;  // one matrix of a stack of experts, in the layout formats.h's layout_of gives it
};

// Batch-1 products (decode), bandwidth-bound by design, one fused kernel per
// weight format (formats.h). F32/F16: a block of 256 threads streams 4 rows
// with 16-byte loads (when the row length and addresses allow it) and sums in
// a fixed order: each thread over its strided chunks in index order, a
// butterfly across each warp, the 8 warp sums in warp order. A row gets the
// same bits in every variant below, so the fused variants equal the unfused
// sequence bit for bit. Biases (may be null) are added to the finished
// product, as cpu::add_bias does.
//   matvec:        y = W x + b
//   matvec_add:    y = y + (W x + b)          (the residual add fused)
//   matvec_qkv:    q = Wq x + bq, k = Wk x + bk, v = Wv x + bv, one launch per
//                  group of matrices sharing a type and row length
//   matvec_swiglu: out = act(Wg x + bg, Wu x + bu) (as swiglu()/swiglu_oai();
//                  Wg, Wu of one type and shape)
// matvec_qkv and matvec_swiglu take an optional RowNorm: x is then the
// residual stream and the products are of h = RMSNorm(x) * w, normalised by
// the product's kernel as it stages x (norm.cuh) where the format's kernel
// can, else by rmsnorm() into `out` first. A decode step so saves the norm's
// launch before its two products. Where the kernel normalises, its h may
// differ from rmsnorm()'s in the last bit (the sum of squares is combined
// in the product's block size) and `out` is not written.
struct RowNorm {
    const float* w;
    float eps;
    float* out;  // [ne0]: h, where the kernel cannot normalise
};
void matvec(float* y, const float* x, const DeviceMatrix& W, cudaStream_t stream, const float* bias = nullptr);
void matvec_add(float* y, const float* x, const DeviceMatrix& W, cudaStream_t stream, const float* bias = nullptr);
void matvec_qkv(float* q, float* k, float* v, const float* x, const DeviceMatrix& Wq, const DeviceMatrix& Wk,
                const DeviceMatrix& Wv, cudaStream_t stream, const float* bq = nullptr, const float* bk = nullptr,
                const float* bv = nullptr, const RowNorm* norm = nullptr);
void matvec_swiglu(float* out, const float* x, const DeviceMatrix& Wg, const DeviceMatrix& Wu, cudaStream_t stream,
                   const float* bg = nullptr, const float* bu = nullptr, GateAct act = GateAct::Silu,
                   const RowNorm* norm = nullptr);

// cuBLAS in a deterministic configuration: its own handle bound to the
// stream, a fixed workspace from the tracked allocator (no allocation inside
// cuBLAS), atomics disallowed, CUBLAS_GEMM_DEFAULT, no reduced-precision
// reductions. F32 weights use CUBLAS_COMPUTE_32F_PEDANTIC (no TF32); F16
// weights take the activations rounded to F16 (`x16` scratch) and compute in
// F32 (CUBLAS_COMPUTE_32F, tensor cores). Block formats are decoded to F16
// (exactly, then rounded to F16) a chunk of rows at a time into a bounded
// scratch (kDequantChunkBytes, allocated at load), each chunk multiplied as
// F16 weights: the whole matrix never exists in F16.
class Gemm {
public:
    static constexpr uint64_t kWorkspaceBytes = 32ull << 20;
    static constexpr uint64_t kDequantChunkBytes = 64ull << 20;
    // The decode scratch a model needs: its largest block-format matrix in
    // F16, capped at kDequantChunkBytes (0 when it has none).
    static uint64_t dequant_bytes(uint64_t largest_matrix_f16_bytes);

    Gemm(DeviceAllocator& alloc, cudaStream_t stream);
    ~Gemm();
    Gemm(const Gemm&) = delete;
    Gemm& operator=(const Gemm&) = delete;

    // n_tokens == 1 runs matvec(); more use cuBLAS. x16 must hold
    // n_tokens * W.ne0 halves when W is F16 and n_tokens > 1.
    void matmul(float* y, const float* x, const DeviceMatrix& W, uint32_t n_tokens, f16_bits* x16);
    // Always cuBLAS (tests compare both paths).
    void gemm(float* y, const float* x, const DeviceMatrix& W, uint32_t n_tokens, f16_bits* x16);
    // gemm() for activations already rounded to F16 ([n_tokens][W.ne0]):
    // F16 and block-format weights (F32 weights take F32 activations).
    void gemm_f16x(float* y, const f16_bits* x16, const DeviceMatrix& W, uint32_t n_tokens);
    // Column-major C_b = alpha * op(A_b) * op(B_b) for b < batch, where
    // X_b = X + b * stride_x (elements): F16 A and B, F32 C, CUBLAS_COMPUTE_32F
    // (tensor cores), same handle and settings as gemm(). Attention's
    // products (prefill_attention.h).
    void batched_f16(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const f16_bits* A, int lda,
                     long long stride_a, const f16_bits* B, int ldb, long long stride_b, float* C, int ldc,
                     long long stride_c, int batch);
    cudaStream_t stream() const { return stream_; }
    // The F16 scratch for block formats (dequant_bytes of the model).
    void set_dequant_scratch(void* p, uint64_t bytes) {
        w16_ = p;
        w16_bytes_ = bytes;
    }

private:
    cublasContext* handle_ = nullptr;
    cudaStream_t stream_;
    DeviceBuffer workspace_;
    void* w16_ = nullptr;
    uint64_t w16_bytes_ = 0;
};

}  // namespace orcd::cuda
