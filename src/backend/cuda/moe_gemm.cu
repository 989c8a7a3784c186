// The grouped expert products of a prompt chunk on MXFP4 weights, on the
// tensor cores, read as stored (no F16 copy of a matrix anywhere).
//
// A block takes one tile of moe_sort's table (up to 64 or 16 grouped rows
// of one expert: the tile height) and 128 weight rows (the plain form: 128
// outputs; SwiGLU: 64 outputs' gate and up rows), and walks the row length
// in stages of four 32-element units, three stages in flight (cp.async):
// the rows' F16 activations as 16-byte copies, the weight rows' units (in
// the layout the experts are kept in, MXFP4G: a stage's 4 units are 64
// aligned bytes of codes and 4 bytes of scales) as four 16-byte copies and
// one of 4 bytes. Each of the 4 warps multiplies the tile's rows by its
// 32 weight rows (mma.m16n8k16, F16 in, F32 out), one unit at a time: the
// unit's codes become F16 by placing their bits (an E2M1 code's sign,
// exponent and mantissa bits are F16's, 2^14 apart in value), the unit's
// product starts from zero, and its E8M0 scale multiplies it into the F32
// sum. So every weight is exact and no scale meets F16's range; the
// activations are rounded to F16 as the cuBLAS path rounds them.
//
// The result of a row depends only on its own x and weights: the same
// prompt gives the same bits whichever rows share a tile.
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/formats.h"
#include "backend/cuda/kernels.h"
#include "backend/cuda/launch.cuh"
#include "backend/cuda/pointwise.cuh"
#include "backend/cuda/quant_blocks.cuh"
#include "common/error.h"

#include <cuda_fp16.h>

#include <cfloat>
#include <string>

namespace orcd::cuda {
namespace {

constexpr uint32_t kThreads = 128;
constexpr uint32_t kTileW = 128;                              // weight rows a block
constexpr uint32_t kWarpW = kTileW / (kThreads / 32);         // weight rows a warp: 4 n8 tiles
constexpr uint32_t kUnits = 4;                                // 32-element units a stage
constexpr uint32_t kStages = 3;
constexpr uint32_t kAPitch = 32 * kUnits + 8;                 // F16 a smem row: 16 bytes over, rows on other banks
// A weight row's stage in shared memory: the 4 units' codes (16 words),
// their 4 scale bytes (one word), 3 words over so that the 8 rows an mma
// reads fall on different banks and each row starts at a 16-byte boundary.
constexpr uint32_t kCodeWords = 4 * kUnits, kScaleWord = kCodeWords, kBPitch = 20;
constexpr uint32_t kBStage = kTileW * kBPitch * 4;
// Per tile height (grouped rows a block): the activations' bytes a stage,
// the kernel's shared memory.
__host__ __device__ constexpr uint32_t a_stage(uint32_t tile_m) { return tile_m * kAPitch * 2; }
__host__ __device__ constexpr uint32_t smem_bytes(uint32_t tile_m) { return kStages * (a_stage(tile_m) + kBStage); }

static_assert(kWarpW == 32, "the warp tiling below is m16 tiles x 4 n8");
static_assert(kTileW % kThreads == 0, "a stage's weight rows split evenly");
static_assert(quant::MXFP4G::kGroup % kUnits == 0, "a stage's units sit in one group of the layout");

__device__ __forceinline__ uint32_t smem_addr(const void* p) {
    return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

__device__ __forceinline__ void cp_async16(void* dst, const void* src) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(smem_addr(dst)), "l"(src) : "memory");
}
__device__ __forceinline__ void cp_async4(void* dst, const void* src) {
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4;" ::"r"(smem_addr(dst)), "l"(src) : "memory");
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;" ::: "memory"); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;" ::"n"(N) : "memory");
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const void* p) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem_addr(p)));
}

// d = a b + c, one m16n8k16 product (F16 in, F32 out).
__device__ __forceinline__ void mma(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1,
                                    const float (&c)[4]) {
    asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%10, %11, %12, %13};"
        : "=f"(d[0]), "=f"(d[1]), "=f"(d[2]), "=f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1), "f"(c[0]), "f"(c[1]), "f"(c[2]),
          "f"(c[3]));
}

// Two E2M1 codes (bits 0-3 and 16-19 of x, the rest zero) as two F16 of
// 2^-14 times their value: the magnitude bits go to F16 bits 9-11, the
// sign bit (adding 7 * 8 carries it to bit 6) to bit 15.
__device__ __forceinline__ uint32_t e2m1_pair(uint32_t x) { return (x + (x & 0x00080008u) * 7u) << 9; }

