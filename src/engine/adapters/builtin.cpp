#include "engine/adapters/builtin.h"

#include <mutex>

namespace orcd {

void link_builtin_adapters() {
    static std::once_flag once;
    std::call_once(once, [] { register_llama_family(); });
}

}  // namespace orcd
