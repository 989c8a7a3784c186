// Host -> device upload of the weight image through a small ring of pinned
// staging buffers: while the DMA engine copies chunk i, the host fills chunk
// i+1 from the mapped file, so the disk/page-cache read and the PCIe copy
// overlap. Chunks cut the contiguous device image, not the tensors, so small
// tensors share one copy.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <functional>
#include <vector>

namespace orcd::cuda {

struct UploadSegment {
    uint64_t dst_offset;  // into the device image
    const uint8_t* src;   // host bytes (the mapped file)
    uint64_t bytes;
};

struct UploadStats {
    uint64_t bytes = 0;
    double seconds = 0;
    double gbps() const { return seconds > 0 ? double(bytes) / seconds / 1e9 : 0; }
};

constexpr int kStagingBuffers = 3;

// Segments sorted by dst_offset, non-overlapping, inside [0, image_bytes);
// gaps are zero-filled. progress(percent, done, total) is called for 0, 25,
// 50, 75 and 100, each once.
UploadStats upload_image(uint8_t* dst, uint64_t image_bytes, const std::vector<UploadSegment>& segments,
                         uint64_t chunk_bytes, cudaStream_t stream,
                         const std::function<void(int, uint64_t, uint64_t)>& progress);

}  // namespace orcd::cuda
