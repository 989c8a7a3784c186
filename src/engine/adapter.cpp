#include "engine/adapter.h"

#include "common/error.h"
#include "engine/adapters/builtin.h"
#include "gguf/gguf.h"

#include <algorithm>
#include <map>
#include <mutex>

namespace orcd {

namespace {

struct Registry {
    std::mutex mu;
    std::map<std::string, AdapterFactory, std::less<>> factories;
};

Registry& registry() {
    static Registry r;
    return r;
}

}  // namespace

void register_adapter(std::string_view architecture, AdapterFactory factory) {
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mu);
    r.factories[std::string(architecture)] = factory;
}

std::vector<std::string> supported_architectures() {
    link_builtin_adapters();
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mu);
    std::vector<std::string> names;
    for (const auto& [name, f] : r.factories) names.push_back(name);
    return names;
}

std::unique_ptr<ModelAdapter> make_adapter(const gguf::File& file) {
    const std::string arch(file.get_string("general.architecture"));
    AdapterFactory factory = nullptr;
    {
        link_builtin_adapters();
        Registry& r = registry();
        std::lock_guard<std::mutex> lock(r.mu);
        if (auto it = r.factories.find(arch); it != r.factories.end()) factory = it->second;
    }
    if (!factory) {
        std::string list;
        for (const std::string& n : supported_architectures()) list += (list.empty() ? "" : ", ") + n;
        fail(ORCD_MODEL_LOAD_FAILED, "unsupported architecture '" + arch + "' (supported: " + list + ")");
    }
    std::unique_ptr<ModelAdapter> a = factory(file);
    validate_config(a->config());
    return a;
}

bool Batch::contiguous() const {
    for (uint32_t i = 1; i < size(); ++i)
        if (seq[i] != seq[0] || pos[i] != pos[0] + i) return false;
    return true;
}

}  // namespace orcd
