// Expert selection of a mixture-of-experts layer (cpu::top_k_softmax): per
// token, the n_used largest router logits (ties: the lower index; NaN never
// before a number), in descending order, and their softmax weights over the
// selected logits only, summed in selection order.
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

}  // namespace

void moe_route(const float* logits, uint32_t n_expert, uint32_t n_used, int32_t* ids, float* weights,
               uint32_t n_tokens, cudaStream_t stream) {
    if (n_tokens == 0) return;
    if (n_used == 0 || n_used > kMaxUsed || n_used > n_expert) fail(ORCD_INTERNAL, "moe_route: bad expert count");
    moe_route_kernel<<<(n_tokens + 127) / 128, 128, 0, stream>>>(logits, n_expert, n_used, ids, weights, n_tokens);
    check_launch("moe_route");
}

}  // namespace orcd::cuda
