// The CPU format table decodes every block format exactly as its definition
// reads. Each test packs blocks here, bit by bit from the layout's
// description (an independent writer of the layout the decoder reads), with
// random codes and extreme scales (the largest and smallest binary16
// values, subnormals, negative zero), and expects each element's value from
// the format's formula, to the bit. The 4-bit tables are walked code by code.
#include "backend/cpu/cpu_formats.h"
#include "gguf/gguf.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <random>
#include <vector>

namespace orcd::cpu {
namespace {

using gguf::TensorType;

uint16_t h(float f) { return gguf::fp32_to_fp16(f); }
float f(uint16_t x) { return gguf::fp16_to_fp32(x); }

// Scales every test walks: ordinary, the largest binary16, a subnormal, the
// smallest subnormal, negative zero and a negative value.
const std::vector<uint16_t> kScales = {h(0.0123f), 0x7bff, 0x03ff, 0x0001, 0x8000, h(-1.75f)};

struct Block {
    std::vector<uint8_t> bytes;
    std::vector<float> want;  // the formula's value of each element
};

void put16(std::vector<uint8_t>& b, size_t at, uint16_t v) { std::memcpy(&b[at], &v, 2); }

// Decodes the packed blocks as a row and as a dot product with x = 1, 2, ...
// and checks both against the formula, bit for bit (dot: in index order).
void expect_decodes(TensorType type, const std::vector<Block>& blocks, const char* what) {
    const Format* fmt = format_of(type);
    ASSERT_NE(fmt, nullptr) << gguf::tensor_type_name(type);
    std::vector<uint8_t> row;
    std::vector<float> want;
    for (const Block& b : blocks) {
        row.insert(row.end(), b.bytes.begin(), b.bytes.end());
        want.insert(want.end(), b.want.begin(), b.want.end());
    }
    uint64_t be = 0, bb = 0;
    ASSERT_TRUE(gguf::tensor_type_layout(uint32_t(type), &be, &bb));
    ASSERT_EQ(row.size(), blocks.size() * bb) << what;
    ASSERT_EQ(want.size(), blocks.size() * be) << what;
    std::vector<float> got(want.size(), -12345.0f);
    fmt->decode_row(row.data(), got.data(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
        const bool same = std::memcmp(&got[i], &want[i], 4) == 0 || (std::isnan(got[i]) && std::isnan(want[i]));
        ASSERT_TRUE(same) << what << " " << gguf::tensor_type_name(type) << " element " << i << ": got " << got[i]
                          << ", want " << want[i];
    }
    std::vector<float> x(want.size());
    float dot = 0.0f;
    for (size_t i = 0; i < x.size(); ++i) {
        x[i] = float(i % 7) - 3.0f;
        dot += want[i] * x[i];
    }
    const float got_dot = fmt->dot_row(row.data(), x.data(), x.size());
    if (std::isfinite(dot)) {
        EXPECT_EQ(got_dot, dot) << what << " dot";
    }
}

std::mt19937 rng(1234);
int rnd(int n) { return int(rng() % uint32_t(n)); }

// ---- 32-element formats ----------------------------------------------------------

// Codes c[32] in [0, 16) (x[j] from the low nibble of byte j, x[j+16] from
// its high nibble).
void pack_nibbles(std::vector<uint8_t>& b, size_t at, const int* c) {
    for (int j = 0; j < 16; ++j) b[at + j] = uint8_t(c[j] | c[j + 16] << 4);
}

TEST(QuantFormats, Q4_0AndQ4_1) {
    std::vector<Block> b40, b41;
    for (uint16_t d : kScales) {
        for (uint16_t m : {h(0.5f), h(-3.0f), uint16_t(0x8000)}) {
            int c[32];
            for (int j = 0; j < 32; ++j) c[j] = j < 16 ? j : rnd(16);  // every code once
            Block q0{std::vector<uint8_t>(18), {}}, q1{std::vector<uint8_t>(20), {}};
            put16(q0.bytes, 0, d);
            pack_nibbles(q0.bytes, 2, c);
            put16(q1.bytes, 0, d);
            put16(q1.bytes, 2, m);
            pack_nibbles(q1.bytes, 4, c);
            for (int j = 0; j < 32; ++j) {
                q0.want.push_back(f(d) * float(c[j] - 8));
                q1.want.push_back(f(d) * float(c[j]) + f(m));
            }
            b40.push_back(q0);
            b41.push_back(q1);
        }
    }
    expect_decodes(TensorType::Q4_0, b40, "q4_0");
    expect_decodes(TensorType::Q4_1, b41, "q4_1");
}

TEST(QuantFormats, Q5_0AndQ5_1) {
    std::vector<Block> b50, b51;
    for (uint16_t d : kScales) {
        int c[32];
        for (int j = 0; j < 32; ++j) c[j] = rnd(32);
        c[0] = 0, c[1] = 31, c[16] = 16, c[17] = 15;
        Block q0{std::vector<uint8_t>(22), {}}, q1{std::vector<uint8_t>(24), {}};
        uint32_t qh = 0;
        int lo[32];
        for (int j = 0; j < 32; ++j) {
            lo[j] = c[j] & 15;
            qh |= uint32_t(c[j] >> 4) << j;  // bit j: the 5th bit of element j
        }
        put16(q0.bytes, 0, d);
        std::memcpy(&q0.bytes[2], &qh, 4);
        pack_nibbles(q0.bytes, 6, lo);
        put16(q1.bytes, 0, d);
        put16(q1.bytes, 2, h(-0.25f));
        std::memcpy(&q1.bytes[4], &qh, 4);
        pack_nibbles(q1.bytes, 8, lo);
        for (int j = 0; j < 32; ++j) {
            q0.want.push_back(f(d) * float(c[j] - 16));
            q1.want.push_back(f(d) * float(c[j]) + -0.25f);
        }
        b50.push_back(q0);
        b51.push_back(q1);
    }
    expect_decodes(TensorType::Q5_0, b50, "q5_0");
    expect_decodes(TensorType::Q5_1, b51, "q5_1");
}

TEST(QuantFormats, Q8_0) {
    std::vector<Block> blocks;
    for (uint16_t d : kScales) {
        Block q{std::vector<uint8_t>(34), {}};
        put16(q.bytes, 0, d);
        for (int j = 0; j < 32; ++j) {
            const int v = j == 0 ? -128 : (j == 1 ? 127 : rnd(256) - 128);
            q.bytes[2 + j] = uint8_t(int8_t(v));
            q.want.push_back(f(d) * float(v));
        }
        blocks.push_back(q);
    }
    expect_decodes(TensorType::Q8_0, blocks, "q8_0");
}

TEST(QuantFormats, Iq4NlWalksItsCodeBook) {
    const float table[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
    std::vector<Block> blocks;
    for (uint16_t d : kScales) {
        int c[32];
        for (int j = 0; j < 32; ++j) c[j] = j < 16 ? 15 - j : rnd(16);
        Block q{std::vector<uint8_t>(18), {}};
        put16(q.bytes, 0, d);
        pack_nibbles(q.bytes, 2, c);
        for (int j = 0; j < 32; ++j) q.want.push_back(f(d) * table[c[j]]);
        blocks.push_back(q);
    }
    expect_decodes(TensorType::IQ4_NL, blocks, "iq4_nl");
}

TEST(QuantFormats, Mxfp4EveryCodeAndEveryExponent) {
    // Twice the E2M1 values; the scale is 2^(e - 128), e = 0 and 1 subnormal.
    const float table[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};
    std::vector<Block> blocks;
    for (int e = 0; e < 256; ++e) {
        int c[32];
        for (int j = 0; j < 32; ++j) c[j] = (j + e) % 16;
        Block q{std::vector<uint8_t>(17), {}};
        q.bytes[0] = uint8_t(e);
        pack_nibbles(q.bytes, 1, c);
        const float scale = std::ldexp(1.0f, e - 128);
        for (int j = 0; j < 32; ++j) q.want.push_back(table[c[j]] * scale);
        blocks.push_back(q);
    }
    expect_decodes(TensorType::MXFP4, blocks, "mxfp4");
    // Code 8 is negative zero's code (E2M1 -0): decodes to a zero.
    EXPECT_EQ(blocks[130].want[8 - 130 % 16 + 16], 0.0f);
}

TEST(QuantFormats, Bf16IsTheUpperHalfOfF32) {
    const Format* fmt = format_of(TensorType::BF16);
    ASSERT_NE(fmt, nullptr);
    const std::vector<float> v = {1.0f, -2.5f, 3.0e38f, -0.0f, 1.0e-40f, 65504.0f, INFINITY};
    std::vector<uint16_t> raw;
    for (float x : v) {
        uint32_t bits;
        std::memcpy(&bits, &x, 4);
        raw.push_back(uint16_t(bits >> 16));
    }
    std::vector<float> got(v.size());
    fmt->decode_row(reinterpret_cast<const uint8_t*>(raw.data()), got.data(), v.size());
    for (size_t i = 0; i < v.size(); ++i) {
        uint32_t bits;
        std::memcpy(&bits, &v[i], 4);
        bits &= 0xffff0000u;
        float want;
        std::memcpy(&want, &bits, 4);
        EXPECT_EQ(std::memcmp(&got[i], &want, 4), 0) << i;
    }
}

// ---- 256-element super-blocks ------------------------------------------------------

// Packs 8 six-bit (scale, min) pairs as Q4_K/Q5_K store them in 12 bytes:
// pairs 0..3 in the low 6 bits of bytes 0..3 (scale) and 4..7 (min); pairs
// 4..7 with their low 4 bits in bytes 8..11 (scale low nibble, min high
// nibble) and their top 2 bits in the top bits of bytes 0..7.
void pack_scale_min(uint8_t* s, const int* sc, const int* mn) {
    std::memset(s, 0, 12);
    for (int j = 0; j < 4; ++j) {
        s[j] = uint8_t(sc[j]);
        s[j + 4] = uint8_t(mn[j]);
    }
    for (int j = 4; j < 8; ++j) {
        s[j + 4] = uint8_t((sc[j] & 15) | (mn[j] & 15) << 4);
        s[j - 4] |= uint8_t((sc[j] >> 4) << 6);
        s[j] |= uint8_t((mn[j] >> 4) << 6);
    }
}

TEST(QuantFormats, Q4_KAndQ5_K) {
    std::vector<Block> b4, b5;
    for (uint16_t d : kScales) {
        for (uint16_t dmin : {h(0.003f), uint16_t(0x8000), uint16_t(0x7bff)}) {
            int sc[8], mn[8], c[256];
            for (int j = 0; j < 8; ++j) sc[j] = rnd(64), mn[j] = rnd(64);
            sc[0] = 63, mn[7] = 63, sc[5] = 0;
            for (int i = 0; i < 256; ++i) c[i] = rnd(32);
            Block q4{std::vector<uint8_t>(144), {}}, q5{std::vector<uint8_t>(176), {}};
            put16(q4.bytes, 0, d);
            put16(q4.bytes, 2, dmin);
            pack_scale_min(&q4.bytes[4], sc, mn);
            put16(q5.bytes, 0, d);
            put16(q5.bytes, 2, dmin);
            pack_scale_min(&q5.bytes[4], sc, mn);
            // Element i: chunk c = i/64; the low nibbles of qs[32c .. 32c+31]
            // hold elements 64c + l, the high nibbles 64c + 32 + l; Q5_K's
            // 5th bit is bit 2c (low half) or 2c+1 (high half) of qh[l].
            for (int i = 0; i < 256; ++i) {
                const int chunk = i / 64, l = i % 32, high = (i % 64) / 32;
                const int code4 = c[i] & 15;
                q4.bytes[16 + 32 * chunk + l] |= uint8_t(code4 << (4 * high));
                q5.bytes[48 + 32 * chunk + l] |= uint8_t(code4 << (4 * high));
                q5.bytes[16 + l] |= uint8_t((c[i] >> 4) << (2 * chunk + high));
                const int sub = i / 32;
                const float dl = f(d) * float(sc[sub]), ml = f(dmin) * float(mn[sub]);
                q4.want.push_back(dl * float(code4) - ml);
                q5.want.push_back(dl * float(c[i]) - ml);
            }
            b4.push_back(q4);
            b5.push_back(q5);
        }
    }
    expect_decodes(TensorType::Q4_K, b4, "q4_k");
    expect_decodes(TensorType::Q5_K, b5, "q5_k");
}

TEST(QuantFormats, Q6_K) {
    std::vector<Block> blocks;
    for (uint16_t d : kScales) {
        int8_t sc[16];
        int c[256];
        for (int j = 0; j < 16; ++j) sc[j] = int8_t(rnd(256) - 128);
        sc[3] = -128, sc[4] = 127;
        for (int i = 0; i < 256; ++i) c[i] = rnd(64);
        c[0] = 0, c[1] = 63;
        Block q{std::vector<uint8_t>(210), {}};
        std::memcpy(&q.bytes[192], sc, 16);
        put16(q.bytes, 208, d);
        // Half n (128 elements) uses ql[64n..], qh[32n..], scales[8n..]. In a
        // half, element k: l = k % 32, quarter r = k / 32; the low 4 bits sit
        // in ql[l + 32 (r & 1)] (nibble r / 2), the top 2 bits in qh[l]
        // (bits 2r); its scale is scales[8n + l / 16 + 2r].
        for (int i = 0; i < 256; ++i) {
            const int n = i / 128, k = i % 128, l = k % 32, r = k / 32;
            q.bytes[64 * n + l + 32 * (r & 1)] |= uint8_t((c[i] & 15) << (4 * (r / 2)));
            q.bytes[128 + 32 * n + l] |= uint8_t((c[i] >> 4) << (2 * r));
            q.want.push_back(f(d) * float(sc[8 * n + l / 16 + 2 * r]) * float(c[i] - 32));
        }
        blocks.push_back(q);
    }
    expect_decodes(TensorType::Q6_K, blocks, "q6_k");
}

TEST(QuantFormats, Q2_K) {
    std::vector<Block> blocks;
    for (uint16_t d : kScales) {
        int sc[16], mn[16], c[256];
        for (int j = 0; j < 16; ++j) sc[j] = rnd(16), mn[j] = rnd(16);
        sc[0] = 15, mn[15] = 15;
        for (int i = 0; i < 256; ++i) c[i] = rnd(4);
        Block q{std::vector<uint8_t>(84), {}};
        for (int j = 0; j < 16; ++j) q.bytes[j] = uint8_t(sc[j] | mn[j] << 4);
        put16(q.bytes, 80, d);
        put16(q.bytes, 82, h(-0.125f));
        // Half n of 128 uses qs[32n .. 32n+31]; in it, element k: shift
        // 2 (k / 32), byte l + 16 ((k / 16) % 2) for l = k % 16; sub-block
        // (scale) i / 16.
        for (int i = 0; i < 256; ++i) {
            const int n = i / 128, k = i % 128;
            q.bytes[16 + 32 * n + k % 16 + 16 * ((k / 16) % 2)] |= uint8_t(c[i] << (2 * (k / 32)));
            const int s = i / 16;
            q.want.push_back(f(d) * float(sc[s]) * float(c[i]) - -0.125f * float(mn[s]));
        }
        // The formula as the format defines it: (d * sc) * q - (dmin * m).
        for (int i = 0; i < 256; ++i) {
            const int s = i / 16;
            q.want[i] = (f(d) * float(sc[s])) * float(c[i]) - (-0.125f * float(mn[s]));
        }
        blocks.push_back(q);
    }
    expect_decodes(TensorType::Q2_K, blocks, "q2_k");
}

TEST(QuantFormats, Q3_K) {
    std::vector<Block> blocks;
    for (uint16_t d : kScales) {
        int sc[16], c[256];
        for (int j = 0; j < 16; ++j) sc[j] = rnd(64);
        sc[0] = 0, sc[9] = 63;
        for (int i = 0; i < 256; ++i) c[i] = rnd(8);  // 3-bit code: value c - 4
        Block q{std::vector<uint8_t>(110), {}};
        // Scales: low nibble of scale j in byte j % 8 (low nibble for j < 8,
        // high nibble after), its top 2 bits in byte 8 + j % 4 at bit 2 (j / 4).
        for (int j = 0; j < 16; ++j) {
            q.bytes[96 + j % 8] |= uint8_t((sc[j] & 15) << (j < 8 ? 0 : 4));
            q.bytes[96 + 8 + j % 4] |= uint8_t((sc[j] >> 4) << (2 * (j / 4)));
        }
        put16(q.bytes, 108, d);
        // Element i: half n = i / 128, k = i % 128; low 2 bits as Q2_K's; the
        // high bit in hmask[k % 32] at bit 4n + k / 32, and a clear bit means
        // minus 4 (code c = low + 4 * high).
        for (int i = 0; i < 256; ++i) {
            const int n = i / 128, k = i % 128;
            q.bytes[32 + 32 * n + k % 16 + 16 * ((k / 16) % 2)] |= uint8_t((c[i] & 3) << (2 * (k / 32)));
            if (c[i] >> 2) q.bytes[k % 32] |= uint8_t(1 << (4 * n + k / 32));
            q.want.push_back(f(d) * float(sc[i / 16] - 32) * float(c[i] - 4));
        }
        for (int i = 0; i < 256; ++i) q.want[i] = (f(d) * float(sc[i / 16] - 32)) * float(c[i] - 4);
        blocks.push_back(q);
    }
    expect_decodes(TensorType::Q3_K, blocks, "q3_k");
}

TEST(QuantFormats, Iq4XsWalksItsCodeBook) {
    const float table[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
    std::vector<Block> blocks;
    for (uint16_t d : kScales) {
        int ls[8], c[256];
        for (int j = 0; j < 8; ++j) ls[j] = rnd(64);
        ls[0] = 0, ls[1] = 63;
        for (int i = 0; i < 256; ++i) c[i] = (i < 16) ? i : rnd(16);
        Block q{std::vector<uint8_t>(136), {}};
        put16(q.bytes, 0, d);
        uint16_t sh = 0;
        for (int j = 0; j < 8; ++j) {
            q.bytes[4 + j / 2] |= uint8_t((ls[j] & 15) << (4 * (j % 2)));
            sh |= uint16_t((ls[j] >> 4) << (2 * j));
        }
        put16(q.bytes, 2, sh);
        for (int i = 0; i < 256; ++i) {
            const int sub = i / 32, j = i % 32;
            q.bytes[8 + 16 * sub + j % 16] |= uint8_t(c[i] << (4 * (j / 16)));
            q.want.push_back((f(d) * float(ls[sub] - 32)) * table[c[i]]);
        }
        blocks.push_back(q);
    }
    expect_decodes(TensorType::IQ4_XS, blocks, "iq4_xs");
}

TEST(QuantFormats, TypesWithoutAnEntryAreNotComputed) {
    for (TensorType t : {TensorType::Q8_1, TensorType::Q8_K, TensorType::IQ2_XXS, TensorType::IQ3_S, TensorType::TQ1_0})
        EXPECT_EQ(format_of(t), nullptr) << gguf::tensor_type_name(t);
    for (const char* name : {"Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL",
                             "IQ4_XS", "BF16", "MXFP4", "F16", "F32"})
        EXPECT_NE(supported_formats().find(name), std::string::npos) << name;
}

}  // namespace
}  // namespace orcd::cpu
