// Whole 32-element units of the block formats, for the batch-1 product
// (matvec_quant.cu): a lane loads a unit's bytes with as few loads as the
// block's alignment allows (Load), then forms scale * (sum(code * x) +
// offset * sum(x)) + bias * sum(x) against the unit's x held in registers
// (Dot). Loading and arithmetic are separate so that a warp starts the loads
// of all its rows before the first multiply. Values are those of
// quant_blocks.cuh (and so of the CPU reference); only the summation order
// differs.
#pragma once

#include "backend/cuda/quant_blocks.cuh"

#include <cuda_fp16.h>

#include <cstdint>

namespace orcd::cuda::quant {

// The 4 bytes of `n` (each below 2^8) as exact floats: the byte placed in the
// mantissa of 2^23 by one byte permutation, then 2^23 taken away.
__device__ __forceinline__ void bytes_f(uint32_t n, float* out) {
#pragma unroll
    for (int k = 0; k < 4; ++k) out[k] = __int_as_float(__byte_perm(n, 0x4B000000u, 0x7540u + k)) - 8388608.0f;
}

// sum_k code_k * x[k] for the 4 byte codes of n.
__device__ __forceinline__ float dot4(uint32_t n, const float* x) {
    float c[4];
    bytes_f(n, c);
    float s = c[0] * x[0];
    s += c[1] * x[1];
    s += c[2] * x[2];
    s += c[3] * x[3];
    return s;
}

// Spreads the 4 low bits of h to bit 0 of each byte.
__device__ __forceinline__ uint32_t spread4(uint32_t h) { return ((h & 0xF) * 0x00204081u) & 0x01010101u; }

__device__ __forceinline__ uint16_t ld16(const uint8_t* p) { return *reinterpret_cast<const uint16_t*>(p); }

// ---- 32-element blocks: element j of qs byte j % 16 (low nibble: j < 16).

template <uint32_t kBytes, uint32_t kQsOff, bool kHasMin, bool kHasHigh>
struct Legacy4 {
    struct Raw {
        uint32_t qs[4];
        uint32_t qh;
        float d, m;
    };
    __device__ static Raw load(const uint8_t* row, uint32_t u) {
        const uint8_t* b = row + u * kBytes;
        Raw r;
#pragma unroll
        for (int k = 0; k < 4; ++k) r.qs[k] = u32_a2(b + kQsOff + 4 * k);
        r.d = f16_a2(b);
        r.m = kHasMin ? f16_a2(b + 2) : 0.0f;
        r.qh = kHasHigh ? u32_a2(b + (kHasMin ? 4 : 2)) : 0u;
        return r;
    }
    __device__ static float dot(const Raw& r, const float* x, float sx) {
        float s = 0.0f;
#pragma unroll
        for (int half = 0; half < 2; ++half) {
#pragma unroll
            for (int k = 0; k < 4; ++k) {
                uint32_t n = (r.qs[k] >> (4 * half)) & 0x0F0F0F0Fu;
                if (kHasHigh) n |= spread4(r.qh >> (16 * half + 4 * k)) << 4;
                s += dot4(n, x + 16 * half + 4 * k);
            }
        }
        // Q4_0: d (q - 8); Q5_0: d (q - 16); Q4_1/Q5_1: d q + m.
        constexpr float kOffset = kHasMin ? 0.0f : (kHasHigh ? -16.0f : -8.0f);
        return r.d * (s + kOffset * sx) + r.m * sx;
    }
};
using Q4_0U = Legacy4<18, 2, false, false>;
using Q4_1U = Legacy4<20, 4, true, false>;
using Q5_0U = Legacy4<22, 6, false, true>;
using Q5_1U = Legacy4<24, 8, true, true>;

struct Q8_0U {
    struct Raw {
        uint32_t qs[8];
        float d;
    };
    __device__ static Raw load(const uint8_t* row, uint32_t u) {
        const uint8_t* b = row + u * 34;
        Raw r;
#pragma unroll
        for (int k = 0; k < 8; ++k) r.qs[k] = u32_a2(b + 2 + 4 * k);
        r.d = f16_a2(b);
        return r;
    }
    __device__ static float dot(const Raw& r, const float* x, float sx) {
        float s = 0.0f;
#pragma unroll
        for (int k = 0; k < 8; ++k) s += dot4(r.qs[k] ^ 0x80808080u, x + 4 * k);  // q + 128
        return r.d * (s - 128.0f * sx);
    }
};

// Code books (shared memory, filled by the kernel): a lane's lookups hit
// distinct banks or broadcast.
struct TableUnit {
    __device__ static float dot16(const float* table, uint32_t w, int shift, const float* x) {
        float s = 0.0f;
#pragma unroll
        for (int k = 0; k < 4; ++k) s += table[(w >> (shift + 8 * k)) & 15] * x[k];
        return s;
    }
    // A unit of 16 code bytes: low nibbles are elements 0-15, high 16-31.
    __device__ static float dot32(const float* table, const uint32_t (&qs)[4], const float* x) {
        float s = 0.0f;
#pragma unroll
        for (int half = 0; half < 2; ++half)
#pragma unroll
            for (int k = 0; k < 4; ++k) s += dot16(table, qs[k], 4 * half, x + 16 * half + 4 * k);
        return s;
    }
};

struct IQ4_NLU {
    static constexpr int kTable = 0;
    struct Raw {
        uint32_t qs[4];
        float d;
    };
    __device__ static Raw load(const uint8_t* row, uint32_t u) {
        const uint8_t* b = row + u * 18;
        Raw r;
#pragma unroll
        for (int k = 0; k < 4; ++k) r.qs[k] = u32_a2(b + 2 + 4 * k);
        r.d = f16_a2(b);
        return r;
    }
    __device__ static float dot(const Raw& r, const float* x, float, const float* table) {
        return r.d * TableUnit::dot32(table, r.qs, x);
    }
};

struct MXFP4U {
    static constexpr int kTable = 1;
    struct Raw {
        uint32_t qs[4];
        float d;
    };
    // A 17-byte unit sits at any byte offset: its 16 code bytes come from
    // the four aligned words that start at or before them (funnel-shifted
    // into place) and, when not aligned, the 1-3 bytes left after those,
    // read singly. The words reach at most 3 bytes before the codes, which
    // is this unit's scale byte or the previous unit (never before the
    // row's tensor: tensors are aligned); the scale comes from the first
    // word when it holds it.
    __device__ static Raw load(const uint8_t* row, uint32_t u) {
        const uint8_t* b = row + u * 17;
        const uint8_t* c = b + 1;
        const uint32_t off = uint32_t(reinterpret_cast<uintptr_t>(c) & 3);
        const uint32_t* w = reinterpret_cast<const uint32_t*>(c - off);
        uint32_t v[5];
#pragma unroll
        for (int k = 0; k < 4; ++k) v[k] = w[k];
        const uint8_t* tail = reinterpret_cast<const uint8_t*>(w + 4);
        v[4] = 0;
        if (off > 0) v[4] = tail[0];
        if (off > 1) v[4] |= uint32_t(tail[1]) << 8;
        if (off > 2) v[4] |= uint32_t(tail[2]) << 16;
        Raw r;
#pragma unroll
        for (int k = 0; k < 4; ++k) r.qs[k] = __funnelshift_r(v[k], v[k + 1], 8 * off);
        r.d = e8m0_half(off > 0 ? (v[0] >> (8 * (off - 1))) & 0xffu : uint32_t(b[0]));
        return r;
    }
    __device__ static float dot(const Raw& r, const float* x, float, const float* table) {
        return r.d * TableUnit::dot32(table, r.qs, x);
    }
};

// ---- 256-element super-blocks: unit u is sub-block u % 8 of super-block u / 8.

// Q4_K's and Q5_K's 6-bit scale and min of sub-block j (scale_min_k4) from
// the 12 scale bytes as three words in registers (a byte array indexed by
// the sub-block would live in local memory).
__device__ __forceinline__ void k4_scale_min(const uint32_t (&w)[3], uint32_t j, uint32_t& sc, uint32_t& m) {
    const uint32_t sh = 8 * (j & 3);
    if (j < 4) {
        sc = (w[0] >> sh) & 63;
        m = (w[1] >> sh) & 63;
    } else {
        sc = ((w[2] >> sh) & 15) | ((w[0] >> (sh + 6)) & 3) << 4;
        m = ((w[2] >> (sh + 4)) & 15) | ((w[1] >> (sh + 6)) & 3) << 4;
    }
}

struct Q4_KU {
    struct Raw {
        uint4 qs[2];     // the 32 bytes of the sub-block's chunk
        uint32_t dm;     // d, dmin
        uint32_t sc[3];  // the 12 scale bytes
        uint32_t sub;
    };
    // The sub-block of super-block b whose 4-bit codes start at byte qs_at
    // (Q4_K: 16, Q5_K: 48); d, dmin and the scales lead both layouts.
    __device__ static Raw load_at(const uint8_t* b, uint32_t qs_at, uint32_t sub) {
        Raw r;
        r.sub = sub;
        const uint4* q = reinterpret_cast<const uint4*>(b + qs_at + 32 * (sub / 2));
        r.qs[0] = q[0];
        r.qs[1] = q[1];
        r.dm = *reinterpret_cast<const uint32_t*>(b);
        const uint32_t* s = reinterpret_cast<const uint32_t*>(b + 4);
        r.sc[0] = s[0], r.sc[1] = s[1], r.sc[2] = s[2];
        return r;
    }
    __device__ static Raw load(const uint8_t* row, uint32_t u) { return load_at(row + (u / 8) * 144, 16, u % 8); }
    __device__ static void scale_min(const Raw& r, float& d1, float& m1) {
        uint32_t sc, m;
        k4_scale_min(r.sc, r.sub, sc, m);
        d1 = __half2float(__ushort_as_half(uint16_t(r.dm))) * float(sc);
        m1 = __half2float(__ushort_as_half(uint16_t(r.dm >> 16))) * float(m);
    }
    __device__ static float dot(const Raw& r, const float* x, float sx) {
        const uint32_t w[8] = {r.qs[0].x, r.qs[0].y, r.qs[0].z, r.qs[0].w, r.qs[1].x, r.qs[1].y, r.qs[1].z, r.qs[1].w};
        const int shift = 4 * (r.sub & 1);
        float s = 0.0f;
#pragma unroll
        for (int k = 0; k < 8; ++k) s += dot4((w[k] >> shift) & 0x0F0F0F0Fu, x + 4 * k);
        float d1, m1;
        scale_min(r, d1, m1);
        return d1 * s - m1 * sx;
    }
};

struct Q5_KU {
    struct Raw {
        Q4_KU::Raw base;
        uint4 qh[2];
    };
    __device__ static Raw load(const uint8_t* row, uint32_t u) {
        const uint8_t* b = row + (u / 8) * 176;
        Raw r;
        r.base = Q4_KU::load_at(b, 48, u % 8);
        const uint4* h = reinterpret_cast<const uint4*>(b + 16);
        r.qh[0] = h[0];
        r.qh[1] = h[1];
        return r;
    }
    __device__ static float dot(const Raw& r, const float* x, float sx) {
        const Q4_KU::Raw& q = r.base;
        const uint32_t w[8] = {q.qs[0].x, q.qs[0].y, q.qs[0].z, q.qs[0].w, q.qs[1].x, q.qs[1].y, q.qs[1].z, q.qs[1].w};
        const uint32_t h[8] = {r.qh[0].x, r.qh[0].y, r.qh[0].z, r.qh[0].w, r.qh[1].x, r.qh[1].y, r.qh[1].z, r.qh[1].w};
        const int shift = 4 * (q.sub & 1);
        float s = 0.0f;
#pragma unroll
        for (int k = 0; k < 8; ++k)
            s += dot4(((w[k] >> shift) & 0x0F0F0F0Fu) | ((h[k] >> q.sub) & 0x01010101u) << 4, x + 4 * k);
        float d1, m1;
        Q4_KU::scale_min(q, d1, m1);
        return d1 * s - m1 * sx;
    }
};

struct Q6_KU {
    struct Raw {
        uint32_t ql[8], qh[8];
        uint16_t sc;  // the two scales of the unit's 16-element halves
        float d;
        uint32_t r4;
    };
    __device__ static Raw load(const uint8_t* row, uint32_t u) {
        const uint8_t* b = row + (u / 8) * 210;
        const uint32_t sub = u % 8, n = sub / 4;
        Raw r;
        r.r4 = sub % 4;
        const uint8_t* ql = b + 64 * n + 32 * (r.r4 & 1);
        const uint8_t* qh = b + 128 + 32 * n;
#pragma unroll
        for (int k = 0; k < 8; ++k) {
            r.ql[k] = u32_a2(ql + 4 * k);
            r.qh[k] = u32_a2(qh + 4 * k);
        }
        r.sc = ld16(b + 192 + 8 * n + 2 * r.r4);
        r.d = f16_a2(b + 208);
        return r;
    }
    __device__ static float dot(const Raw& r, const float* x, float) {
        const int lo_shift = 4 * (r.r4 / 2), hi_shift = 2 * r.r4;
        float s[2] = {0.0f, 0.0f};
#pragma unroll
        for (int k = 0; k < 8; ++k) {
            const uint32_t n = ((r.ql[k] >> lo_shift) & 0x0F0F0F0Fu) | ((r.qh[k] >> hi_shift) & 0x03030303u) << 4;
            s[k / 4] += dot4(n, x + 4 * k);
        }
        // Each 16-element half has its own scale; codes are q + 32.
        float sx[2] = {0.0f, 0.0f};
#pragma unroll
        for (int i = 0; i < 32; ++i) sx[i / 16] += x[i];
        const float d0 = r.d * float(int8_t(r.sc & 0xFF)), d1 = r.d * float(int8_t(r.sc >> 8));
        return d0 * (s[0] - 32.0f * sx[0]) + d1 * (s[1] - 32.0f * sx[1]);
    }
};

}  // namespace orcd::cuda::quant
