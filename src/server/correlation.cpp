#include "correlation.h"

#include "uuid.h"

namespace orcd::server {

bool is_acceptable_correlation_id(std::string_view id) {
    if (id.empty() || id.size() > kMaxCorrelationIdChars) return false;
    for (unsigned char c : id)
        if (c < 0x20 || c > 0x7E) return false;
    return true;
}

std::string correlation_id_for(std::string_view header_value) {
    if (is_acceptable_correlation_id(header_value)) return std::string(header_value);
    return new_uuid();
}

}  // namespace orcd::server
