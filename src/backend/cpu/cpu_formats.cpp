// Each block format decoded exactly as its definition reads (ggml's block
// layouts: scales and minimums in IEEE binary16 or E8M0, small integer codes
// packed in nibbles and bit planes). A value is computed in F32 with one
// rounding per operation, in the order the comments give; the dot product
// of a row multiplies the decoded values by x and adds them in index order.
#include "backend/cpu/cpu_formats.h"

#include <cstring>
#include <string>

namespace orcd::cpu {

namespace {

using gguf::fp16_to_fp32;

// Largest block: 256 elements (the K-quants and IQ4_XS).
constexpr uint64_t kMaxBlock = 256;

float f16_at(const uint8_t* p) {
    uint16_t h;
    std::memcpy(&h, p, 2);
    return fp16_to_fp32(h);
}

// ---- 32-element blocks -------------------------------------------------------

// Q4_0: d (f16), qs[16]. x[j] = d * ((qs[j] & 15) - 8), x[j+16] = d * ((qs[j] >> 4) - 8).
void block_q4_0(const uint8_t* b, float* y) {
    const float d = f16_at(b);
    const uint8_t* qs = b + 2;
    for (int j = 0; j < 16; ++j) {
        y[j] = d * float(int(qs[j] & 15) - 8);
        y[j + 16] = d * float(int(qs[j] >> 4) - 8);
    }
}

// Q4_1: d, m (f16), qs[16]. x = d * code + m.
void block_q4_1(const uint8_t* b, float* y) {
    const float d = f16_at(b), m = f16_at(b + 2);
    const uint8_t* qs = b + 4;
    for (int j = 0; j < 16; ++j) {
        y[j] = d * float(qs[j] & 15) + m;
        y[j + 16] = d * float(qs[j] >> 4) + m;
    }
}

// Q5_0: d (f16), qh (u32 LE: bit j is the 5th bit of element j), qs[16].
// x = d * (code - 16).
void block_q5_0(const uint8_t* b, float* y) {
    const float d = f16_at(b);
    uint32_t qh;
    std::memcpy(&qh, b + 2, 4);
    const uint8_t* qs = b + 6;
    for (int j = 0; j < 16; ++j) {
        const int lo = int(qs[j] & 15) | int((qh >> j) & 1) << 4;
        const int hi = int(qs[j] >> 4) | int((qh >> (j + 16)) & 1) << 4;
        y[j] = d * float(lo - 16);
        y[j + 16] = d * float(hi - 16);
    }
}

// Q5_1: d, m (f16), qh, qs[16]. x = d * code + m.
void block_q5_1(const uint8_t* b, float* y) {
    const float d = f16_at(b), m = f16_at(b + 2);
    uint32_t qh;
    std::memcpy(&qh, b + 4, 4);
    const uint8_t* qs = b + 8;
    for (int j = 0; j < 16; ++j) {
        const int lo = int(qs[j] & 15) | int((qh >> j) & 1) << 4;
        const int hi = int(qs[j] >> 4) | int((qh >> (j + 16)) & 1) << 4;
        y[j] = d * float(lo) + m;
        y[j + 16] = d * float(hi) + m;
    }
}

// Q8_0: d (f16), qs[32] (i8). x = d * q.
void block_q8_0(const uint8_t* b, float* y) {
    const float d = f16_at(b);
    const int8_t* qs = reinterpret_cast<const int8_t*>(b + 2);
    for (int j = 0; j < 32; ++j) y[j] = d * float(qs[j]);
}

// The 4-bit non-linear code book of IQ4_NL and IQ4_XS.
constexpr int8_t kIq4Values[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

// IQ4_NL: d (f16), qs[16]. x = d * table[code].
void block_iq4_nl(const uint8_t* b, float* y) {
    const float d = f16_at(b);
    const uint8_t* qs = b + 2;
    for (int j = 0; j < 16; ++j) {
        y[j] = d * float(kIq4Values[qs[j] & 15]);
        y[j + 16] = d * float(kIq4Values[qs[j] >> 4]);
    }
}

// MXFP4: e (E8M0), qs[16]. The codes are twice the E2M1 values, so the
// scale is half of 2^(e - 127): 2^(e - 128), a denormal for e < 2; e = 255
// is 2^127 (no NaN).
constexpr int8_t kMxfp4Values[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

float e8m0_half(uint8_t e) {
    const uint32_t bits = e < 2 ? uint32_t(0x00200000) << e : uint32_t(e - 1) << 23;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

void block_mxfp4(const uint8_t* b, float* y) {
    const float d = e8m0_half(b[0]);
    const uint8_t* qs = b + 1;
    for (int j = 0; j < 16; ++j) {
        y[j] = float(kMxfp4Values[qs[j] & 15]) * d;
        y[j + 16] = float(kMxfp4Values[qs[j] >> 4]) * d;
    }
}

// ---- 256-element super-blocks --------------------------------------------------

// The 6-bit scale and min of sub-block j of Q4_K/Q5_K (12 packed bytes).
void scale_min_k4(int j, const uint8_t* s, uint8_t& sc, uint8_t& m) {
    if (j < 4) {
        sc = s[j] & 63;
        m = s[j + 4] & 63;
    } else {
        sc = uint8_t((s[j + 4] & 15) | ((s[j - 4] >> 6) << 4));
        m = uint8_t((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
    }
}

// Q2_K: scales[16] (low nibble scale, high nibble min), qs[64], d, dmin.
// Sub-block of 16: x = d * sc * q - dmin * m, q 2 bits.
void block_q2_k(const uint8_t* b, float* y) {
    const uint8_t* scales = b;
    const uint8_t* q = b + 16;
    const float d = f16_at(b + 80), dmin = f16_at(b + 82);
    int is = 0;
    for (int n = 0; n < 256; n += 128) {
        for (int shift = 0; shift < 8; shift += 2) {
            for (int half = 0; half < 2; ++half) {
                const uint8_t sc = scales[is++];
                const float dl = d * float(sc & 15), ml = dmin * float(sc >> 4);
                for (int l = 0; l < 16; ++l) *y++ = dl * float((q[l + 16 * half] >> shift) & 3) - ml;
            }
        }
        q += 32;
    }
}

// Q3_K: hmask[32], qs[64], scales[12] (16 signed 6-bit scales), d.
// x = d * (sc - 32) * (q2 - (high bit clear ? 4 : 0)).
void block_q3_k(const uint8_t* b, float* y) {
    const uint8_t* hm = b;
    const uint8_t* q = b + 32;
    const uint8_t* s = b + 96;
    const float d = f16_at(b + 108);
    int8_t sc[16];
    for (int j = 0; j < 16; ++j) {
        // Low 4 bits: nibble j%8 of bytes 0..7; high 2 bits: bits 2*(j/4).. of bytes 8..11.
        const int low = j < 8 ? (s[j] & 15) : (s[j - 8] >> 4);
        const int high = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
        sc[j] = int8_t((low | high << 4) - 32);
    }
    int is = 0;
    uint8_t m = 1;
    for (int n = 0; n < 256; n += 128) {
        for (int shift = 0; shift < 8; shift += 2) {
            for (int half = 0; half < 2; ++half) {
                const float dl = d * float(sc[is++]);
                for (int l = 0; l < 16; ++l) {
                    const int k = l + 16 * half;
                    const int v = int((q[k] >> shift) & 3) - ((hm[k] & m) ? 0 : 4);
                    *y++ = dl * float(v);
                }
            }
            m = uint8_t(m << 1);
        }
        q += 32;
    }
}

// Q4_K: d, dmin (f16), scales[12], qs[128]. Chunk c of 64: low nibbles with
// sub-block 2c, high nibbles with 2c+1; x = d * sc * q - dmin * m.
// Q5_K: the same plus qh[32] before qs: bit 2c of qh[l] is the 5th bit of the
// low half of chunk c, bit 2c+1 that of the high half. qh is null for Q4_K.
void block_k4_k5(const uint8_t* b, const uint8_t* qh, const uint8_t* q, float* y) {
    const float d = f16_at(b), dmin = f16_at(b + 2);
    const uint8_t* s = b + 4;
    for (int c = 0; c < 4; ++c) {
        uint8_t sc, m;
        scale_min_k4(2 * c, s, sc, m);
        const float d1 = d * float(sc), m1 = dmin * float(m);
        scale_min_k4(2 * c + 1, s, sc, m);
        const float d2 = d * float(sc), m2 = dmin * float(m);
        for (int l = 0; l < 32; ++l) {
            const int high = qh ? ((qh[l] >> (2 * c)) & 1) << 4 : 0;
            *y++ = d1 * float((q[l] & 15) | high) - m1;
        }
        for (int l = 0; l < 32; ++l) {
            const int high = qh ? ((qh[l] >> (2 * c + 1)) & 1) << 4 : 0;
            *y++ = d2 * float((q[l] >> 4) | high) - m2;
        }
        q += 32;
    }
}

void block_q4_k(const uint8_t* b, float* y) { block_k4_k5(b, nullptr, b + 16, y); }

void block_q5_k(const uint8_t* b, float* y) { block_k4_k5(b, b + 16, b + 48, y); }

// Q6_K: ql[128], qh[64], scales[16] (i8), d (f16, last). Two halves of 128;
// x = d * sc * (q6 - 32).
void block_q6_k(const uint8_t* b, float* y) {
    const uint8_t* ql = b;
    const uint8_t* qh = b + 128;
    const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192);
    const float d = f16_at(b + 208);
    for (int n = 0; n < 2; ++n) {
        for (int l = 0; l < 32; ++l) {
            const int is = l / 16;
            const int q1 = int((ql[l] & 15) | ((qh[l] & 3) << 4)) - 32;
            const int q2 = int((ql[l + 32] & 15) | (((qh[l] >> 2) & 3) << 4)) - 32;
            const int q3 = int((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            const int q4 = int((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            y[l] = d * float(sc[is]) * float(q1);
            y[l + 32] = d * float(sc[is + 2]) * float(q2);
            y[l + 64] = d * float(sc[is + 4]) * float(q3);
            y[l + 96] = d * float(sc[is + 6]) * float(q4);
        }
        y += 128;
        ql += 64;
        qh += 32;
        sc += 8;
    }
}

// IQ4_XS: d (f16), scales_h (u16), scales_l[4], qs[128]. Sub-block i of 32:
// 6-bit scale ls (low nibble from scales_l, 2 high bits from scales_h),
// x = d * (ls - 32) * table[code].
void block_iq4_xs(const uint8_t* b, float* y) {
    const float d = f16_at(b);
    uint16_t sh;
    std::memcpy(&sh, b + 2, 2);
    const uint8_t* sl = b + 4;
    const uint8_t* qs = b + 8;
    for (int ib = 0; ib < 8; ++ib) {
        const int ls = ((sl[ib / 2] >> (4 * (ib % 2))) & 15) | (((sh >> (2 * ib)) & 3) << 4);
        const float dl = d * float(ls - 32);
        for (int j = 0; j < 16; ++j) {
            y[j] = dl * float(kIq4Values[qs[j] & 15]);
            y[j + 16] = dl * float(kIq4Values[qs[j] >> 4]);
        }
        y += 32;
        qs += 16;
    }
}

// ---- element formats -------------------------------------------------------------

void decode_f32(const uint8_t* row, float* out, uint64_t n) { std::memcpy(out, row, n * sizeof(float)); }

float dot_f32(const uint8_t* row, const float* x, uint64_t n) {
    const float* w = reinterpret_cast<const float*>(row);
    float s = 0.0f;
    for (uint64_t i = 0; i < n; ++i) s += w[i] * x[i];
    return s;
}

void decode_f16(const uint8_t* row, float* out, uint64_t n) {
    const uint16_t* w = reinterpret_cast<const uint16_t*>(row);
    for (uint64_t i = 0; i < n; ++i) out[i] = fp16_to_fp32(w[i]);
}

float dot_f16(const uint8_t* row, const float* x, uint64_t n) {
    const uint16_t* w = reinterpret_cast<const uint16_t*>(row);
    float s = 0.0f;
    for (uint64_t i = 0; i < n; ++i) s += fp16_to_fp32(w[i]) * x[i];
    return s;
}

// BF16: the upper half of an F32.
float bf16_at(const uint16_t* w, uint64_t i) {
    const uint32_t bits = uint32_t(w[i]) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

void decode_bf16(const uint8_t* row, float* out, uint64_t n) {
    const uint16_t* w = reinterpret_cast<const uint16_t*>(row);
    for (uint64_t i = 0; i < n; ++i) out[i] = bf16_at(w, i);
}

float dot_bf16(const uint8_t* row, const float* x, uint64_t n) {
    const uint16_t* w = reinterpret_cast<const uint16_t*>(row);
    float s = 0.0f;
    for (uint64_t i = 0; i < n; ++i) s += bf16_at(w, i) * x[i];
    return s;
}

// ---- block formats: rows as sequences of blocks ----------------------------------

template <void (*Block)(const uint8_t*, float*), uint64_t kElems, uint64_t kBytes>
void decode_blocks(const uint8_t* row, float* out, uint64_t n) {
    for (uint64_t i = 0; i < n / kElems; ++i) Block(row + i * kBytes, out + i * kElems);
}

template <void (*Block)(const uint8_t*, float*), uint64_t kElems, uint64_t kBytes>
float dot_blocks(const uint8_t* row, const float* x, uint64_t n) {
    static_assert(kElems <= kMaxBlock);
    float buf[kElems];
    float s = 0.0f;
    for (uint64_t i = 0; i < n / kElems; ++i) {
        Block(row + i * kBytes, buf);
        const float* xs = x + i * kElems;
        for (uint64_t j = 0; j < kElems; ++j) s += buf[j] * xs[j];
    }
    return s;
}

template <void (*Block)(const uint8_t*, float*), uint64_t kElems, uint64_t kBytes>
constexpr Format block_format(gguf::TensorType type) {
    return Format{type, decode_blocks<Block, kElems, kBytes>, dot_blocks<Block, kElems, kBytes>};
}

using T = gguf::TensorType;

constexpr Format kFormats[] = {
    {T::F32, decode_f32, dot_f32},
    {T::F16, decode_f16, dot_f16},
    {T::BF16, decode_bf16, dot_bf16},
    block_format<block_q4_0, 32, 18>(T::Q4_0),
    block_format<block_q4_1, 32, 20>(T::Q4_1),
    block_format<block_q5_0, 32, 22>(T::Q5_0),
    block_format<block_q5_1, 32, 24>(T::Q5_1),
    block_format<block_q8_0, 32, 34>(T::Q8_0),
    block_format<block_q2_k, 256, 84>(T::Q2_K),
    block_format<block_q3_k, 256, 110>(T::Q3_K),
    block_format<block_q4_k, 256, 144>(T::Q4_K),
    block_format<block_q5_k, 256, 176>(T::Q5_K),
    block_format<block_q6_k, 256, 210>(T::Q6_K),
    block_format<block_iq4_nl, 32, 18>(T::IQ4_NL),
    block_format<block_iq4_xs, 256, 136>(T::IQ4_XS),
    block_format<block_mxfp4, 32, 17>(T::MXFP4),
};

}  // namespace

const Format* format_of(gguf::TensorType type) {
    for (const Format& f : kFormats)
        if (f.type == type) return &f;
    return nullptr;
}

std::string supported_formats() {
    std::string s;
    for (const Format& f : kFormats) s += (s.empty() ? "" : ", ") + std::string(gguf::tensor_type_name(f.type));
    return s;
}

}  // namespace orcd::cpu
