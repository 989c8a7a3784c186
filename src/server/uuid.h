// Random (version 4) UUIDs for worker ids and generated correlation ids.
#pragma once

#include <string>
#include <string_view>

namespace orcd::server {

// A fresh random UUID in its canonical lowercase 8-4-4-4-12 form.
std::string new_uuid();
// True when text is a UUID in the canonical 8-4-4-4-12 hex form (any case).
bool is_uuid(std::string_view text);

}  // namespace orcd::server
