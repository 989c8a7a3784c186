// The arguments of one batch-1 matrix-vector launch, shared by the matvec
// kernels of every weight format (formats.h). Up to three matrices of the
// same format and row length multiplied by the same x in one launch (Q, K,
// V); blocks [block_begin, next block_begin) work on segment s. SwiGlu uses
// one segment: w = gate, w_up = up.
#pragma once

#include "common/error.h"

#include <cuda_runtime_api.h>

#include <climits>
#include <cstdint>

namespace orcd::cuda {

enum class Epilogue {
    Store,   // y[r] = (W x)[r] (+ bias[r])
    Add,     // y[r] = y[r] + ((W x)[r] (+ bias[r])): the residual add fused
    SwiGlu,  // y[r] = act((Wg x)[r] (+ bias[r]), (Wu x)[r] (+ bias_up[r]))
};

// The activation of a SwiGlu epilogue.
enum class GateAct : uint8_t { Silu, SiluOai };

struct MatvecSegment {
    const void* w;
    float* y;
    const float* bias;  // may be null
    uint32_t rows;
    uint32_t block_begin;
};

struct MatvecArgs {
    MatvecSegment seg[3];
    const void* w_up;
    const float* bias_up;
    const float* x;
    // When set, the product is of RMSNorm(x) * norm_w (norm.cuh) rather than
    // of x: the kernel normalises x while staging it. A format entry that
    // cannot stage the norm for these arguments launches nothing and returns
    // false (formats.h); the caller then normalises into a buffer first.
    const float* norm_w;
    float norm_eps;
    uint32_t cols;
    uint32_t n_seg;
    GateAct act;
};

// Gives each of the n_seg segments its run of units (blocks or tiles of
// rows_per_unit rows) in order, marks the unused segments as never reached,
// and returns the number of units: the grid, or the tiles a grid walks.
inline uint32_t assign_segment_units(MatvecArgs& a, uint32_t rows_per_unit) {
    uint32_t units = 0;
    for (uint32_t s = 0; s < 3; ++s) {
        if (s < a.n_seg) {
            a.seg[s].block_begin = units;
            units += (a.seg[s].rows + rows_per_unit - 1) / rows_per_unit;
        } else {
            a.seg[s].block_begin = UINT_MAX;
        }
    }
    return units;
}

// The current device's multiprocessor count: the kernels that stage x once
// per block size their grid to what fits on the card at once.
inline uint32_t sm_count() {
    int dev = 0, n = 0;
    if (cudaGetDevice(&dev) != cudaSuccess || cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess)
        fail(ORCD_CUDA_ERROR, "cannot read the multiprocessor count");
    return uint32_t(n);
}

}  // namespace orcd::cuda
