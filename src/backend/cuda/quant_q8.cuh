// Weight units against 8-bit activations: the batch-1 product of the formats
// whose codes are small integers (matvec_q8.cu). Multiplying each code by an
// F32 x costs a conversion and a multiply per element, which made the F32
// kernels issue-bound at a fraction of the memory bandwidth (a 7B Q4_K_M
// model decoded at ~1 TB/s); against 8-bit x a dp4a instruction does four
// products.
//
// x is cut into 32-element units, each held as 32 signed bytes q and one F32
// step d (XUnit):
//   amax = max |x_i|,  d = amax / 127,  q_i = rint(x_i * (127 / amax))
// (q = 0 where amax is 0), so |x_i - d q_i| <= d / 2. A weight unit with
// element value s * (code + offset) + m then gives
//   d * (s * (sum code_i q_i + offset * sum q_i) + m * sum q_i),
// the integer sums exact in int32. Against the exact F32 product the error
// of a row is at most sum_i |w_i| d_unit(i) / 2 plus F32 rounding: the bound
// the tests state. A non-finite x makes amax, and so the unit's products,
// non-finite.
//
// Each format's struct reads a lane's step of a row (Load, all rows of a
// warp before their arithmetic; from global memory, or from the shared
// memory the dense product streams its rows through) and forms the step's
// dot with the staged x (Dot); kUnroll steps of a lane load together where
// the step's registers allow it without spilling. A step is one 32-element
// unit, or two sub-blocks that share their code bytes (Q4_K, Q5_K, Q6_K),
// so each byte is loaded once.
#pragma once

#include "backend/cuda/norm.cuh"
#include "backend/cuda/quant_blocks.cuh"

#include <cstdint>

