// The CUDA backend's weight-format table: for each GGUF block format it
// computes, how a batch-1 product runs (the fused matvec of the format, with
// the epilogues of matvec_launch.h), how rows decode to F16 for the
// tensor-core GEMM of prefill, and how embedding rows decode. Every path
// dispatches through this table once; a type without an entry fails at load
// naming the tensor and the type.
#pragma once

#include "backend/cuda/kernels.h"
#include "backend/cuda/matvec_launch.h"
#include "gguf/gguf.h"

#include <cuda_runtime_api.h>

#include <cstdint>
#include <string>

namespace orcd::cuda {

// A mixture-of-experts layer's expert products for n tokens, each with its
// n_used selected experts (ids [n][n_used], weights [n][n_used]); the
// experts are stacked matrices of one format, expert_bytes apart.
struct MoeGateUpArgs {
    const void *gate, *up;         // [n_expert][rows][cols]
    const float *b_gate, *b_up;    // [n_expert][rows] (may be null)
    uint64_t expert_bytes;
    const float* x;                // [n][cols]
    const int32_t* ids;            // [n][n_used]
    float* out;                    // [n][n_used][rows]: act(gate x + b, up x + b)
    uint32_t rows, cols, n_used, n_tokens;
    GateAct act;
    // Where not null, out also rounded to 8 bits as the down product stages
    // it ([n][n_used][rows / 32] units of quant_q8.cuh's XUnit, in element
    // order), so that the down product copies its input instead of rounding
    // it in each of its blocks. Written only where moe_gate_up says so.
    void* units = nullptr;
    // Set where x was written two or more launches before this product: it
    // may then be read before the wait (launch.cuh).
    bool x_early = false;
};
struct MoeDownArgs {
    const void* down;              // [n_expert][rows][cols]
    const float* b_down;           // [n_expert][rows] (may be null)
    uint64_t expert_bytes;
    const float* act;              // [n][n_used][cols]
    const int32_t* ids;
    const float* weights;          // [n][n_used]
    float* x;                      // [n][rows]: x += sum_j weights[j] * (down_j act_j + b_j), j in order
    uint32_t rows, cols, n_used, n_tokens;
    const void* units = nullptr;   // act rounded by the gate/up product (MoeGateUpArgs::units), or null
};

// A prompt chunk's expert products with the (token, slot) pairs grouped by
// expert (moe_sort, kernels.h): tile i of the table covers grouped rows
// [row0, row0 + n) of one expert. The SwiGLU form multiplies each grouped
// row by its expert's gate and up matrices and stores the activation in
// F16 (the next product's input); the plain form stores W x + b in F32.
struct MoeGroupedArgs {
    const void* w = nullptr;                 // [n_expert][rows][cols] (SwiGLU: gate)
    const void* w_up = nullptr;              // SwiGLU: up, beside w (null: the plain form)
    const float* bias = nullptr;             // [n_expert][rows] (may be null)
    const float* bias_up = nullptr;
    uint64_t expert_bytes = 0;
    const uint16_t* x = nullptr;             // F16 rows of cols
    const int32_t* x_row = nullptr;          // grouped row r multiplies x row x_row[r] (null: row r)
    const int32_t* tiles = nullptr;          // moe_sort's table
    uint32_t max_tiles = 0;                  // its capacity (moe_max_tiles)
    uint32_t tile_rows = kMoeTileRowsLarge;  // its tiles' height (moe_tile_rows)
    float* y = nullptr;                      // plain: [grouped rows][rows]
    uint16_t* y16 = nullptr;                 // SwiGLU: [grouped rows][rows], F16(act(gate x + b, up x + b))
    uint32_t rows = 0, cols = 0;
    GateAct act = GateAct::Silu;
};

struct Format {
    gguf::TensorType type;
    // One launch over a.n_seg segments of this format. Grid and block sizes
    // are the format's own; rows are summed in a fixed order. Returns false,
    // launching nothing, when a.norm_w is set and the kernel cannot stage
    // the norm for these arguments.
    bool (*matvec)(const MatvecArgs& a, Epilogue e, cudaStream_t stream);
    // out[r][:] = F16(row r) for r < rows (row-major, ne0 per row); null when
    // the GEMM reads the weights as stored (F32, F16).
    void (*to_f16)(uint16_t* out, const void* w, uint64_t ne0, uint64_t rows, cudaStream_t stream);
    // out[t][:] = F32(row ids[t]).
    void (*embed)(float* out, const void* table, uint64_t row_len, const int32_t* ids, uint32_t n_tokens,
                  cudaStream_t stream);
    // Expert products of a mixture of experts (null: experts in this format
    // are not computed). moe_gate_up returns whether it wrote a.units (set,
    // rows a whole number of units, and the 8-bit kernel taken).
    bool (*moe_gate_up)(const MoeGateUpArgs& a, cudaStream_t stream);
    void (*moe_down)(const MoeDownArgs& a, cudaStream_t stream);
    // The batch-1 product and the expert products round x to 8 bits per
    // 32-element unit (quant_q8.cuh): their error bound is that rounding's,
    // not F32's.
    bool q8_activations = false;
    // The grouped expert products of a prompt chunk, read in the block
    // format (null: each expert's rows decode to F16 for a cuBLAS GEMM,
    // which needs the grouping on the host).
    void (*moe_grouped)(const MoeGroupedArgs& a, cudaStream_t stream) = nullptr;
    // Stacks of experts (3-D tensors) of this type live in VRAM in the
    // layout of `experts` (null: as stored in the file), which load()
    // rewrites them into with its `regroup`. MXFP4's experts: MXFP4G
    // (quant_blocks.cuh), each unit's codes at a 16-byte boundary.
    const Format* experts = nullptr;
    // Q/K/V of two formats in one launch (Epilogue::Store): the segments
    // [0, n_first) in this format, the rest in `next`. Returns false,
    // launching nothing, where the pair has no kernel or the kernel refuses
    // the arguments (as matvec does); the caller then launches each format
    // on its own. Q4_K_M files give some layers' V another format than Q
    // and K (Q6_K beside Q4_K; Q8_0 beside Q5_0 where rows are not a multiple
    // of 256), and that launch of a few rows cost as much time as a product.
    bool (*matvec_then)(const MatvecArgs& a, uint32_t n_first, gguf::TensorType next, cudaStream_t stream) = nullptr;
    // This layout's bytes a row of ne0 elements (null: the file's).
    uint64_t (*row_bytes)(uint64_t ne0) = nullptr;
    // dst (rows of row_bytes(ne0)) = the rows of src in the file's layout.
    void (*regroup)(uint8_t* dst, const uint8_t* src, uint64_t ne0, uint64_t rows, cudaStream_t stream) = nullptr;
};

// The entry of `type`, or nullptr when the CUDA backend does not compute it.
const Format* format_of(gguf::TensorType type);
// The entry a tensor of `type` is kept and computed in: experts (a stack of
// matrices, or one matrix of it) take their type's `experts` layout where
// it has one.
const Format* layout_of(gguf::TensorType type, bool experts);
// Bytes of a row of ne0 elements of `type` in VRAM, in that layout.
uint64_t device_row_bytes(gguf::TensorType type, bool experts, uint64_t ne0);
// The types with an entry, in table order (for --version and errors).
std::string supported_formats();

// The entries' functions, defined beside their kernels.
// The F32 and F16 products stage a norm (MatvecArgs::norm_w) for rows of up
// to this many elements, with a 16-byte aligned x and norm_w. Each block
// reads the norm's weights and x from L2 as it stages them: on an H200,
// TinyLlama-1.1B F16 (2048) decoded 8% faster than with the norm kernel,
// Llama-2-7B F16 (4096) 3-4% slower, its larger products paying more for
// those reads than the launch saved (bench/NOTES.md 29).
constexpr uint32_t kPlainNormCols = 2048;
bool matvec_f32(const MatvecArgs& a, Epilogue e, cudaStream_t stream);
bool matvec_f16(const MatvecArgs& a, Epilogue e, cudaStream_t stream);
void embed_f32(float* out, const void* table, uint64_t row_len, const int32_t* ids, uint32_t n, cudaStream_t stream);
void embed_f16(float* out, const void* table, uint64_t row_len, const int32_t* ids, uint32_t n, cudaStream_t stream);
// The block formats' entries (matvec_quant.cu).
extern const Format kQuantFormats[];
// MXFP4's grouped expert products (moe_gemm.cu).
void moe_grouped_mxfp4(const MoeGroupedArgs& a, cudaStream_t stream);
extern const size_t kQuantFormatCount;

}  // namespace orcd::cuda
