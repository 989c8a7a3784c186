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

// The running sum of a down row after its j-th selected expert (product s,
// routing weight w, bias where the layer has one): acc + w (s + bias), the
// first term alone.
__device__ __forceinline__ float moe_down_term(bool has_bias, float s, float bias, float w, uint32_t j, float acc) {
    if (has_bias) s += bias;
    const float y = w * s;
    return j == 0 ? y : acc + y;
}

// The same for token t's down row r after expert e, its j-th, with the
// operands read here.
__device__ __forceinline__ float moe_down_add(const MoeDownArgs& a, uint32_t t, uint32_t j, uint32_t e, uint32_t r,
                                              float s, float acc) {
    return moe_down_term(a.b_down, s, a.b_down ? a.b_down[uint64_t(e) * a.rows + r] : 0.0f,
                         a.weights[t * a.n_used + j], j, acc);
}

// The operands of token t's down row r, asked for before its products so
// that their loads are in flight under them (as the dense products'
// RowFinish does; asked for after, each row's finish waited on one more
// memory round trip): lane j < n_used holds the j-th selected
// expert's bias and routing weight, lane 0 the row of x the sum is added to.
struct MoeDownOperands {
    float bias = 0.0f, weight = 0.0f, x = 0.0f;
    __device__ __forceinline__ void load(const MoeDownArgs& a, uint32_t t, uint32_t r, uint32_t lane) {
        if (lane < a.n_used) {
            if (a.b_down) bias = a.b_down[uint64_t(uint32_t(a.ids[t * a.n_used + lane])) * a.rows + r];
            weight = a.weights[t * a.n_used + lane];
        }
        if (lane == 0) x = a.x[uint64_t(t) * a.rows + r];
    }
    // moe_down_term for the j-th expert; every lane of the warp calls it.
    __device__ __forceinline__ float add(const MoeDownArgs& a, uint32_t j, float s, float acc) const {
        const float b = __shfl_sync(0xffffffffu, bias, j), w = __shfl_sync(0xffffffffu, weight, j);
        return moe_down_term(a.b_down, s, b, w, j, acc);
    }
};

}  // namespace orcd::cuda
