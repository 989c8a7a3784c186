// The GGUF block formats on the device: for each, how 4 consecutive
// elements of a row decode, for the kernels that read weights in their file
// format (matvec_quant.cu: the batch-1 products, F16 decoding for the GEMMs,
// embedding rows). The formulas are those of the CPU reference
// (backend/cpu/cpu_formats.cpp); a row is split into units of 32 elements,
// and a unit into 8 groups of 4 elements (one group per lane of an 8-lane
// team), so that a warp reads x and the weights of 4 units at once.
//
// Each decoder returns the group's 4 codes as floats and the affine map of
// its unit or sub-block: element value = scale * (code + offset) + bias,
// each step rounded as the CPU reference rounds it (value() below gives the
// very bits of cpu_formats). Products are formed as
// scale * (sum(code * x) + offset * sum(x)) + bias * sum(x), which keeps the
// multiplies per element to one.
//
// Blocks are byte-packed (18, 22, 34, 17, 210 bytes...), so fields are read
// with loads no wider than their guaranteed alignment (bytes, or 16-bit
// halves combined), never as wider words.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace orcd::cuda::quant {

struct Group {
    float q[4];           // the codes (or the values, with scale 1)
    float scale;
    float offset = 0.0f;  // added to a code before scaling (exact: small integers)
    float bias = 0.0f;    // added after scaling, by the formats that have one
    bool has_bias = false;
    // Element i's value, rounded step by step as the CPU reference computes
    // it (a format without a bias adds nothing, which keeps negative zeros).
    __device__ float value(int i) const {
        const float v = __fmul_rn(scale, offset != 0.0f ? q[i] + offset : q[i]);
        return has_bias ? __fadd_rn(v, bias) : v;
    }
};

__device__ __forceinline__ float f16_at(const uint8_t* p) {
    const uint16_t lo = p[0], hi = p[1];
    return __half2float(__ushort_as_half(uint16_t(lo | hi << 8)));
}

// A binary16 at an address aligned to 2, in one load.
__device__ __forceinline__ float f16_a2(const uint8_t* p) {
    return __half2float(__ushort_as_half(*reinterpret_cast<const uint16_t*>(p)));
}

