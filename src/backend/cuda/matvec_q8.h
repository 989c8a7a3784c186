// The batch-1 product of the integer-code block formats against activations
// rounded to 8 bits per 32-element unit (quant_q8.cuh; kernels in
// matvec_q8.cu). V is one of quant_q8.cuh's format structs.
#pragma once

#include "backend/cuda/formats.h"
#include "backend/cuda/matvec_launch.h"

#include <cuda_runtime_api.h>

#include <cstdint>

namespace orcd::cuda {

// Bytes of one 32-element unit of rounded activations (quant_q8.cuh XUnit).
constexpr uint64_t kQ8UnitBytes = 48;

// One launch over a.n_seg segments with the epilogue e; false (nothing
// launched) when the row length is outside the kernel (x is staged in 48 KiB
// of shared memory: at most 32768 columns) or a.norm_w is not 16-byte
// aligned. The norm (a.norm_w) is staged with x.
template <class V>
bool q8_matvec(const MatvecArgs& a, Epilogue e, uint64_t row_bytes, cudaStream_t stream);
// The same with Epilogue::Store over segments of two formats: [0, n_first)
// rows of V (row_bytes each), the rest rows of VB (row_bytes_b); false
// (nothing launched) where either format's q8_matvec would refuse a, or
// n_first leaves a format no segment. Instantiated for the pairs of
// formats.h's Format::matvec_then.
template <class V, class VB>
bool q8_matvec_pair(const MatvecArgs& a, uint32_t n_first, uint64_t row_bytes, uint64_t row_bytes_b,
                    cudaStream_t stream);

// The warps that share each of a dense product's n_groups row groups (row
// pairs; SwiGlu: outputs) of n_steps steps a row (32-element units; K-quant
// formats: 64) on this device: 1, or up to 4 where the groups fit one round
// of the machine's warps (matvec_q8.cu's split products). The split never
// changes a sum's bits.
uint32_t q8_split_parts(uint32_t n_groups, uint32_t n_steps);

// The rows a warp takes at a time in a SwiGlu product of `outputs` outputs
// of n_steps steps a row on this device: 2 (one output's gate and up rows),
// or 4 (two outputs) where a row is at most one step a lane and the outputs
// are more than one round of the machine's warps (matvec_q8.cu). The rows a
// warp takes never change a sum's bits.
uint32_t q8_swiglu_rows(uint64_t outputs, uint32_t n_steps);

// The expert products of formats.h's MoeGateUpArgs / MoeDownArgs against
// 8-bit activations; false (nothing launched) when the staged x or
// activations would not fit 48 KiB of shared memory. The gate/up product
// also writes a.units where q8_moe_rounds_units(a); the down product copies
// a.units where set instead of rounding a.act.
bool q8_moe_rounds_units(const MoeGateUpArgs& a);  // a.units set, a.rows a whole number of units
template <class V>
bool q8_moe_gate_up(const MoeGateUpArgs& a, uint64_t row_bytes, cudaStream_t stream);
template <class V>
bool q8_moe_down(const MoeDownArgs& a, uint64_t row_bytes, cudaStream_t stream);

}  // namespace orcd::cuda
