// Boost's assertion handler for every target that compiles Boost.Beast
// (BOOST_ENABLE_ASSERT_DEBUG_HANDLER: builds without NDEBUG only; release
// builds check nothing, as before). It reports and aborts as assert() does,
// with one exception: Beast before Boost 1.86 asserts that at least 5 bytes
// are buffered when it parses a body's final chunk header again
// (basic_parser::parse_chunk_header, "n >= 5"), yet 3 or 4 can be when no
// CRLF is pending, as when a client sends "0\r\n\r\n" a byte at a time;
// the code after the assertion handles that case (it asks for more bytes),
// and Boost 1.86 corrected the assertion. Skipping that one assertion gives
// these builds the release builds' behaviour instead of an abort.
#include <boost/assert.hpp>
#include <boost/version.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace boost {

void assertion_failed(char const* expr, char const* function, char const* file, long line) {
#if BOOST_VERSION < 108600
    if (std::strcmp(expr, "n >= 5") == 0 && std::strstr(function, "parse_chunk_header") != nullptr) return;
#endif
    std::fprintf(stderr, "%s:%ld: %s: Assertion `%s' failed.\n", file, line, function, expr);
    std::abort();
}

void assertion_failed_msg(char const* expr, char const* msg, char const* function, char const* file, long line) {
    std::fprintf(stderr, "%s:%ld: %s: Assertion `%s' failed: %s\n", file, line, function, expr, msg);
    std::abort();
}

}  // namespace boost
