#include "engine/kv_cache.h"

#include "common/error.h"

#include <string>

namespace orcd {

uint32_t KvCache::append(uint32_t n) {
    if (!fits(n))
        fail(ORCD_INVALID_REQUEST, "KV cache full: " + std::to_string(n) + " positions requested at position " +
                                       std::to_string(pos_) + " of " + std::to_string(layout_.n_ctx));
    const uint32_t at = pos_;
    pos_ += n;
    return at;
}

}  // namespace orcd
