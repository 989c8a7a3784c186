#include "decode_bytes.h"

#include <algorithm>
#include <stdexcept>

namespace orcd::bench {
namespace {

using nlohmann::json;

uint64_t uint_key(const gguf::File& f, const std::string& key) {
    const auto v = f.try_uint(key);
    if (!v) throw std::runtime_error("the file has no " + key);
    return *v;
}

// A per-layer hyper-parameter: one number for every layer, or an array of
// one number per layer (llama.cpp accepts both for head_count_kv).
std::vector<uint64_t> per_layer(const gguf::File& f, const std::string& key, uint64_t fallback, uint32_t n_layer) {
    const gguf::Value* v = f.find(key);
    if (!v) return std::vector<uint64_t>(n_layer, fallback);
    if (v->type != gguf::ValueType::ARRAY) return std::vector<uint64_t>(n_layer, uint64_t(v->as_int(key)));
    if (v->arr.size() != n_layer) throw std::runtime_error(key + " has " + std::to_string(v->arr.size()) +
                                                           " entries for " + std::to_string(n_layer) + " layers");
    std::vector<uint64_t> out;
    for (const gguf::Value& e : v->arr) out.push_back(uint64_t(e.as_int(key)));
    return out;
}

}  // namespace

double DecodeBytes::kv_bytes(double context, double elem_bytes) const {
    double elems = 0;
    for (size_t l = 0; l < kv_row_elems.size(); ++l) {
        const double positions = window[l] ? std::min(context, double(window[l])) : context;
        elems += double(kv_row_elems[l]) * positions;
    }
    return elems * elem_bytes;
}

double DecodeBytes::step_bytes(double context, double elem_bytes) const {
    return double(weights_read) + kv_bytes(context, elem_bytes);
}

double mean_context(uint32_t depth, uint32_t steps) { return double(depth) + (double(steps) + 1.0) / 2.0; }

DecodeBytes decode_bytes(const gguf::File& f) {
    DecodeBytes d;
    d.architecture = std::string(f.get_string("general.architecture"));
    d.name = std::string(f.try_string("general.name").value_or(""));
    d.file_bytes = f.file_size();
    const std::string a = d.architecture + ".";
    d.n_layer = uint32_t(uint_key(f, a + "block_count"));
    const uint64_t n_embd = uint_key(f, a + "embedding_length");
    const uint64_t n_head = uint_key(f, a + "attention.head_count");
    const uint64_t k_len = f.try_uint(a + "attention.key_length").value_or(n_head ? n_embd / n_head : 0);
    const uint64_t v_len = f.try_uint(a + "attention.value_length").value_or(k_len);
    const std::vector<uint64_t> kv_heads = per_layer(f, a + "attention.head_count_kv", n_head, d.n_layer);
    d.n_expert = uint32_t(f.try_uint(a + "expert_count").value_or(0));
    d.n_expert_used = uint32_t(f.try_uint(a + "expert_used_count").value_or(0));

    // gpt-oss alternates sliding-window layers (even) with full ones, as
    // llama.cpp runs it; other architectures are taken as attending to the
    // whole context.
    const uint32_t swa = uint32_t(f.try_uint(a + "attention.sliding_window").value_or(0));
    for (uint32_t l = 0; l < d.n_layer; ++l) {
        d.kv_row_elems.push_back(kv_heads[l] * (k_len + v_len));
        d.window.push_back(d.architecture == "gpt-oss" && l % 2 == 0 ? swa : 0);
    }

    const bool tied = f.find_tensor("output.weight") == nullptr;
    for (const gguf::TensorInfo& t : f.tensors()) {
        d.tensor_bytes += t.n_bytes;
        const bool gathered = t.name == "position_embd.weight" || (t.name == "token_embd.weight" && !tied);
        if (t.name == "token_embd.weight") d.n_vocab = uint32_t(t.ne[1]);
        if (gathered) {
            d.gathered_bytes += t.n_bytes;
        } else if (t.name.find("_exps.") != std::string_view::npos && d.n_expert > 0) {
            d.expert_bytes += t.n_bytes;
            d.weights_read += t.n_bytes / d.n_expert * d.n_expert_used;
        } else {
            d.weights_read += t.n_bytes;
        }
    }
    return d;
}

DecodeBytes decode_bytes(const std::string& path) { return decode_bytes(*gguf::File::open(path)); }

json to_json(const DecodeBytes& d) {
    return {{"architecture", d.architecture}, {"name", d.name},
            {"file_bytes", d.file_bytes},     {"tensor_bytes", d.tensor_bytes},
            {"weights_read", d.weights_read}, {"gathered_bytes", d.gathered_bytes},
            {"expert_bytes", d.expert_bytes}, {"n_expert", d.n_expert},
            {"n_expert_used", d.n_expert_used}, {"n_layer", d.n_layer},
            {"n_vocab", d.n_vocab},           {"kv_row_elems", d.kv_row_elems},
            {"window", d.window}};
}

DecodeBytes decode_bytes_from_json(const json& j) {
    DecodeBytes d;
    d.architecture = j.at("architecture").get<std::string>();
    d.name = j.value("name", std::string());
    d.file_bytes = j.at("file_bytes").get<uint64_t>();
    d.tensor_bytes = j.at("tensor_bytes").get<uint64_t>();
    d.weights_read = j.at("weights_read").get<uint64_t>();
    d.gathered_bytes = j.value("gathered_bytes", uint64_t(0));
    d.expert_bytes = j.value("expert_bytes", uint64_t(0));
    d.n_expert = j.value("n_expert", 0u);
    d.n_expert_used = j.value("n_expert_used", 0u);
    d.n_layer = j.at("n_layer").get<uint32_t>();
    d.n_vocab = j.value("n_vocab", 0u);
    d.kv_row_elems = j.at("kv_row_elems").get<std::vector<uint64_t>>();
    d.window = j.at("window").get<std::vector<uint32_t>>();
    if (d.kv_row_elems.size() != d.n_layer || d.window.size() != d.n_layer)
        throw std::runtime_error("decode bytes: per-layer lists do not match n_layer");
    return d;
}

}  // namespace orcd::bench
