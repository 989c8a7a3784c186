// Internal UTF-8 scanning shared by utf8.cpp, the stream decoder and
// Tokenizer::decode. Invalid input is replaced following the Unicode
// "maximal subpart" practice (one U+FFFD per maximal ill-formed subpart, as
// Python, ICU and the WHATWG decoder do), so every consumer repairs a byte
// string the same way.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace orcd::utf8::detail {

inline constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

enum class Scan { Complete, Incomplete, Invalid };

// Looks at the sequence starting at s[0] (s non-empty). Complete: *len bytes
// form one valid character. Invalid: the first *len bytes are a maximal
// ill-formed subpart. Incomplete: all of s is a valid but unfinished prefix.
Scan scan(std::string_view s, size_t* len);

// Appends s to out, repairing invalid bytes. When `final` is false, an
// incomplete sequence at the end is not consumed; returns the number of bytes
// consumed (== s.size() when final).
size_t append_repaired(std::string_view s, std::string& out, bool final);

}  // namespace orcd::utf8::detail
