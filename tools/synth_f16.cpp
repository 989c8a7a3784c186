#include "synth_random.h"

#include "gguf/gguf.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace orcd::synth {

namespace {

#if defined(__x86_64__)
// Compiled for F16C regardless of the build's baseline; only called after
// the CPU says it has the instructions.
__attribute__((target("avx,f16c"))) void convert_f16c(const float* src, uint16_t* dst, uint64_t n) {
    uint64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(src + i);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i),
                         _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
    for (; i < n; ++i) dst[i] = gguf::fp32_to_fp16(src[i]);
}
#endif

}  // namespace

void convert_to_f16(const float* src, uint16_t* dst, uint64_t n) {
#if defined(__x86_64__)
    static const bool has_f16c = __builtin_cpu_supports("f16c") && __builtin_cpu_supports("avx");
    if (has_f16c) {
        convert_f16c(src, dst, n);
        return;
    }
#endif
    for (uint64_t i = 0; i < n; ++i) dst[i] = gguf::fp32_to_fp16(src[i]);
}

}  // namespace orcd::synth
