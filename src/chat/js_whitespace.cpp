#include "chat/js_whitespace.h"

#include <cstdint>

namespace orcd::chat {
namespace {

bool is_js_space(uint32_t cp) {
    switch (cp) {
        case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x20:
        case 0xA0: case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F:
        case 0x3000: case 0xFEFF:
            return true;
        default:
            return cp >= 0x2000 && cp <= 0x200A;
    }
}

// Length of the UTF-8 sequence starting at s[0] and its code point; an
// invalid byte counts as one non-space unit.
size_t decode(std::string_view s, uint32_t& cp) {
    const auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
    const unsigned char c = b(0);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || n > s.size()) {
        cp = 0xFFFFFFFF;
        return 1;
    }
    cp = n == 1 ? c : c & (0x7F >> n);
    for (size_t i = 1; i < n; ++i) cp = (cp << 6) | (b(i) & 0x3F);
    return n;
}

// Byte length of the whitespace code point that ends s, or 0.
size_t trailing_space(std::string_view s) {
    for (size_t n = 1; n <= 4 && n <= s.size(); ++n) {
        const unsigned char lead = static_cast<unsigned char>(s[s.size() - n]);
        if ((lead & 0xC0) == 0x80) continue;  // a continuation byte: look further back
        uint32_t cp = 0;
        return decode(s.substr(s.size() - n), cp) == n && is_js_space(cp) ? n : 0;
    }
    return 0;
}

}  // namespace

std::string_view js_trim_start(std::string_view s) {
    while (!s.empty()) {
        uint32_t cp = 0;
        const size_t n = decode(s, cp);
        if (!is_js_space(cp)) break;
        s.remove_prefix(n);
    }
    return s;
}

std::string_view js_trim_end(std::string_view s) {
    while (const size_t n = trailing_space(s)) s.remove_suffix(n);
    return s;
}

std::string_view js_trim(std::string_view s) { return js_trim_end(js_trim_start(s)); }

void js_trim_segments(std::vector<Segment>& segments) {
    for (auto it = segments.begin(); it != segments.end();) {
        it->text = std::string(js_trim_start(it->text));
        if (!it->text.empty()) break;
        it = segments.erase(it);
    }
    while (!segments.empty()) {
        segments.back().text = std::string(js_trim_end(segments.back().text));
        if (!segments.back().text.empty()) break;
        segments.pop_back();
    }
}

}  // namespace orcd::chat
