#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8_repair.h"

namespace orcd::utf8 {

namespace detail {

namespace {

// The range the second byte must fall in, which is what rules out overlongs
// (E0, F0), surrogates (ED) and code points above U+10FFFF (F4).
void second_byte_range(unsigned char lead, unsigned char* lo, unsigned char* hi) {
    *lo = 0x80;
    *hi = 0xBF;
    if (lead == 0xE0) *lo = 0xA0;
    else if (lead == 0xED) *hi = 0x9F;
    else if (lead == 0xF0) *lo = 0x90;
    else if (lead == 0xF4) *hi = 0x8F;
}

}  // namespace

Scan scan(std::string_view s, size_t* len) {
    const auto lead = static_cast<unsigned char>(s[0]);
    const int need = sequence_length(lead);
    if (need == 0) {
        *len = 1;
        return Scan::Invalid;
    }
    for (int k = 1; k < need; ++k) {
        if (static_cast<size_t>(k) >= s.size()) {
            *len = s.size();
            return Scan::Incomplete;
        }
        const auto b = static_cast<unsigned char>(s[static_cast<size_t>(k)]);
        unsigned char lo = 0x80;
        unsigned char hi = 0xBF;
        if (k == 1) second_byte_range(lead, &lo, &hi);
        if (b < lo || b > hi) {
            *len = static_cast<size_t>(k);
            return Scan::Invalid;
        }
    }
    *len = static_cast<size_t>(need);
    return Scan::Complete;
}

size_t append_repaired(std::string_view s, std::string& out, bool final) {
    size_t pos = 0;
    while (pos < s.size()) {
        size_t len = 0;
        switch (scan(s.substr(pos), &len)) {
            case Scan::Complete:
                out.append(s.substr(pos, len));
                break;
            case Scan::Invalid:
                out.append(kReplacement);
                break;
            case Scan::Incomplete:
                if (!final) return pos;
                out.append(kReplacement);
                break;
        }
        pos += len;
    }
    return pos;
}

}  // namespace detail

int sequence_length(unsigned char lead) {
    if (lead < 0x80) return 1;
    if (lead >= 0xC2 && lead <= 0xDF) return 2;
    if (lead >= 0xE0 && lead <= 0xEF) return 3;
    if (lead >= 0xF0 && lead <= 0xF4) return 4;
    return 0;  // continuation byte, C0/C1 (always overlong) or F5..FF
}

bool is_valid(std::string_view s) {
    size_t pos = 0;
    while (pos < s.size()) {
        size_t len = 0;
        if (detail::scan(s.substr(pos), &len) != detail::Scan::Complete) return false;
        pos += len;
    }
    return true;
}

size_t count_code_points(std::string_view s) {
    size_t pos = 0;
    size_t n = 0;
    while (pos < s.size()) {
        size_t len = 0;
        const detail::Scan r = detail::scan(s.substr(pos), &len);
        // A bad sequence counts one per byte, so the count never hides bytes.
        n += r == detail::Scan::Complete ? 1 : len;
        pos += len;
    }
    return n;
}

}  // namespace orcd::utf8