namespace orcd::cuda::quant {

// A unit of x in shared memory: 48 bytes, so that 8 lanes reading 8
// consecutive units with 16-byte loads hit distinct banks.
struct alignas(16) XUnit {
    uint32_t q[8];   // the 32 signed bytes (in element order, or paired: round_x)
    float d;         // the step
    int32_t sum;     // sum of the 32 q
    int32_t sum_lo;  // sum of q[0..15] (Q6_K's two scales per unit)
    int32_t pad;
};

// One pass of round_x for one lane: its 4 elements v (lane g of the team of
// unit u) rounded with the team's amax and stored; the whole warp takes part
// (shuffles), in or not.
template <bool kPaired>
__device__ __forceinline__ void round_team(XUnit* xs, uint32_t u, bool in, uint32_t g, float4 v) {
    // max |x| as unsigned bits: NaN above infinity above every finite value.
    uint32_t amax = max(max(__float_as_uint(fabsf(v.x)), __float_as_uint(fabsf(v.y))),
                        max(__float_as_uint(fabsf(v.z)), __float_as_uint(fabsf(v.w))));
#pragma unroll
    for (int o = 1; o < 8; o <<= 1) amax = max(amax, __shfl_xor_sync(0xffffffffu, amax, o));
    const float a = __uint_as_float(amax);
    const float inv = a > 0.0f ? 127.0f / a : 0.0f;
    const int q0 = __float2int_rn(v.x * inv), q1 = __float2int_rn(v.y * inv);
    const int q2 = __float2int_rn(v.z * inv), q3 = __float2int_rn(v.w * inv);
    int half = q0 + q1 + q2 + q3;
    half += __shfl_xor_sync(0xffffffffu, half, 1);
    half += __shfl_xor_sync(0xffffffffu, half, 2);  // lanes 0-3 of the team: elements 0-15
    const int sum = half + __shfl_xor_sync(0xffffffffu, half, 4);
    uint32_t word = uint32_t(q0 & 0xFF) | uint32_t(q1 & 0xFF) << 8 | uint32_t(q2 & 0xFF) << 16 | uint32_t(q3) << 24;
    if (kPaired) {
        // Lane g < 4 holds elements 4g..4g+3, lane g + 4 the same plus 16:
        // g takes bytes 0, 1 of both, g + 4 bytes 2, 3.
        const uint32_t other = __shfl_xor_sync(0xffffffffu, word, 4);
        word = __byte_perm(word, other, g < 4 ? 0x5140u : 0x3726u);
    }
    if (!in) return;
    xs[u].q[g] = word;
    if (g == 0) {
        xs[u].d = a / 127.0f;
        xs[u].sum = sum;
        xs[u].sum_lo = half;
    }
}

// A unit's 32 bytes from element order to round_x's paired order (kPaired
// above): word k < 4 takes bytes 0, 1 of words k and k + 4, word 4 + k their
// bytes 2, 3, interleaved. For units rounded elsewhere in element order
// (the expert activations, matvec_q8.cu).
__device__ __forceinline__ void pair_words(uint32_t (&q)[8]) {
#pragma unroll
    for (int k = 0; k < 4; ++k) {
        const uint32_t lo = __byte_perm(q[k], q[k + 4], 0x5140u), hi = __byte_perm(q[k], q[k + 4], 0x7362u);
        q[k] = lo;
        q[k + 4] = hi;
    }
}

// round_x's default loads_issued(): nothing.
struct NothingMore {
    __device__ __forceinline__ void operator()() const {}
};

// xs[u] = unit u of x rounded to 8 bits (as above), for the whole block.
// A team of 8 lanes per unit; the loop runs whole warps (shuffles). With
// norm_w, the unit rounded is that of x[i] * scale * norm_w[i] (an RMSNorm
// applied on the way, norm.cuh); x and norm_w 16-byte aligned.
//
// kPaired stores the bytes in the order of the nibbles of a 4-bit unit's
// code words (TableQ): word k < 4 holds elements 4k, 4k + 16, 4k + 1,
// 4k + 17 and word 4 + k elements 4k + 2, 4k + 18, 4k + 3, 4k + 19, so a
// code word's low and high halves are each a byte-permutation selector
// whose values line up with one word of x. The sums stay those of the
// elements in order.
//
// The loads of kBatch passes are issued together before any is
// rounded: x was written by the previous kernel and sits in L2, and a chain
// of passes each waiting for its own loads made the staging of a wide x the
// longest part of a small product (a decode step's timeline on an H200:
// 4.7 us of Qwen2.5-0.5B's down product, 4864 columns staged by 4 warps in
// ten passes; bench/NOTES.md 28).
//
// loads_issued() runs once in every thread, after the warp's first batch of
// loads has been issued (or at the end when the warp stages nothing): the
// dense products ask for their weights there, behind x (matvec_q8.cu).
template <bool kPaired = false, class F = NothingMore>
__device__ __forceinline__ void round_x(XUnit* xs, const float* x, uint32_t n_units, const float* norm_w = nullptr,
                                        float scale = 1.0f, const F& loads_issued = F{}) {
    constexpr uint32_t kBatch = 4;
    bool issued = false;  // the same in the whole warp
    const uint32_t lane = threadIdx.x & 31, g = lane & 7;
    const uint32_t per_pass = blockDim.x / 8;
    const float4* x4 = reinterpret_cast<const float4*>(x);
    const float4* w4 = reinterpret_cast<const float4*>(norm_w);
    for (uint32_t base = (threadIdx.x >> 5) * 4; base < n_units; base += per_pass * kBatch) {
        float4 v[kBatch];
#pragma unroll
        for (uint32_t k = 0; k < kBatch; ++k) {
            const uint32_t u = base + k * per_pass + lane / 8;
            v[k] = u < n_units ? x4[8 * u + g] : make_float4(0, 0, 0, 0);
        }
        if (!issued) {
            loads_issued();
            issued = true;
        }
        if (norm_w)
#pragma unroll
            for (uint32_t k = 0; k < kBatch; ++k) {
                const uint32_t u = base + k * per_pass + lane / 8;
                v[k] = scaled(v[k], u < n_units ? w4[8 * u + g] : make_float4(0, 0, 0, 0), scale);
            }
#pragma unroll
        for (uint32_t k = 0; k < kBatch; ++k) {
            const uint32_t b = base + k * per_pass;  // the same in the whole warp
            if (b < n_units) round_team<kPaired>(xs, b + lane / 8, b + lane / 8 < n_units, g, v[k]);
        }
    }
    if (!issued) loads_issued();
}

__device__ __forceinline__ int idot4(uint32_t codes, uint32_t q, int acc) {
    return __dp4a(int(codes), int(q), acc);
}

// The same with unsigned codes up to 255 (the high nibbles of a byte left in
// place, 16 times their value): PTX's mixed-sign dp4a.
__device__ __forceinline__ int udot4(uint32_t codes, uint32_t q, int acc) {
    int out;
    asm("dp4a.u32.s32 %0, %1, %2, %3;" : "=r"(out) : "r"(codes), "r"(q), "r"(acc));
    return out;
}

// sum_k code_k q_k over a unit given as 8 words of byte codes.
__device__ __forceinline__ int idot32(const uint32_t (&c)[8], const XUnit& x) {
    int s = 0;
#pragma unroll
    for (int k = 0; k < 8; ++k) s = idot4(c[k], x.q[k], s);
    return s;
}

// N words starting at p (aligned to 2): aligned 4-byte loads, funnel-shifted
// into place when p is not aligned to 4. Then the first load starts 2 bytes
// before p and the last is a 2-byte load ending at p + 4N: callers read
// fields that never start a tensor (the bytes before are the block's own or
// the previous row's) and never end one.
template <int N>
__device__ __forceinline__ void words_a2(const uint8_t* p, uint32_t (&out)[N]) {
    const uint32_t off = uint32_t(reinterpret_cast<uintptr_t>(p)) & 2u;
    const uint32_t* w = reinterpret_cast<const uint32_t*>(p - off);
    uint32_t v[N + 1];
#pragma unroll
    for (int k = 0; k < N; ++k) v[k] = w[k];
    v[N] = off ? uint32_t(*reinterpret_cast<const uint16_t*>(w + N)) : 0u;
#pragma unroll
    for (int k = 0; k < N; ++k) out[k] = __funnelshift_r(v[k], v[k + 1], 8 * off);
}

// Spreads the 4 low bits of h to bit 0 of each byte.
__device__ __forceinline__ uint32_t spread4(uint32_t h) { return ((h & 0xF) * 0x00204081u) & 0x01010101u; }

// Codes of a 32-element unit from 16 nibble bytes (low nibbles: elements
// 0-15), with 5th bits from qh (bit j: element j) when kHigh.
template <bool kHigh>
__device__ __forceinline__ void legacy_codes(const uint32_t (&qs)[4], uint32_t qh, uint32_t (&c)[8]) {
#pragma unroll
    for (int k = 0; k < 4; ++k) {
        c[k] = qs[k] & 0x0F0F0F0Fu;
        c[4 + k] = (qs[k] >> 4) & 0x0F0F0F0Fu;
        if (kHigh) {
            c[k] |= spread4(qh >> (4 * k)) << 4;
            c[4 + k] |= spread4(qh >> (16 + 4 * k)) << 4;
        }
    }
}

// ---- 32-element blocks, one unit a step ----------------------------------------

// Q4_0 (18 bytes: d, qs) and Q5_0 (22: d, qh, qs): d (code + offset).
template <bool kHigh>
struct Legacy0Q {
    static constexpr uint32_t kBytes = kHigh ? 22 : 18, kUnits = 1, kUnroll = 2;
    static constexpr bool kPairedX = false;
    struct Raw {
        uint32_t w[kHigh ? 5 : 4];  // [qh,] qs
        float d;
    };
    __device__ static Raw load(const uint8_t* row, uint32_t s) {
        const uint8_t* b = row + s * kBytes;
        Raw r;
        words_a2(b + 2, r.w);
        r.d = f16_a2(b);
        return r;
    }
    __device__ static float dot(const Raw& r, const XUnit* xs, uint32_t s) {
        const XUnit& x = xs[s];
        const uint32_t qs[4] = {r.w[kHigh], r.w[kHigh + 1], r.w[kHigh + 2], r.w[kHigh + 3]};
        uint32_t c[8];
        legacy_codes<kHigh>(qs, kHigh ? r.w[0] : 0u, c);
        constexpr int kOffset = kHigh ? -16 : -8;
        return r.d * x.d * float(idot32(c, x) + kOffset * x.sum);
    }
};
using Q4_0Q = Legacy0Q<false>;
using Q5_0Q = Legacy0Q<true>;

// Q4_1 (20 bytes: d, m, qs) and Q5_1 (24: d, m, qh, qs): d code + m; both
// aligned to 4.
template <bool kHigh>
struct Legacy1Q {
    static constexpr uint32_t kBytes = kHigh ? 24 : 20, kUnits = 1, kUnroll = 2;
    static constexpr bool kPairedX = false;
    struct Raw {
        uint32_t dm, qh, qs[4];
    };
    __device__ static Raw load(const uint8_t* row, uint32_t s) {
        const uint32_t* b = reinterpret_cast<const uint32_t*>(row + s * kBytes);
        Raw r;
        r.dm = b[0];
        r.qh = kHigh ? b[1] : 0u;
#pragma unroll
        for (int k = 0; k < 4; ++k) r.qs[k] = b[(kHigh ? 2 : 1) + k];
        return r;
    }
    __device__ static float dot(const Raw& r, const XUnit* xs, uint32_t s) {
        const XUnit& x = xs[s];
        uint32_t c[8];
        legacy_codes<kHigh>(r.qs, r.qh, c);
        const float d = __half2float(__ushort_as_half(uint16_t(r.dm)));
        const float m = __half2float(__ushort_as_half(uint16_t(r.dm >> 16)));
        return x.d * (d * float(idot32(c, x)) + m * float(x.sum));
    }
};
using Q4_1Q = Legacy1Q<false>;
using Q5_1Q = Legacy1Q<true>;

// Q8_0 (34 bytes: d, 32 signed bytes).
struct Q8_0Q {
    static constexpr uint32_t kUnits = 1, kUnroll = 1;
    static constexpr bool kPairedX = false;
    struct Raw {
        uint32_t qs[8];
        float d;
    };
    __device__ static Raw load(const uint8_t* row, uint32_t s) {
        const uint8_t* b = row + s * 34;
        Raw r;
        words_a2(b + 2, r.qs);
        r.d = f16_a2(b);
        return r;
    }
    __device__ static float dot(const Raw& r, const XUnit* xs, uint32_t s) {
        return r.d * xs[s].d * float(idot32(r.qs, xs[s]));
    }
};

// The 16 code bytes and the scale of an MXFP4 unit (IQ4_NL units are laid
// out as Q4_0's).
struct MXFP4Load {
    struct Raw {
        uint32_t w[4];
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
        for (int k = 0; k < 4; ++k) r.w[k] = __funnelshift_r(v[k], v[k + 1], 8 * off);
        r.d = e8m0_half(off > 0 ? (v[0] >> (8 * (off - 1))) & 0xffu : uint32_t(b[0]));
        return r;
    }
};

// Code-book formats: IQ4_NL (18 bytes: d, 16 code bytes; values up to
// +-127) and MXFP4 (17 bytes: E8M0 scale, 16 code bytes; twice the E2M1
// values): a code book of 16 signed bytes, 4 per word, against x staged in
// paired order (round_x). Each half of a code word is 4 codes in the
// nibbles a byte permutation selects by: two permutations give their
// values from codes 0-7 and from codes 8-15 (bit 3 masked), a third picks
// each byte from one or the other by bit 3. Six integer instructions for 4
// codes; forming the selectors from codes spread over bytes took about
// twice that (GPT-OSS-20B decode 431 -> 453 tok/s on the H200, its expert
// products being short of memory bandwidth on this arithmetic). MXFP4, a
// code book of sign and magnitude, now takes SignMagnitudeQ below.
template <class U, uint32_t kT0, uint32_t kT1, uint32_t kT2, uint32_t kT3>
struct TableQ {
    static constexpr uint32_t kUnits = 1, kUnroll = 2;
    static constexpr bool kPairedX = true;
    using Raw = typename U::Raw;
    __device__ static Raw load(const uint8_t* row, uint32_t s) { return U::load(row, s); }
    // The values of the 4 codes in nibbles 0-3 of c.
    __device__ static uint32_t values(uint32_t c) {
        const uint32_t idx = c & 0x7777u;
        const uint32_t lo = __byte_perm(kT0, kT1, idx), hi = __byte_perm(kT2, kT3, idx);
        return __byte_perm(lo, hi, ((c >> 1) & 0x4444u) | 0x3210u);
    }
    __device__ static float dot(const Raw& r, const XUnit* xs, uint32_t s) {
        const XUnit& x = xs[s];
        int acc = 0;
#pragma unroll
        for (int k = 0; k < 4; ++k) {
            acc = idot4(values(r.w[k]), x.q[k], acc);
            acc = idot4(values(r.w[k] >> 16), x.q[4 + k], acc);
        }
        return r.d * x.d * float(acc);
    }
};
// kIq4Values of quant_blocks.cuh as signed bytes.
using IQ4_NLQ = TableQ<Q4_0Q, 0xBFAD9881u, 0xF6EADDCFu, 0x26190D01u, 0x71594535u>;

// A code book of sign and magnitude (MXFP4: bit 3 of a code is its sign,
// bits 0-2 pick one of 8 magnitudes, all below 128). In prmt's default
// mode a selector nibble with bit 3 set gives the selected byte's sign,
// here 0: the codes as selectors give the magnitudes of the positive codes
// (0 for the negative ones), the codes with bit 3 flipped those of the
// negative codes, and the dot is the first dot minus the second, the same
// integer as the signed values' dot (the sums, so the results, are
// TableQ's). A word of 8 codes takes one xor, two shifts, four
// permutations and four 4-way dots, against TableQ's twelve instructions,
// two dots and the tables' words reloaded into registers. Measured on the
// H200 (bench/NOTES.md 19): the expert products were bound by instruction
// issue (~137 instructions a row's 32-code block in the loop, 47-54% of
// issue slots busy); GPT-OSS-20B decode 502 -> 528 tok/s, gate/up 24.6 ->
// 22.6 us and down 19.2 -> 17.3 us a layer.
// prmt through PTX: __byte_perm's documentation promises the 3-bit
// selectors only, not the sign mode.
__device__ __forceinline__ uint32_t prmt(uint32_t a, uint32_t b, uint32_t sel) {
    uint32_t r;
    asm("prmt.b32 %0, %1, %2, %3;" : "=r"(r) : "r"(a), "r"(b), "r"(sel));
    return r;
}

template <class U, uint32_t kM0, uint32_t kM1>
struct SignMagnitudeQ {
    static constexpr uint32_t kUnits = 1, kUnroll = 2;
    static constexpr bool kPairedX = true;
    using Raw = typename U::Raw;
    __device__ static Raw load(const uint8_t* row, uint32_t s) { return U::load(row, s); }
    __device__ static float dot(const Raw& r, const XUnit* xs, uint32_t s) {
        const XUnit& x = xs[s];
        int pos = 0, neg = 0;
#pragma unroll
        for (int k = 0; k < 4; ++k) {
            const uint32_t c = r.w[k], f = c ^ 0x88888888u;
            pos = idot4(prmt(kM0, kM1, c), x.q[k], pos);
            neg = idot4(prmt(kM0, kM1, f), x.q[k], neg);
            pos = idot4(prmt(kM0, kM1, c >> 16), x.q[4 + k], pos);
            neg = idot4(prmt(kM0, kM1, f >> 16), x.q[4 + k], neg);
        }
        return r.d * x.d * float(pos - neg);
    }
};
// kMxfp4Values of quant_blocks.cuh: the magnitudes, doubled (0 0.5 1 1.5 2 3 4 6).
using MXFP4Q = SignMagnitudeQ<MXFP4Load, 0x03020100u, 0x0C080604u>;

// An MXFP4 unit of an expert row regrouped at load (MXFP4G): one aligned
// 16-byte load of codes, one byte of scale.
struct MXFP4GLoad {
    using Raw = MXFP4Load::Raw;
    __device__ static Raw load(const uint8_t* row, uint32_t u) {
        const uint4 c = *reinterpret_cast<const uint4*>(row + MXFP4G::codes_at(u));
        return Raw{{c.x, c.y, c.z, c.w}, e8m0_half(row[MXFP4G::scale_at(u)])};
    }
};
using MXFP4GQ = SignMagnitudeQ<MXFP4GLoad, 0x03020100u, 0x0C080604u>;

// ---- 256-element super-blocks, two sub-blocks a step -----------------------------

// Q4_K (144 bytes: d, dmin, 12 scale bytes, 128 code bytes) and Q5_K (176:
// the same head, 32 bytes of 5th bits, then the codes). Step s is chunk
// s % 4 of super-block s / 4: sub-blocks 2c (low nibbles) and 2c + 1 (high).
template <bool kHigh>
struct K45Q {
    static constexpr uint32_t kBytes = kHigh ? 176 : 144, kUnits = 2, kUnroll = 1;
    static constexpr bool kPairedX = false;
    struct Raw {
        uint4 head;   // d, dmin, scale words
        uint4 qs[2];  // the chunk's 32 code bytes
        uint4 qh[kHigh ? 2 : 1];  // Q5_K's 5th bits (unused by Q4_K)
        uint32_t c;   // the chunk
    };
    __device__ static Raw load(const uint8_t* row, uint32_t s) {
        const uint8_t* b = row + (s / 4) * kBytes;
        Raw r;
        r.c = s % 4;
        r.head = *reinterpret_cast<const uint4*>(b);
        const uint4* q = reinterpret_cast<const uint4*>(b + (kHigh ? 48 : 16) + 32 * r.c);
        r.qs[0] = q[0];
        r.qs[1] = q[1];
        if constexpr (kHigh) {
            r.qh[0] = reinterpret_cast<const uint4*>(b + 16)[0];
            r.qh[1] = reinterpret_cast<const uint4*>(b + 16)[1];
        }
        return r;
    }
    // The 6-bit scales and mins of the step's two sub-blocks 2c and 2c + 1
    // (scale_min_k4 for both at once, without a branch): bytes 2(c % 2) and
    // 2(c % 2) + 1 of the scale words, from the low 6 bits (c < 2) or from
    // the high words' nibbles and the top 2 bits of the low ones.
    __device__ static void scales(const Raw& r, uint32_t& sc2, uint32_t& m2) {
        const uint32_t sh = 16 * (r.c & 1);
        const uint32_t a = r.head.y >> sh, b = r.head.z >> sh, c = r.head.w >> sh;
        const bool high = r.c >= 2;
        sc2 = high ? (c & 0x0F0Fu) | ((a >> 2) & 0x3030u) : a & 0x3F3Fu;
        m2 = high ? ((c >> 4) & 0x0F0Fu) | ((b >> 2) & 0x3030u) : b & 0x3F3Fu;
    }
    __device__ static float dot(const Raw& r, const XUnit* xs, uint32_t s) {
        const uint32_t w[8] = {r.qs[0].x, r.qs[0].y, r.qs[0].z, r.qs[0].w, r.qs[1].x, r.qs[1].y, r.qs[1].z, r.qs[1].w};
        const XUnit &x0 = xs[2 * s], &x1 = xs[2 * s + 1];
        // Low nibbles: sub-block 2c; high nibbles: 2c + 1, left in place (16
        // times the code) where there is no 5th bit to add.
        int lo = 0, hi = 0;
#pragma unroll
        for (int k = 0; k < 8; ++k) {
            if constexpr (kHigh) {
                const uint4& q = r.qh[k / 4];
                const uint32_t h = k % 4 == 0 ? q.x : k % 4 == 1 ? q.y : k % 4 == 2 ? q.z : q.w;
                const uint32_t cl = (w[k] & 0x0F0F0F0Fu) | ((h >> (2 * r.c)) & 0x01010101u) << 4;
                const uint32_t ch = ((w[k] >> 4) & 0x0F0F0F0Fu) | ((h >> (2 * r.c + 1)) & 0x01010101u) << 4;
                lo = idot4(cl, x0.q[k], lo);
                hi = idot4(ch, x1.q[k], hi);
            } else {
                lo = idot4(w[k] & 0x0F0F0F0Fu, x0.q[k], lo);
                hi = udot4(w[k] & 0xF0F0F0F0u, x1.q[k], hi);
            }
        }
        if constexpr (!kHigh) hi /= 16;  // exact: every term is a multiple of 16
        uint32_t sc2, m2;
        scales(r, sc2, m2);
        const float d = __half2float(__ushort_as_half(uint16_t(r.head.x)));
        const float dmin = __half2float(__ushort_as_half(uint16_t(r.head.x >> 16)));
        const int s0 = int(sc2 & 0xFF) * lo, s1 = int(sc2 >> 8) * hi;
        const int n0 = int(m2 & 0xFF) * x0.sum, n1 = int(m2 >> 8) * x1.sum;
        return d * (x0.d * float(s0) + x1.d * float(s1)) - dmin * (x0.d * float(n0) + x1.d * float(n1));
    }
};
using Q4_KQ = K45Q<false>;
using Q5_KQ = K45Q<true>;

// Q6_K (210 bytes: ql[128], qh[64], 16 signed scales, d; aligned to 2).
// Units 4n + r and 4n + r + 2 of a super-block take the low and high
// nibbles of the same 32 ql bytes and bits 2r and 2r + 4 of the same 32 qh
// bytes: step s is that pair, n = (s % 4) / 2, r = s % 2. Each unit's two
// 16-element halves have their own scale; codes are q + 32.
struct Q6_KQ {
    static constexpr uint32_t kUnits = 2, kUnroll = 1;
    static constexpr bool kPairedX = false;
    struct Raw {
        uint32_t ql[8], qh[8];
        uint32_t sc[2];  // bytes 0-1: the first unit's half scales; 4-5: the second's
        float d;
        uint32_t pair;
    };
    __device__ static Raw load(const uint8_t* row, uint32_t s) {
        const uint8_t* b = row + (s / 4) * 210;
        const uint32_t pair = s % 4, n = pair / 2, r = pair % 2;
        Raw out;
        out.pair = pair;
        words_a2(b + 64 * n + 32 * r, out.ql);
        words_a2(b + 128 + 32 * n, out.qh);
        words_a2(b + 192 + 8 * n + 2 * r, out.sc);
        out.d = f16_a2(b + 208);
        return out;
    }
    __device__ static float dot(const Raw& r, const XUnit* xs, uint32_t s) {
        const uint32_t rr = r.pair % 2, first = 8 * (s / 4) + 4 * (r.pair / 2) + rr;
        float out = 0.0f;
#pragma unroll
        for (int i = 0; i < 2; ++i) {  // units first and first + 2
            const XUnit& x = xs[first + 2 * uint32_t(i)];
            int h[2] = {0, 0};
#pragma unroll
            for (int k = 0; k < 8; ++k) {
                const uint32_t c = ((r.ql[k] >> (4 * i)) & 0x0F0F0F0Fu) | ((r.qh[k] >> (2 * rr + 4 * i)) & 0x03030303u) << 4;
                h[k / 4] = idot4(c, x.q[k], h[k / 4]);
            }
            const int sc0 = int8_t(r.sc[i] & 0xFF), sc1 = int8_t((r.sc[i] >> 8) & 0xFF);
            const int v = sc0 * (h[0] - 32 * x.sum_lo) + sc1 * (h[1] - 32 * (x.sum - x.sum_lo));
            out += x.d * float(v);
        }
        return r.d * out;
    }
};

}  // namespace orcd::cuda::quant