// E8M0 scale of a unit times the 2^15 the F16 codes lack against
// e8m0_half's (which scales twice the E2M1 values); an exponent so large
// that this overflows (a weight of 2^113 or more) stays finite, so that a
// unit of zero codes adds zero.
__device__ __forceinline__ float unit_scale(uint32_t e) { return fminf(quant::e8m0_half(e) * 32768.0f, FLT_MAX); }

template <bool kSwiGlu, uint32_t kTileM>
__global__ void __launch_bounds__(kThreads, kTileM == 64 ? 2 : 4) moe_grouped_mxfp4_kernel(const MoeGroupedArgs a) {
    static_assert(kTileM % 16 == 0 && kTileM <= 64, "m16 tiles, at most 4");
    static_assert(kTileM * 16 % kThreads == 0, "a stage's activation copies split evenly");
    constexpr uint32_t kMi = kTileM / 16, kAStage = a_stage(kTileM);
    extern __shared__ __align__(16) uint8_t smem[];
    __shared__ const uint8_t* w_row[kTileW];  // each weight row's first unit
    __shared__ uint32_t x_row[kTileM];
    // The expert products release their successor at exit (launch.cuh).
    kernel_begin_late();
    const uint32_t tile = blockIdx.y;
    if (tile >= uint32_t(a.tiles[0])) return;
    const uint32_t expert = uint32_t(a.tiles[1 + 3 * tile]), row0 = uint32_t(a.tiles[2 + 3 * tile]),
                   n_rows = uint32_t(a.tiles[3 + 3 * tile]);
    const uint32_t tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, g = lane >> 2, t4 = lane & 3;
    constexpr uint32_t kOut = kSwiGlu ? kTileW / 2 : kTileW;  // outputs a block
    const uint32_t n0 = blockIdx.x * kOut;
    const uint32_t n_units = a.cols / 32, n_stages = (n_units + kUnits - 1) / kUnits;
    const uint64_t row_bytes = quant::MXFP4G::row_bytes(a.cols);

    uint8_t* a_smem = smem;
    uint8_t* b_smem = smem + kStages * kAStage;
    if (tid < kTileM) {
        // Rows past the tile repeat its last row (their results are dropped).
        const uint32_t r = row0 + min(tid, n_rows - 1);
        x_row[tid] = a.x_row ? uint32_t(a.x_row[r]) : r;
    }
    {
        // Rows past the matrix repeat its last row (dropped as well).
        const uint32_t j = tid;
        const uint32_t half = kSwiGlu ? kTileW / 2 : kTileW;
        const void* base = (kSwiGlu && j >= half) ? a.w_up : a.w;
        const uint32_t n = min(n0 + (j % half), a.rows - 1);
        w_row[j] = static_cast<const uint8_t*>(base) + expert * a.expert_bytes + n * row_bytes;
    }
    __syncthreads();

    auto load_stage = [&](uint32_t st) {
        const uint32_t buf = st % kStages, u0 = st * kUnits, nu = min(kUnits, n_units - u0);
        // Activations: 16 copies of 16 bytes a row (fewer in a short stage).
        __half* as = reinterpret_cast<__half*>(a_smem + buf * kAStage);
#pragma unroll
        for (uint32_t k = 0; k < kTileM * 16 / kThreads; ++k) {
            const uint32_t i = tid + k * kThreads, r = i / 16, c = i % 16;
            if (c < nu * 4)
                cp_async16(as + r * kAPitch + c * 8, a.x + uint64_t(x_row[r]) * a.cols + u0 * 32 + c * 8);
        }
        // Weights: each row's nu units of codes, 16 bytes a copy, and the
        // word of the stage's scales (inside the row: a group's scale bytes
        // are 16 whatever its units).
        uint32_t* bs = reinterpret_cast<uint32_t*>(b_smem + buf * kBStage);
#pragma unroll
        for (uint32_t k = 0; k < kTileW * (kUnits + 1) / kThreads; ++k) {
            const uint32_t i = tid + k * kThreads, j = i / (kUnits + 1), c = i % (kUnits + 1);
            if (c < nu)
                cp_async16(bs + j * kBPitch + 4 * c, w_row[j] + quant::MXFP4G::codes_at(u0 + c));
            else if (c == kUnits)
                cp_async4(bs + j * kBPitch + kScaleWord, w_row[j] + quant::MXFP4G::scale_at(u0));
        }
    };

    // This thread's weight rows in a stage: the row it decodes codes of
    // (row g of each n8 tile: its unit-0 word holding code bytes 2 t4 and
    // 2 t4 + 1) and the two whose scales its outputs take (rows 2 t4,
    // 2 t4 + 1: byte offsets of their unit-0 scale).
    uint32_t code_at[4], scale_at[4][2];
    const uint32_t half_sel = t4 & 1 ? 0x7632u : 0x5410u;  // the thread's 2 bytes of each word
#pragma unroll
    for (uint32_t ni = 0; ni < 4; ++ni) {
        const uint32_t base = kSwiGlu ? (ni < 2 ? 16 * warp + 8 * ni : kTileW / 2 + 16 * warp + 8 * (ni - 2))
                                      : warp * kWarpW + 8 * ni;
        const uint32_t jc = base + g, js0 = base + 2 * t4, js1 = js0 + 1;
        code_at[ni] = jc * kBPitch + t4 / 2;
        scale_at[ni][0] = (js0 * kBPitch + kScaleWord) * 4;
        scale_at[ni][1] = (js1 * kBPitch + kScaleWord) * 4;
    }

    float acc[kMi][4][4];
#pragma unroll
    for (uint32_t mi = 0; mi < kMi; ++mi)
#pragma unroll
        for (uint32_t ni = 0; ni < 4; ++ni)
#pragma unroll
            for (uint32_t k = 0; k < 4; ++k) acc[mi][ni][k] = 0.0f;
    const float zero[4] = {0.0f, 0.0f, 0.0f, 0.0f};

#pragma unroll
    for (uint32_t s = 0; s + 1 < kStages; ++s) {
        if (s < n_stages) load_stage(s);
        cp_async_commit();
    }
    for (uint32_t st = 0; st < n_stages; ++st) {
        cp_async_wait<kStages - 2>();
        __syncthreads();  // stage st is in; the buffer of stage st - 1 is free
        if (st + kStages - 1 < n_stages) load_stage(st + kStages - 1);
        cp_async_commit();

        const uint32_t buf = st % kStages, nu = min(kUnits, n_units - st * kUnits);
        const __half* as = reinterpret_cast<const __half*>(a_smem + buf * kAStage);
        const uint8_t* bs = b_smem + buf * kBStage;
        for (uint32_t u = 0; u < nu; ++u) {
            // A fragments of the m16 tiles, both k16 halves of the unit.
            uint32_t af[kMi][2][4];
#pragma unroll
            for (uint32_t mi = 0; mi < kMi; ++mi)
#pragma unroll
                for (uint32_t h = 0; h < 2; ++h)
                    ldmatrix_x4(af[mi][h], as + (mi * 16 + (lane & 15)) * kAPitch + u * 32 + h * 16 + (lane >> 4) * 8);
#pragma unroll
            for (uint32_t ni = 0; ni < 4; ++ni) {
                // Code bytes 2 t4, 2 t4 + 1, 2 t4 + 8, 2 t4 + 9 of row g's
                // unit: elements (2 t4, 2 t4 + 1, 2 t4 + 8, 2 t4 + 9) of each
                // k16 half, low nibbles the first half, high the second.
                const uint32_t* wp = reinterpret_cast<const uint32_t*>(bs) + code_at[ni] + 4 * u;
                const uint32_t q = __byte_perm(wp[0], wp[2], half_sel);
                // Bytes 0, 1 and bytes 2, 3 of q spread to the two halves.
                const uint32_t q01 = __byte_perm(q, 0, 0x4140), q89 = __byte_perm(q, 0, 0x4342);
                const uint32_t b00 = e2m1_pair(q01 & 0x000F000Fu), b01 = e2m1_pair(q89 & 0x000F000Fu),
                               b10 = e2m1_pair((q01 >> 4) & 0x000F000Fu), b11 = e2m1_pair((q89 >> 4) & 0x000F000Fu);
                const float s0 = unit_scale(bs[scale_at[ni][0] + u]), s1 = unit_scale(bs[scale_at[ni][1] + u]);
#pragma unroll
                for (uint32_t mi = 0; mi < kMi; ++mi) {
                    float t[4];
                    mma(t, af[mi][0], b00, b01, zero);
                    mma(t, af[mi][1], b10, b11, t);
                    acc[mi][ni][0] += s0 * t[0];
                    acc[mi][ni][1] += s1 * t[1];
                    acc[mi][ni][2] += s0 * t[2];
                    acc[mi][ni][3] += s1 * t[3];
                }
            }
        }
    }
    cp_async_wait<0>();

    // Fragment (mi, ni): rows mi * 16 + g (+ 8), weight rows 2 t4 (+ 1) of
    // the n8 tile.
#pragma unroll
    for (uint32_t mi = 0; mi < kMi; ++mi) {
#pragma unroll
        for (uint32_t hr = 0; hr < 2; ++hr) {
            const uint32_t r = mi * 16 + g + 8 * hr;
            if (r >= n_rows) continue;
            const uint64_t row = row0 + r;
            if constexpr (kSwiGlu) {
#pragma unroll
                for (uint32_t ni = 0; ni < 2; ++ni) {
#pragma unroll
                    for (uint32_t c = 0; c < 2; ++c) {
                        const uint32_t n = n0 + 16 * warp + 8 * ni + 2 * t4 + c;
                        if (n >= a.rows) continue;
                        float gs = acc[mi][ni][2 * hr + c], us = acc[mi][ni + 2][2 * hr + c];
                        // as moe_add_bias, then swiglu() / swiglu_oai()
                        if (a.bias) gs += a.bias[uint64_t(expert) * a.rows + n];
                        if (a.bias_up) us += a.bias_up[uint64_t(expert) * a.rows + n];
                        const float v = a.act == GateAct::Silu ? silu_mul(gs, us) : swiglu_oai_mul(gs, us);
                        a.y16[row * a.rows + n] = __half_as_ushort(__float2half_rn(v));
                    }
                }
            } else {
#pragma unroll
                for (uint32_t ni = 0; ni < 4; ++ni) {
#pragma unroll
                    for (uint32_t c = 0; c < 2; ++c) {
                        const uint32_t n = n0 + warp * kWarpW + 8 * ni + 2 * t4 + c;
                        if (n >= a.rows) continue;
                        float v = acc[mi][ni][2 * hr + c];
                        if (a.bias) v += a.bias[uint64_t(expert) * a.rows + n];
                        a.y[row * a.rows + n] = v;
                    }
                }
            }
        }
    }
}

