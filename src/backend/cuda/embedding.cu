#include "backend/cuda/cuda_check.h"
#include "backend/cuda/formats.h"
#include "backend/cuda/kernels.h"
#include "backend/cuda/launch.cuh"
#include "common/error.h"

#include <cuda_fp16.h>

#include <string>

namespace orcd::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void embedding_f32_kernel(float* out, const float* table, uint64_t row_len, const int32_t* ids) {
    kernel_begin();
    const float* row = table + uint64_t(ids[blockIdx.x]) * row_len;
    float* o = out + uint64_t(blockIdx.x) * row_len;
    for (uint64_t i = threadIdx.x; i < row_len; i += blockDim.x) o[i] = row[i];
}

__global__ void embedding_f16_kernel(float* out, const __half* table, uint64_t row_len, const int32_t* ids) {
    kernel_begin();
    const __half* row = table + uint64_t(ids[blockIdx.x]) * row_len;
    float* o = out + uint64_t(blockIdx.x) * row_len;
    for (uint64_t i = threadIdx.x; i < row_len; i += blockDim.x) o[i] = __half2float(row[i]);
}

__device__ __forceinline__ uint32_t position(uint32_t pos0, const uint32_t* dev_pos) {
    return dev_pos ? pos0 + *dev_pos : pos0;
}

__global__ void add_position_kernel(float* out, const float* table, uint64_t row_len, uint32_t pos0,
                                    const uint32_t* dev_pos) {
    kernel_begin();
    const float* row = table + uint64_t(position(pos0, dev_pos) + blockIdx.x) * row_len;
    float* o = out + uint64_t(blockIdx.x) * row_len;
    for (uint64_t i = threadIdx.x; i < row_len; i += blockDim.x) o[i] += row[i];
}

}  // namespace

void embed_f32(float* out, const void* table, uint64_t row_len, const int32_t* ids, uint32_t n, cudaStream_t stream) {
    launch(embedding_f32_kernel, n, kThreads, 0, stream, out, static_cast<const float*>(table), row_len, ids);
}

void embed_f16(float* out, const void* table, uint64_t row_len, const int32_t* ids, uint32_t n, cudaStream_t stream) {
    launch(embedding_f16_kernel, n, kThreads, 0, stream, out, static_cast<const __half*>(table), row_len, ids);
}

void embedding(float* out, const void* table, gguf::TensorType type, uint64_t row_len, const int32_t* ids,
               uint32_t n_tokens, cudaStream_t stream) {
    if (n_tokens == 0) return;
    const Format* f = format_of(type);
    if (!f) fail(ORCD_INTERNAL, std::string("embedding: unsupported type ") + gguf::tensor_type_name(type));
    f->embed(out, table, row_len, ids, n_tokens, stream);
    check_launch("embedding");
}

void add_position_embedding(float* out, const float* table, uint64_t row_len, uint32_t n_tokens, uint32_t pos0,
                            const uint32_t* dev_pos, cudaStream_t stream) {
    if (n_tokens == 0) return;
    launch(add_position_kernel, n_tokens, kThreads, 0, stream, out, table, row_len, pos0, dev_pos);
    check_launch("add_position_embedding");
}

}  // namespace orcd::cuda
