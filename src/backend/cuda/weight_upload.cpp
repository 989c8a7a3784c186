#include "backend/cuda/weight_upload.h"

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cuda_handles.h"
#include "backend/cuda/device_memory.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>

namespace orcd::cuda {
namespace {

// Owns the ring; on any exit it waits for copies still reading the staging
// buffers before they are freed.
struct StagingRing {
    std::array<PinnedHostBuffer, kStagingBuffers> buf;
    std::array<OwnedEvent, kStagingBuffers> done;
    cudaStream_t stream;

    StagingRing(uint64_t chunk, cudaStream_t s) : stream(s) {
        for (auto& b : buf) b = PinnedHostBuffer(chunk);
    }
    ~StagingRing() { (void)cudaStreamSynchronize(stream); }
};

}  // namespace

UploadStats upload_image(uint8_t* dst, uint64_t image_bytes, const std::vector<UploadSegment>& segments,
                         uint64_t chunk_bytes, cudaStream_t stream,
                         const std::function<void(int, uint64_t, uint64_t)>& progress) {
    const auto t0 = std::chrono::steady_clock::now();
    const uint64_t chunk = std::clamp<uint64_t>(std::min(chunk_bytes, std::max<uint64_t>(image_bytes, 1)),
                                                4096, 1ull << 30);
    auto report = [&](int pct, uint64_t done) {
        if (progress) progress(pct, done, image_bytes);
    };
    report(0, 0);
    int next_mark = 25;
    {
        StagingRing ring(chunk, stream);
        size_t seg = 0;
        uint64_t index = 0;
        for (uint64_t off = 0; off < image_bytes; off += chunk, ++index) {
            const uint64_t len = std::min(chunk, image_bytes - off), end = off + len;
            const size_t slot = index % kStagingBuffers;
            if (index >= kStagingBuffers) ORCD_CUDA_CHECK(cudaEventSynchronize(ring.done[slot].get()));
            uint8_t* stage = ring.buf[slot].data();
            uint64_t cursor = off;
            while (seg < segments.size() && segments[seg].dst_offset < end) {
                const UploadSegment& s = segments[seg];
                const uint64_t a = std::max(s.dst_offset, off), b = std::min(s.dst_offset + s.bytes, end);
                if (a > cursor) std::memset(stage + (cursor - off), 0, a - cursor);
                if (b > a) std::memcpy(stage + (a - off), s.src + (a - s.dst_offset), b - a);
                cursor = std::max(cursor, b);
                if (s.dst_offset + s.bytes <= end)
                    ++seg;
                else
                    break;  // the segment continues in the next chunk
            }
            if (cursor < end) std::memset(stage + (cursor - off), 0, end - cursor);
            ORCD_CUDA_CHECK(cudaMemcpyAsync(dst + off, stage, len, cudaMemcpyHostToDevice, stream));
            ORCD_CUDA_CHECK(cudaEventRecord(ring.done[slot].get(), stream));
            while (next_mark <= 75 && end * 100 >= uint64_t(next_mark) * image_bytes) {
                report(next_mark, end);
                next_mark += 25;
            }
        }
        ORCD_CUDA_CHECK(cudaStreamSynchronize(stream));
    }
    while (next_mark <= 75) {  // an empty image
        report(next_mark, image_bytes);
        next_mark += 25;
    }
    report(100, image_bytes);
    UploadStats st;
    st.bytes = image_bytes;
    st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return st;
}

}  // namespace orcd::cuda
