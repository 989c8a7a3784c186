// The list of files scripts/bench.sh benchmarked, one line per file,
// tab-separated:
//   model  format  info.json  worker-orcd-bench.json  llama-bench.json  note
// (an empty field or "-": absent; a relative path is relative to the
// manifest's folder; lines starting with # are comments), read
// into CompareEntry values with every JSON file loaded. A file that is named
// but missing or unreadable leaves its part empty with the reason.
#pragma once

#include "compare_table.h"

#include <string>
#include <vector>

namespace orcd::bench {

// Throws std::runtime_error when the manifest itself cannot be read or a
// line has fewer than five fields.
std::vector<CompareEntry> load_manifest(const std::string& path);

}  // namespace orcd::bench
