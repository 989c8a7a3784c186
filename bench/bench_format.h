// How figures are written in the bench's tables: three significant digits
// or more (12.3 ms, 4.56 ms, 221.3 tok/s, 28671.4 tok/s), bytes in GB.
#pragma once

#include <cstdint>
#include <string>

namespace orcd::bench {

std::string fmt_figure(double v);
std::string fmt_gb(uint64_t bytes);  // "13.48 GB"

}  // namespace orcd::bench
