// The copy ceiling: a large device-to-device copy on the same card, bytes
// read plus bytes written per second. Batch-1 decoding reads every weight
// once per token, so this is the rate it is judged against.
#pragma once

#include "bench_stats.h"

#include <cstdint>
#include <string>

namespace orcd::bench {

struct CopyCeiling {
    uint64_t bytes = 0;   // size of one copy (source = destination size)
    Summary gbps;         // (2 * bytes) / time, GB/s (1e9)
    std::string note;     // e.g. the size was reduced to fit
};

// Buffers come from the project's tracked allocator; the size is halved
// (down to 256 MiB) while it does not fit next to what is already held.
CopyCeiling measure_copy_ceiling(int gpu, uint64_t bytes, int reps);

}  // namespace orcd::bench
