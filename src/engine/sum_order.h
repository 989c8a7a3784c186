// The order of the sampler's float sums (docs/sampling.md, "Sums"), shared by
// the CPU reference and the CUDA sampler so that both add the same numbers in
// the same order. Candidates fall into blocks of kSumBlock by their rank in
// candidate order; a block's members are added left to right, and the sums
// of the blocks before a candidate's block are added left to right into the
// running sum in front of it. A long sequential chain (152k additions for a
// Qwen vocabulary, three times a token) becomes independent block sums a GPU
// adds in parallel plus one chain of V / kSumBlock additions.
#pragma once

#include <cstdint>

namespace orcd {

inline constexpr uint32_t kSumBlock = 64;

}  // namespace orcd
