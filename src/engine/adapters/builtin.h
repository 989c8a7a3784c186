// The adapters built into the engine. The registry calls
// link_builtin_adapters() before its first lookup: explicit registration,
// because a static library drops object files nothing refers to (so
// self-registering globals would silently vanish).
#pragma once

namespace orcd {

void register_llama_family();  // llama, qwen2, phi3
void link_builtin_adapters();

}  // namespace orcd
