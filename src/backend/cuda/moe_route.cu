// Expert selection of a mixture-of-experts layer (cpu::top_k_softmax): per
// token, the n_used largest router logits (ties: the lower index; NaN never
// before a number), in descending order, and their softmax weights over the
// selected logits only, summed in selection order. And the two moves of a
// prompt's experts grouped by expert: gathering the rows each expert takes
// and combining the experts' outputs back per token.
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernels.h"
#include "common/error.h"

namespace orcd::cuda {
namespace {

constexpr uint32_t kMaxUsed = 8;

__device__ __forceinline__ bool better(float v, uint32_t i, float bv, uint32_t bi) {
    if (v != v) return false;
    if (bv != bv) return true;
    return v > bv || (v == bv && i < bi);
}

__global__ void moe_route_kernel(const float* logits, uint32_t n_expert, uint32_t n_used, int32_t* ids, float* weights,
                                 uint32_t n_tokens) {
    const uint32_t t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= n_tokens) return;
    const float* l = logits + uint64_t(t) * n_expert;
    uint32_t sel[kMaxUsed];
    for (uint32_t j = 0; j < n_used; ++j) {
        uint32_t best = n_expert;
        for (uint32_t i = 0; i < n_expert; ++i) {
            bool taken = false;
            for (uint32_t k = 0; k < j; ++k) taken = taken || sel[k] == i;
            if (!taken && (best == n_expert || better(l[i], i, l[best], best))) best = i;
        }
        sel[j] = best;
    }
    const float mx = l[sel[0]];
    float w[kMaxUsed], sum = 0.0f;
    for (uint32_t j = 0; j < n_used; ++j) {
        w[j] = expf(l[sel[j]] - mx);
        sum += w[j];
    }
    for (uint32_t j = 0; j < n_used; ++j) {
        ids[t * n_used + j] = int32_t(sel[j]);
        weights[t * n_used + j] = w[j] / sum;
    }
}

__global__ void moe_gather_kernel(float* out, const float* x, const int32_t* rows, uint32_t cols) {
    const float* src = x + uint64_t(rows[blockIdx.x]) * cols;
    float* dst = out + uint64_t(blockIdx.x) * cols;
    for (uint32_t c = threadIdx.x; c < cols; c += blockDim.x) dst[c] = src[c];
}

__global__ void moe_combine_kernel(float* x, const float* y, const int32_t* slot, const float* weights,
                                   uint32_t n_used, uint32_t cols) {
    const uint32_t t = blockIdx.x;
    for (uint32_t c = threadIdx.x; c < cols; c += blockDim.x) {
        float acc = 0.0f;
        for (uint32_t j = 0; j < n_used; ++j) {
            const float v = weights[t * n_used + j] * y[uint64_t(slot[t * n_used + j]) * cols + c];
            acc = j == 0 ? v : acc + v;
        }
        x[uint64_t(t) * cols + c] = x[uint64_t(t) * cols + c] + acc;
    }
}

}  // namespace

void moe_gather(float* out, const float* x, const int32_t* rows, uint32_t n_rows, uint32_t cols, cudaStream_t stream) {
    if (n_rows == 0) return;
    moe_gather_kernel<<<n_rows, 256, 0, stream>>>(out, x, rows, cols);
    check_launch("moe_gather");
}

void moe_combine(float* x, const float* y, const int32_t* slot, const float* weights, uint32_t n_tokens,
                 uint32_t n_used, uint32_t cols, cudaStream_t stream) {
    if (n_tokens == 0) return;
    moe_combine_kernel<<<n_tokens, 256, 0, stream>>>(x, y, slot, weights, n_used, cols);
    check_launch("moe_combine");
}

void moe_route(const float* logits, uint32_t n_expert, uint32_t n_used, int32_t* ids, float* weights,
               uint32_t n_tokens, cudaStream_t stream) {
    if (n_tokens == 0) return;
    if (n_used == 0 || n_used > kMaxUsed || n_used > n_expert) fail(ORCD_INTERNAL, "moe_route: bad expert count");
    moe_route_kernel<<<(n_tokens + 127) / 128, 128, 0, stream>>>(logits, n_expert, n_used, ids, weights, n_tokens);
    check_launch("moe_route");
}

}  // namespace orcd::cuda
