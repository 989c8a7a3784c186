// The engine's one exception type. It carries a code of the C API's error
// table (include/orcd/orcd.h), so every failure below the C API maps to
// exactly one row of that table; the C API catches it and turns it into a
// return code plus the thread-local detail string.
#pragma once

#include <orcd/orcd.h>

#include <stdexcept>
#include <string>

namespace orcd {

class Error : public std::runtime_error {
public:
    Error(orcd_status code, const std::string& detail) : std::runtime_error(detail), code_(code) {}
    orcd_status code() const noexcept { return code_; }

private:
    orcd_status code_;
};

[[noreturn]] inline void fail(orcd_status code, const std::string& detail) { throw Error(code, detail); }

}  // namespace orcd