// 4 bytes at an address aligned to 2.
__device__ __forceinline__ uint32_t u32_a2(const uint8_t* p) {
    const uint16_t* h = reinterpret_cast<const uint16_t*>(p);
    return uint32_t(h[0]) | uint32_t(h[1]) << 16;
}
// 4 bytes at any address.
__device__ __forceinline__ uint32_t u32_a1(const uint8_t* p) {
    return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

// An unsigned code below 2^23 as a float without a conversion instruction:
// placed in the mantissa of 2^23, then 2^23 taken away (exact).
__device__ __forceinline__ float code_f(uint32_t q) { return __int_as_float(0x4B000000u | q) - 8388608.0f; }

// The 4 nibbles of `w` at bit offset `shift` of each byte (0 or 4).
__device__ __forceinline__ void nibbles(uint32_t w, int shift, float* q) {
    const uint32_t n = (w >> shift) & 0x0F0F0F0Fu;
    q[0] = code_f(n & 0xFF);
    q[1] = code_f((n >> 8) & 0xFF);
    q[2] = code_f((n >> 16) & 0xFF);
    q[3] = code_f(n >> 24);
}

// Legacy 32-element blocks: element j of a block sits in byte j % 16 of qs,
// low nibble for j < 16. Group g covers elements 4g .. 4g+3.
struct Q4_0 {
    static constexpr uint32_t kElems = 32, kBytes = 18;
    __device__ static Group group(const uint8_t* row, uint32_t u, uint32_t g) {
        const uint8_t* b = row + u * kBytes;
        Group r;
        nibbles(u32_a2(b + 2 + 4 * (g & 3)), g < 4 ? 0 : 4, r.q);
        r.scale = f16_at(b);
        r.offset = -8.0f;
        return r;
    }
};

struct Q4_1 {
    static constexpr uint32_t kElems = 32, kBytes = 20;
    __device__ static Group group(const uint8_t* row, uint32_t u, uint32_t g) {
        const uint8_t* b = row + u * kBytes;
        Group r;
        nibbles(u32_a2(b + 4 + 4 * (g & 3)), g < 4 ? 0 : 4, r.q);
        r.scale = f16_at(b);
        r.bias = f16_at(b + 2);
        r.has_bias = true;
        return r;
    }
};

// The 5th bits of elements 4g .. 4g+3 from qh (bit j of qh: element j).
__device__ __forceinline__ void add_high_bits(uint32_t qh, uint32_t g, float* q) {
    const uint32_t bits = qh >> (4 * g);
#pragma unroll
    for (int i = 0; i < 4; ++i) q[i] += float((bits >> i) & 1) * 16.0f;
}

struct Q5_0 {
    static constexpr uint32_t kElems = 32, kBytes = 22;
    __device__ static Group group(const uint8_t* row, uint32_t u, uint32_t g) {
        const uint8_t* b = row + u * kBytes;
        Group r;
        nibbles(u32_a2(b + 6 + 4 * (g & 3)), g < 4 ? 0 : 4, r.q);
        add_high_bits(u32_a2(b + 2), g, r.q);
        r.scale = f16_at(b);
        r.offset = -16.0f;
        return r;
    }
};

struct Q5_1 {
    static constexpr uint32_t kElems = 32, kBytes = 24;
    __device__ static Group group(const uint8_t* row, uint32_t u, uint32_t g) {
        const uint8_t* b = row + u * kBytes;
        Group r;
        nibbles(u32_a2(b + 8 + 4 * (g & 3)), g < 4 ? 0 : 4, r.q);
        add_high_bits(u32_a2(b + 4), g, r.q);
        r.scale = f16_at(b);
        r.bias = f16_at(b + 2);
        r.has_bias = true;
        return r;
    }
};

struct Q8_0 {
    static constexpr uint32_t kElems = 32, kBytes = 34;
    __device__ static Group group(const uint8_t* row, uint32_t u, uint32_t g) {
        const uint8_t* b = row + u * kBytes;
        // Signed bytes, made unsigned by flipping the sign bit (adds 128).
        const uint32_t w = u32_a2(b + 2 + 4 * g) ^ 0x80808080u;
        Group r;
        r.q[0] = code_f(w & 0xFF);
        r.q[1] = code_f((w >> 8) & 0xFF);
        r.q[2] = code_f((w >> 16) & 0xFF);
        r.q[3] = code_f(w >> 24);
        r.scale = f16_at(b);
        r.offset = -128.0f;
        return r;
    }
};

// Code books of IQ4_NL/IQ4_XS and MXFP4 (twice the E2M1 values), in
// constant memory (a local array indexed at run time would live in local
// memory). The hot matvec kernels copy them to shared memory instead.
__constant__ const float kIq4Values[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
__constant__ const float kMxfp4Values[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};
__device__ __forceinline__ float iq4_value(uint32_t c) { return kIq4Values[c]; }
__device__ __forceinline__ float mxfp4_value(uint32_t c) { return kMxfp4Values[c]; }

template <float (*V)(uint32_t)>
__device__ __forceinline__ void table_nibbles(uint32_t w, int shift, float* q) {
    const uint32_t n = (w >> shift) & 0x0F0F0F0Fu;
#pragma unroll
    for (int i = 0; i < 4; ++i) q[i] = V((n >> (8 * i)) & 0xF);
}

struct IQ4_NL {
    static constexpr uint32_t kElems = 32, kBytes = 18;
    __device__ static Group group(const uint8_t* row, uint32_t u, uint32_t g) {
        const uint8_t* b = row + u * kBytes;
        Group r;
        table_nibbles<iq4_value>(u32_a2(b + 2 + 4 * (g & 3)), g < 4 ? 0 : 4, r.q);
        r.scale = f16_at(b);
        return r;
    }
};

// MXFP4's E8M0 scale byte halved (the codes are twice their value):
// 2^(e - 128); e < 2 gives a subnormal, e = 255 is 2^127 (no NaN).
__device__ __forceinline__ float e8m0_half(uint32_t e) {
    return __uint_as_float(e < 2 ? 0x00200000u << e : (e - 1) << 23);
}

struct MXFP4 {
    static constexpr uint32_t kElems = 32, kBytes = 17;
    __device__ static Group group(const uint8_t* row, uint32_t u, uint32_t g) {
        const uint8_t* b = row + u * kBytes;
        Group r;
        table_nibbles<mxfp4_value>(u32_a1(b + 1 + 4 * (g & 3)), g < 4 ? 0 : 4, r.q);
        r.scale = e8m0_half(b[0]);
        return r;
    }
};

// MXFP4 expert rows as the CUDA backend keeps them in VRAM (formats.h,
// Format::experts): a row's units in groups of 16, each group's 16 scale
// bytes first, then its 16 units' code bytes (272 bytes, the same as 16
// units as stored); a last group of m < 16 units keeps 16 bytes of scales
// (m used) and m units of codes, so every row is a whole number of 16-byte
// words. A unit's codes so sit at a 16-byte boundary (one 16-byte load
// instead of five narrower ones at a 17-byte lane stride), and the lanes of
// a warp read consecutive scale bytes and consecutive code words. The
// values are the stored ones; only their places change (regroup_mxfp4).
struct MXFP4G {
    static constexpr uint32_t kElems = 32, kGroup = 16, kGroupBytes = kGroup * 17;
    __host__ __device__ static constexpr uint64_t row_bytes(uint64_t ne0) {
        const uint64_t n = ne0 / kElems, m = n % kGroup;
        return n / kGroup * kGroupBytes + (m ? 16 + 16 * m : 0);
    }
    // Where unit u's scale byte and its 16 code bytes sit in a row.
    __host__ __device__ static constexpr uint64_t scale_at(uint32_t u) { return (u / kGroup) * kGroupBytes + u % kGroup; }
    __host__ __device__ static constexpr uint64_t codes_at(uint32_t u) {
        return (u / kGroup) * kGroupBytes + 16 + (u % kGroup) * 16;
    }
    __device__ static Group group(const uint8_t* row, uint32_t u, uint32_t g) {
        Group r;
        table_nibbles<mxfp4_value>(*reinterpret_cast<const uint32_t*>(row + codes_at(u) + 4 * (g & 3)), g < 4 ? 0 : 4,
                                   r.q);
        r.scale = e8m0_half(row[scale_at(u)]);
        return r;
    }
};

// The bytes of a row of ne0 elements in format F: F::row_bytes where the
// layout has its own (MXFP4G), whole blocks otherwise.
template <class F>
__host__ __device__ constexpr uint64_t row_bytes_of(uint64_t ne0) {
    if constexpr (requires { F::row_bytes(ne0); })
        return F::row_bytes(ne0);
    else
        return ne0 / F::kElems * F::kBytes;
}

// ---- 256-element super-blocks: unit u is sub-block u % 8 of super-block u / 8.

__device__ __forceinline__ void scale_min_k4(uint32_t j, const uint8_t* s, float& sc, float& m) {
    if (j < 4) {
        sc = float(s[j] & 63);
        m = float(s[j + 4] & 63);
    } else {
        sc = float((s[j + 4] & 15) | ((s[j - 4] >> 6) << 4));
        m = float((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
    }
}

// Q4_K's and Q5_K's sub-block scale and bias: d * scale, -(dmin * min).
__device__ __forceinline__ void k4_scale_bias(const uint8_t* b, uint32_t sub, Group& r) {
    float sc, m;
    scale_min_k4(sub, b + 4, sc, m);
    r.scale = f16_at(b) * sc;
    r.bias = -(f16_at(b + 2) * m);
    r.has_bias = true;
}

struct Q4_K {
    static constexpr uint32_t kElems = 256, kBytes = 144;
    __device__ static Group group(const uint8_t* row, uint32_t u, uint32_t g) {
        const uint8_t* b = row + (u / 8) * kBytes;
        const uint32_t sub = u % 8;
        Group r;
        // Sub-block 2c: low nibbles of qs[32c ..], 2c+1: their high nibbles.
        nibbles(*reinterpret_cast<const uint32_t*>(b + 16 + 32 * (sub / 2) + 4 * g), 4 * (sub & 1), r.q);
        k4_scale_bias(b, sub, r);
        return r;
    }
};

struct Q5_K {
    static constexpr uint32_t kElems = 256, kBytes = 176;
    __device__ static Group group(const uint8_t* row, uint32_t u, uint32_t g) {
        const uint8_t* b = row + (u / 8) * kBytes;
        const uint32_t sub = u % 8;
        Group r;
        nibbles(*reinterpret_cast<const uint32_t*>(b + 48 + 32 * (sub / 2) + 4 * g), 4 * (sub & 1), r.q);
        // 5th bit: bit `sub` of qh[l].
        const uint32_t qh = *reinterpret_cast<const uint32_t*>(b + 16 + 4 * g) >> sub;
#pragma unroll
        for (int i = 0; i < 4; ++i) r.q[i] += float((qh >> (8 * i)) & 1) * 16.0f;
        k4_scale_bias(b, sub, r);
        return r;
    }
};

struct Q6_K {
    static constexpr uint32_t kElems = 256, kBytes = 210;
    __device__ static Group group(const uint8_t* row, uint32_t u, uint32_t g) {
        const uint8_t* b = row + (u / 8) * kBytes;
        const uint32_t sub = u % 8, n = sub / 4, r4 = sub % 4;
        // Element l (0..31) of the unit: low 4 bits in ql[64n + l + 32 (r4 & 1)]
        // (nibble r4 / 2), top 2 bits in qh[32n + l] (bits 2 r4); scale
        // sc[8n + l / 16 + 2 r4]; value (code - 32).
        const uint32_t lo = u32_a2(b + 64 * n + 32 * (r4 & 1) + 4 * g) >> (4 * (r4 / 2));
        const uint32_t hi = u32_a2(b + 128 + 32 * n + 4 * g) >> (2 * r4);
        Group r;
#pragma unroll
        for (int i = 0; i < 4; ++i) r.q[i] = code_f(((lo >> (8 * i)) & 15) | ((hi >> (8 * i)) & 3) << 4);
        const int8_t sc = int8_t(b[192 + 8 * n + (4 * g) / 16 + 2 * r4]);
        r.scale = f16_at(b + 208) * float(sc);
        r.offset = -32.0f;
        return r;
    }
};

struct Q2_K {
    static constexpr uint32_t kElems = 256, kBytes = 84;
    __device__ static Group group(const uint8_t* row, uint32_t u, uint32_t g) {
        const uint8_t* b = row + (u / 8) * kBytes;
        const uint32_t sub = u % 8, n = sub / 4, r4 = sub % 4;
        // Element l of the unit: bits 2 r4 of qs[32n + l]; its 16-element
        // group's scale byte: scales[2 sub + l / 16].
        const uint32_t w = (*reinterpret_cast<const uint32_t*>(b + 16 + 32 * n + 4 * g) >> (2 * r4)) & 0x03030303u;
        Group r;
#pragma unroll
        for (int i = 0; i < 4; ++i) r.q[i] = code_f((w >> (8 * i)) & 3);
        const uint8_t s = b[2 * sub + (4 * g) / 16];
        r.scale = f16_at(b + 80) * float(s & 15);
        r.bias = -(f16_at(b + 82) * float(s >> 4));
        r.has_bias = true;
        return r;
    }
};

struct Q3_K {
    static constexpr uint32_t kElems = 256, kBytes = 110;
    __device__ static Group group(const uint8_t* row, uint32_t u, uint32_t g) {
        const uint8_t* b = row + (u / 8) * kBytes;
        const uint32_t sub = u % 8, n = sub / 4, r4 = sub % 4;
        // Low 2 bits as Q2_K's (qs at 32); the high bit in hmask[l] at bit
        // 4n + r4, clear meaning minus 4; 16 six-bit signed scales.
        const uint32_t w = (u32_a2(b + 32 + 32 * n + 4 * g) >> (2 * r4)) & 0x03030303u;
        const uint32_t h = u32_a2(b + 4 * g) >> (4 * n + r4);
        Group r;
#pragma unroll
        for (int i = 0; i < 4; ++i) r.q[i] = code_f(((w >> (8 * i)) & 3) | ((h >> (8 * i)) & 1) << 2);
        const uint32_t j = 2 * sub + (4 * g) / 16;  // scale index
        const uint8_t* s = b + 96;
        const int low = j < 8 ? (s[j] & 15) : (s[j - 8] >> 4);
        const int high = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
        r.scale = f16_at(b + 108) * float((low | high << 4) - 32);
        r.offset = -4.0f;
        return r;
    }
};

struct IQ4_XS {
    static constexpr uint32_t kElems = 256, kBytes = 136;
    __device__ static Group group(const uint8_t* row, uint32_t u, uint32_t g) {
        const uint8_t* b = row + (u / 8) * kBytes;
        const uint32_t sub = u % 8;
        Group r;
        table_nibbles<iq4_value>(*reinterpret_cast<const uint32_t*>(b + 8 + 16 * sub + 4 * (g & 3)), g < 4 ? 0 : 4, r.q);
        const uint32_t sh = uint32_t(b[2]) | uint32_t(b[3]) << 8;
        const int ls = ((b[4 + sub / 2] >> (4 * (sub % 2))) & 15) | ((sh >> (2 * sub)) & 3) << 4;
        r.scale = f16_at(b) * float(ls - 32);
        return r;
    }
};

struct BF16 {
    static constexpr uint32_t kElems = 32, kBytes = 64;  // a unit of 32 elements, as a "block"
    __device__ static Group group(const uint8_t* row, uint32_t u, uint32_t g) {
        const uint2 w = *reinterpret_cast<const uint2*>(row + u * kBytes + 8 * g);
        Group r;
        r.q[0] = __uint_as_float(w.x << 16);
        r.q[1] = __uint_as_float(w.x & 0xFFFF0000u);
        r.q[2] = __uint_as_float(w.y << 16);
        r.q[3] = __uint_as_float(w.y & 0xFFFF0000u);
        r.scale = 1.0f;
        return r;
    }
};

}  // namespace orcd::cuda::quant
