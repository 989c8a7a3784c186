// Which segment of a MatvecArgs (matvec_launch.h) a block or tile works on,
// for every matvec kernel. Every field of the three segments is loaded at a
// constant offset into a register, then chosen with selects. Left to itself
// the compiler turns "select one of three loaded values" into "load from one
// of three parameter addresses", so each block began with a chain of
// dependent parameter loads (compare, address, load, compare, ...) before its
// first weight load; the blocks of a decode matvec live for a few
// microseconds, so the chain is a visible share of their time. The empty asm
// makes each value exist in a register, which rules that rewrite out.
#pragma once

#include "backend/cuda/matvec_launch.h"
#include "backend/cuda/pointwise.cuh"

#include <cstdint>

namespace orcd::cuda {

namespace segment_detail {
__device__ __forceinline__ uint64_t in_reg(uint64_t v) {
    asm volatile("" : "+l"(v));
    return v;
}
__device__ __forceinline__ uint32_t in_reg(uint32_t v) {
    asm volatile("" : "+r"(v));
    return v;
}
template <typename T>
__device__ __forceinline__ T* in_reg(T* p) {
    return reinterpret_cast<T*>(in_reg(reinterpret_cast<uint64_t>(p)));
}
template <typename T>
__device__ __forceinline__ T pick(bool in1, bool in2, T v0, T v1, T v2) {
    const T r0 = in_reg(v0), r1 = in_reg(v1), r2 = in_reg(v2);
    return in2 ? r2 : in1 ? r1 : r0;
}
}  // namespace segment_detail

__device__ __forceinline__ MatvecSegment segment_of(const MatvecArgs& a, uint32_t block) {
    using segment_detail::in_reg;
    using segment_detail::pick;
    const bool in1 = block >= in_reg(a.seg[1].block_begin), in2 = block >= in_reg(a.seg[2].block_begin);
    MatvecSegment g;
    g.w = pick(in1, in2, a.seg[0].w, a.seg[1].w, a.seg[2].w);
    g.y = pick(in1, in2, a.seg[0].y, a.seg[1].y, a.seg[2].y);
    g.bias = pick(in1, in2, a.seg[0].bias, a.seg[1].bias, a.seg[2].bias);
    g.rows = pick(in1, in2, a.seg[0].rows, a.seg[1].rows, a.seg[2].rows);
    g.block_begin = pick(in1, in2, a.seg[0].block_begin, a.seg[1].block_begin, a.seg[2].block_begin);
    return g;
}

// The finish of a warp's rows r0 .. r0 + kOut - 1 of a segment, by one lane:
// acc[o] is row r0 + o's product (SwiGlu: acc[o] the gate's, acc[o + kOut]
// the up row's). The bias is added to the finished product, as
// cpu::add_bias does, then the epilogue; rows past the segment are dropped.
// The operands besides the sums come from `in`: in.bias(o, r) (called only
// with seg.bias), in.bias_up(o, r) (only with a.bias_up), in.y(o, r) (Add:
// the row the product is added to).
template <Epilogue kEpi, int kOut, int kR, class In>
__device__ __forceinline__ void finish_rows(const MatvecArgs& a, const MatvecSegment& seg, uint32_t r0,
                                            const float (&acc)[kR], const In& in) {
#pragma unroll
    for (int o = 0; o < kOut; ++o) {
        const uint32_t r = r0 + uint32_t(o);
        if (r >= seg.rows) break;
        float s = acc[o];
        if (seg.bias) s += in.bias(o, r);
        if constexpr (kEpi == Epilogue::SwiGlu) {
            float us = acc[o + kOut];
            if (a.bias_up) us += in.bias_up(o, r);
            seg.y[r] = a.act == GateAct::Silu ? silu_mul(s, us) : swiglu_oai_mul(s, us);
        } else if constexpr (kEpi == Epilogue::Add) {
            seg.y[r] = in.y(o, r) + s;
        } else {
            seg.y[r] = s;
        }
    }
}

// finish_rows' operands read from memory as they are needed.
struct RowOperands {
    const MatvecArgs& a;
    const MatvecSegment& seg;
    __device__ __forceinline__ float bias(int, uint32_t r) const { return seg.bias[r]; }
    __device__ __forceinline__ float bias_up(int, uint32_t r) const { return a.bias_up[r]; }
    __device__ __forceinline__ float y(int, uint32_t r) const { return seg.y[r]; }
};

template <Epilogue kEpi, int kOut, int kR>
__device__ __forceinline__ void store_rows(const MatvecArgs& a, const MatvecSegment& seg, uint32_t r0,
                                           const float (&acc)[kR]) {
    finish_rows<kEpi, kOut>(a, seg, r0, acc, RowOperands{a, seg});
}

// finish_rows' operands (the biases, and the rows an Add adds to) loaded
// beforehand by load(), by the lane that stores: a warp asks for them as it
// starts its rows, so their latency passes under the products instead of
// following them (the finish of a small product's rows waited for these
// loads, one row after the other: bench/NOTES.md 28).
template <Epilogue kEpi, int kOut>
struct RowFinish {
    float bias_[kOut], bias_up_[kOut], y_[kOut];

    __device__ __forceinline__ void load(const MatvecArgs& a, const MatvecSegment& seg, uint32_t r0) {
#pragma unroll
        for (int o = 0; o < kOut; ++o) {
            const uint32_t r = min(r0 + uint32_t(o), seg.rows - 1);  // past the segment: dropped at the store
            bias_[o] = seg.bias ? seg.bias[r] : 0.0f;
            if constexpr (kEpi == Epilogue::SwiGlu) bias_up_[o] = a.bias_up ? a.bias_up[r] : 0.0f;
            if constexpr (kEpi == Epilogue::Add) y_[o] = seg.y[r];
        }
    }
    __device__ __forceinline__ float bias(int o, uint32_t) const { return bias_[o]; }
    __device__ __forceinline__ float bias_up(int o, uint32_t) const { return bias_up_[o]; }
    __device__ __forceinline__ float y(int o, uint32_t) const { return y_[o]; }

    template <int kR>
    __device__ __forceinline__ void store(const MatvecArgs& a, const MatvecSegment& seg, uint32_t r0,
                                          const float (&acc)[kR]) const {
        finish_rows<kEpi, kOut>(a, seg, r0, acc, *this);
    }
};

}  // namespace orcd::cuda