template <bool kSwiGlu, uint32_t kTileM>
void launch_grouped(const MoeGroupedArgs& a, cudaStream_t stream) {
    constexpr uint32_t kSmem = smem_bytes(kTileM);
    if (cudaFuncSetAttribute(moe_grouped_mxfp4_kernel<kSwiGlu, kTileM>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                             int(kSmem)) != cudaSuccess)
        fail(ORCD_CUDA_ERROR, "moe_grouped_mxfp4: " + std::to_string(kSmem) + " bytes of shared memory refused");
    constexpr uint32_t kOut = kSwiGlu ? kTileW / 2 : kTileW;
    const dim3 grid((a.rows + kOut - 1) / kOut, a.max_tiles);
    launch(moe_grouped_mxfp4_kernel<kSwiGlu, kTileM>, grid, kThreads, kSmem, stream, a);
}

template <bool kSwiGlu>
void launch_grouped(const MoeGroupedArgs& a, cudaStream_t stream) {
    if (a.tile_rows == kMoeTileRowsLarge)
        launch_grouped<kSwiGlu, kMoeTileRowsLarge>(a, stream);
    else if (a.tile_rows == kMoeTileRowsSmall)
        launch_grouped<kSwiGlu, kMoeTileRowsSmall>(a, stream);
    else
        fail(ORCD_INTERNAL, "moe_grouped_mxfp4: tiles of " + std::to_string(a.tile_rows) + " rows");
}

}  // namespace

void moe_grouped_mxfp4(const MoeGroupedArgs& a, cudaStream_t stream) {
    if (a.cols % 32 != 0 || a.rows == 0 || a.max_tiles == 0 || a.max_tiles > 65535)
        fail(ORCD_INTERNAL, "moe_grouped_mxfp4: shape outside the kernel");
    if (a.w_up) {
        if (!a.y16) fail(ORCD_INTERNAL, "moe_grouped_mxfp4: the SwiGLU form stores F16");
        launch_grouped<true>(a, stream);
    } else {
        if (!a.y) fail(ORCD_INTERNAL, "moe_grouped_mxfp4: the plain form stores F32");
        launch_grouped<false>(a, stream);
    }
    check_launch("moe_grouped_mxfp4");
}

}  // namespace orcd::cuda
