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

}  // namespace orcd::cuda
