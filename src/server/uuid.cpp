#include "uuid.h"

#include <array>
#include <cctype>
#include <cstdint>
#include <mutex>
#include <random>

namespace orcd::server {

std::string new_uuid() {
    // One engine behind a mutex: ids are made a few times per request at
    // most, and random_device per call would be slow on some hosts.
    static std::mutex mu;
    static std::mt19937_64 rng{std::random_device{}()};
    std::array<uint8_t, 16> b{};
    {
        std::lock_guard lock(mu);
        uint64_t hi = rng(), lo = rng();
        for (int i = 0; i < 8; ++i) {
            b[i] = static_cast<uint8_t>(hi >> (8 * i));
            b[8 + i] = static_cast<uint8_t>(lo >> (8 * i));
        }
    }
    b[6] = static_cast<uint8_t>((b[6] & 0x0F) | 0x40);  // version 4
    b[8] = static_cast<uint8_t>((b[8] & 0x3F) | 0x80);  // RFC 4122 variant
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(36);
    for (int i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
        out.push_back(hex[b[i] >> 4]);
        out.push_back(hex[b[i] & 0x0F]);
    }
    return out;
}

bool is_uuid(std::string_view text) {
    if (text.size() != 36) return false;
    for (size_t i = 0; i < text.size(); ++i) {
        const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? text[i] != '-' : !std::isxdigit(static_cast<unsigned char>(text[i]))) return false;
    }
    return true;
}

}  // namespace orcd::server
