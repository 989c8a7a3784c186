// Kernel launches that overlap their predecessor (programmatic dependent
// launch, sm_90).
//
// A decode step is a chain of ~10 kernels a layer, most of them short: at
// batch 1 each boundary used to leave the memory idle while the last blocks
// of one kernel drained and the next one was launched and ramped up. Every
// kernel this backend defines is launched with launch() (cuBLAS's and CUB's
// are not: they neither start early nor release their successor early),
// which lets the next
// kernel of the stream start as soon as every block of the running one has
// passed kernel_begin(); the newcomer's blocks take multiprocessors as they
// free up, may read what does not depend on its predecessors (the weight
// products ask for their first rows: the 8-bit ones into shared memory, the
// F16/F32 ones into L2), and wait in kernel_begin() until the predecessor
// grid has completed and its writes are visible.
//
// Measured on an H200 against serial launches: Llama-2-7B and Phi-3-mini
// Q4_K_M decode 12% faster, Qwen2.5-0.5B 19%. A kernel whose blocks do not
// all fit at once is the exception: released early, its dependents sit
// resident beside it and take warp slots its later blocks need. The
// prompt's grouped expert GEMM (moe_gemm.cu) therefore begins with
// kernel_begin_late() and its successor launches when it completes. (The
// decode expert products did so too while they ran in more than one wave:
// GPT-OSS-20B 4.5% slower released early then; in one wave, released early
// is 2.9% faster on an H100. Releasing every kernel's dependents only at
// its exit cost the dense models 9-13%.) bench/NOTES.md, 14, 16 and 34.
//
// The rule that keeps this correct: every kernel calls kernel_begin() in
// every thread before it reads anything another kernel wrote or writes
// anything at all. Completion is then transitive (a kernel completes only
// after its predecessor did), so a kernel may read outputs of any earlier
// kernel. Before its kernel_begin() a kernel may read what kernels at least
// two launches back wrote: it was launched only once every block of its
// predecessor had passed kernel_begin() or left without writing (at least
// one block of every kernel launched here passes it; other kernels start
// only after their predecessor completed), by which time the kernel before
// that had completed. Decode attention reads the step's position and the
// keys cached by earlier steps so (attention.cu), the experts' gate/up
// product its input (matvec_q8.cu). Arithmetic and its order
// are untouched: results are bitwise the same with the overlap off
// (ORCD_CUDA_PDL=0: a switch for measuring it, not a tuning knob).
#pragma once

#include "backend/cuda/launch.h"

#include <cuda_runtime_api.h>

#include <cstdint>
#include <utility>

namespace orcd::cuda {

// Waits for the predecessor grids (a no-op when launched without overlap),
// then lets the next kernel of the stream begin launching.
__device__ __forceinline__ void kernel_begin() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

// kernel_begin() without releasing the next kernel early: it launches when
// this grid completes (the grouped expert GEMM, above).
__device__ __forceinline__ void kernel_begin_late() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

// Asks L2 for the bytes [p, p + n) in 128-byte lines, the block's threads
// sharing the lines; never touches an address outside the range.
__device__ __forceinline__ void prefetch_l2(const void* p, uint64_t n) {
    const char* b = static_cast<const char*>(p);
    for (uint64_t off = uint64_t(threadIdx.x) * 128; off < n; off += uint64_t(blockDim.x) * 128)
        asm volatile("prefetch.global.L2 [%0];" ::"l"(b + off));
}

// kernel<<<grid, block, smem, stream>>>(args...), overlapping its
// predecessor as above. Errors are left for check_launch() to read.
template <class... P, class... A>
void launch(void (*kernel)(P...), dim3 grid, dim3 block, size_t smem, cudaStream_t stream, A&&... args) {
    cudaLaunchAttribute attr[1];
    attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attr[0].val.programmaticStreamSerializationAllowed = overlap_launches() ? 1 : 0;
    cudaLaunchConfig_t cfg{};
    cfg.gridDim = grid;
    cfg.blockDim = block;
    cfg.dynamicSmemBytes = smem;
    cfg.stream = stream;
    cfg.attrs = attr;
    cfg.numAttrs = 1;
    (void)cudaLaunchKernelEx(&cfg, kernel, std::forward<A>(args)...);
}

}  // namespace orcd::cuda
