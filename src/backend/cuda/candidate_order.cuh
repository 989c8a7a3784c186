// The order of candidates by logit, shared by the device's argmax
// (sampling_kernels.cu) and its log-probabilities' top lists (logprobs.cu):
// logit descending, then id ascending. It is the host's order
// (engine/sampler.cpp's argmax, engine/logprobs.cpp's top list): -0 and +0
// tie and go by id.
#pragma once

#include <cstdint>

namespace orcd::cuda {

// (v, i) comes before (bv, bi).
__device__ __forceinline__ bool precedes(float v, int32_t i, float bv, int32_t bi) {
    return v > bv || (v == bv && i < bi);
}

// Every lane of the warp ends with the first of the warp's 32 candidates.
__device__ __forceinline__ void warp_first(float& v, int32_t& i) {
    for (int o = 16; o > 0; o >>= 1) {
        const float ov = __shfl_xor_sync(0xffffffffu, v, o);
        const int32_t oi = __shfl_xor_sync(0xffffffffu, i, o);
        if (precedes(ov, oi, v, i)) {
            v = ov;
            i = oi;
        }
    }
}

}  // namespace orcd::cuda
