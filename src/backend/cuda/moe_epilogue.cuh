// The finishing arithmetic of the expert products (formats.h's MoeGateUpArgs
// and MoeDownArgs), shared by every expert kernel so that each computes the
// same floats from its sums: biases added to the finished products, then the
// gate activation; down products weighted and added in selection order.
#pragma once

#include "backend/cuda/formats.h"
#include "backend/cuda/pointwise.cuh"

#include <cstdint>

namespace orcd::cuda {

// Rows r0 .. r0 + kN - 1 (those below r_end) of token t's selected expert
// `slot` (expert e): acc = {gate r0, ..., gate r0 + kN - 1, up r0, ...};
// each row's activation also into kept[o] where kept is not null.
template <int kN>
__device__ __forceinline__ void moe_store_gate_up(const MoeGateUpArgs& a, uint32_t e, uint32_t t, uint32_t slot,
                                                  uint32_t r0, uint32_t r_end, const float (&acc)[2 * kN],
                                                  float* kept = nullptr) {
#pragma unroll
    for (int o = 0; o < kN; ++o) {
        const uint32_t r = r0 + uint32_t(o);
        if (r >= r_end) break;
        float gs = acc[o], us = acc[kN + o];
        if (a.b_gate) gs += a.b_gate[uint64_t(e) * a.rows + r];
        if (a.b_up) us += a.b_up[uint64_t(e) * a.rows + r];
        const float v = a.act == GateAct::Silu ? silu_mul(gs, us) : swiglu_oai_mul(gs, us);
        a.out[(uint64_t(t) * a.n_used + slot) * a.rows + r] = v;
        if (kept) kept[o] = v;
    }
}

// The running sum of token t's down row r after its j-th selected expert
// (expert e, product s): acc + weight_j (s + bias), the first term alone.
__device__ __forceinline__ float moe_down_add(const MoeDownArgs& a, uint32_t t, uint32_t j, uint32_t e, uint32_t r,
                                              float s, float acc) {
    if (a.b_down) s += a.b_down[uint64_t(e) * a.rows + r];
    const float y = a.weights[t * a.n_used + j] * s;
    return j == 0 ? y : acc + y;
}

}  // namespace orcd::cuda
