// Hexadecimal digits, for the text forms that carry a byte as two of them
// (a vocabulary's "<0xNN>" tokens, a URL path's %XX escapes).
#pragma once

namespace orcd {

// The value of one hexadecimal digit (either case), or -1.
inline int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

// The byte two hexadecimal digits spell, high one first, or -1.
inline int hex_byte(char hi, char lo) {
    const int h = hex_digit(hi), l = hex_digit(lo);
    return h < 0 || l < 0 ? -1 : h * 16 + l;
}

}  // namespace orcd
