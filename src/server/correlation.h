// Correlation ids: echoed from the X-Correlation-Id request header when it is
// 1-128 printable ASCII characters, otherwise a fresh UUID.
#pragma once

#include <string>
#include <string_view>

namespace orcd::server {

constexpr size_t kMaxCorrelationIdChars = 128;

bool is_acceptable_correlation_id(std::string_view id);
std::string correlation_id_for(std::string_view header_value);

}  // namespace orcd::server
