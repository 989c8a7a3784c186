#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8_repair.h"

namespace orcd {

std::string StreamDecoder::push(int32_t id) {
    pending_ += tok_.token_bytes(id);
    std::string out;
    const size_t used = utf8::detail::append_repaired(pending_, out, /*final=*/false);
    pending_.erase(0, used);
    return out;
}

std::string StreamDecoder::finish() {
    std::string out;
    utf8::detail::append_repaired(pending_, out, /*final=*/true);
    pending_.clear();
    return out;
}

}  // namespace orcd
