// Asynchronous bulk copies from global to shared memory (the copy engine of
// sm_90, cp.async.bulk) completing on a shared-memory barrier (mbarrier).
// One thread asks for a whole run of bytes; the bytes arrive while every
// thread of the block computes on earlier runs, so a block keeps as many
// bytes in flight as it has buffers, independent of its registers.
//
// A buffer's life: init(bar) once; expect(bar, n) then copy() of n bytes in
// total by one thread; wait(bar, phase) by the readers; after the readers
// are done (a block barrier), release_to_copies() then the next expect/copy.
#pragma once

#include <cstdint>

namespace orcd::cuda::bulk {

__device__ __forceinline__ uint32_t smem_addr(const void* p) {
    return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// Arms the barrier for one arrival (the thread that issues the copies).
__device__ __forceinline__ void init(uint64_t* bar) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;" ::"r"(smem_addr(bar)) : "memory");
}

// Makes the initialised barriers visible to the copy engine; then a block
// barrier before any thread uses them.
__device__ __forceinline__ void init_done() { asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory"); }

// The arrival of this phase, announcing `bytes` to come by copy().
__device__ __forceinline__ void expect(uint64_t* bar, uint32_t bytes) {
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(smem_addr(bar)), "r"(bytes)
                 : "memory");
}

// bytes from src (global) to dst (shared); both 16-byte aligned, bytes a
// multiple of 16.
__device__ __forceinline__ void copy(void* dst, const void* src, uint32_t bytes, uint64_t* bar) {
    asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];" ::"r"(
                     smem_addr(dst)),
                 "l"(src), "r"(bytes), "r"(smem_addr(bar))
                 : "memory");
}

// Until the phase of the given parity (0 for the first use of the buffer,
// then alternating) has completed: every announced byte has arrived.
__device__ __forceinline__ void wait(uint64_t* bar, uint32_t parity) {
    asm volatile(
        "{\n"
        ".reg .pred done;\n"
        "WAIT:\n"
        "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
        "@!done bra WAIT;\n"
        "}\n" ::"r"(smem_addr(bar)),
        "r"(parity)
        : "memory");
}

// Orders this thread's view of shared memory (the block's reads of a
// buffer, made visible to it by a block barrier) before the copy engine's
// next writes to it.
__device__ __forceinline__ void release_to_copies() { asm volatile("fence.proxy.async.shared::cta;" ::: "memory"); }

}  // namespace orcd::cuda::bulk
