#include "bench_format.h"

#include <cmath>
#include <cstdio>

namespace orcd::bench {

std::string fmt_figure(double v) {
    char buf[64];
    const double a = std::fabs(v);
    if (a >= 100) std::snprintf(buf, sizeof buf, "%.1f", v);
    else if (a >= 10) std::snprintf(buf, sizeof buf, "%.2f", v);
    else std::snprintf(buf, sizeof buf, "%.3f", v);
    return buf;
}

std::string fmt_gb(uint64_t bytes) { return fmt_figure(double(bytes) / 1e9) + " GB"; }

}  // namespace orcd::bench
