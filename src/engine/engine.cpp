#include "engine/engine.h"

#include "common/error.h"
#include "engine/file_type.h"
#include "gguf/gguf.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>

namespace orcd {

namespace {

constexpr uint32_t kPrefillChunk = 512;  // tokens per forward() during prefill

void copy_str(char* dst, size_t cap, std::string_view s) {
    const size_t n = std::min(cap - 1, s.size());
    std::memcpy(dst, s.data(), n);
    dst[n] = '\0';
}

std::string base_name(const std::string& path) {
    const size_t slash = path.find_last_of('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string value_text(const gguf::Value& v) {
    switch (v.type) {
        case gguf::ValueType::STRING: return std::string(v.str);
        case gguf::ValueType::BOOL: return v.u ? "true" : "false";
        case gguf::ValueType::FLOAT32:
        case gguf::ValueType::FLOAT64: {
            char buf[64];
            std::snprintf(buf, sizeof buf, "%.9g", v.f);
            return buf;
        }
        case gguf::ValueType::ARRAY: return "array[" + std::to_string(v.arr.size()) + "]";
        case gguf::ValueType::INT8:
        case gguf::ValueType::INT16:
        case gguf::ValueType::INT32:
        case gguf::ValueType::INT64: return std::to_string(v.i);
        default: return std::to_string(v.u);
    }
}

}  // namespace

std::optional<std::string> Model::metadata(const std::string& key) const {
    if (const std::string* t = metadata_text(key)) return *t;
    return std::nullopt;
}

const std::string* Model::metadata_text(const std::string& key) const {
    auto it = meta_.find(key);
    return it == meta_.end() ? nullptr : &it->second;
}

std::unique_ptr<Model> Model::load(Device& device, const std::string& path, const ModelLoadParams& params) {
    const auto t0 = std::chrono::steady_clock::now();
    std::unique_ptr<Model> m(new Model());
    std::unique_ptr<gguf::File> file;
    try {
        file = gguf::File::open(path);
        m->adapter_ = make_adapter(*file);
        m->tok_ = Tokenizer::from_gguf(*file);
        for (const gguf::KeyValue& kv : file->metadata()) m->meta_[std::string(kv.key)] = value_text(kv.value);
        m->weight_format_ = quant_kind(*file, m->adapter_->weights());
    } catch (const gguf::GgufError& e) {
        fail(ORCD_MODEL_LOAD_FAILED, "'" + path + "': " + e.what());
    } catch (const Error& e) {
        if (e.code() == ORCD_MODEL_LOAD_FAILED) fail(ORCD_MODEL_LOAD_FAILED, "'" + path + "': " + e.what());
        throw;
    }
    const ModelConfig& c = m->adapter_->config();
    if (m->tok_->vocab_size() != c.n_vocab)
        fail(ORCD_MODEL_LOAD_FAILED, "'" + path + "': tokenizer and embedding disagree on the vocabulary size");

    const uint32_t n_ctx = params.n_ctx ? params.n_ctx : c.n_ctx_train;
    if (params.n_ctx > ORCD_MAX_CONTEXT)
        fail(ORCD_INVALID_REQUEST,
             "context size " + std::to_string(params.n_ctx) + " exceeds the maximum " + std::to_string(ORCD_MAX_CONTEXT));
    // The model's own length as the default: a file can state more than any
    // cache here holds, and then the caller must ask for less.
    if (n_ctx > ORCD_MAX_CONTEXT)
        fail(ORCD_MODEL_LOAD_FAILED, "'" + path + "': the model's context_length " + std::to_string(n_ctx) +
                                         " exceeds the maximum context " + std::to_string(ORCD_MAX_CONTEXT) +
                                         ": load it with a smaller context size (n_ctx, worker-orcd --ctx-size)");
    if (c.learned_pos && n_ctx > c.n_ctx_train)
        fail(ORCD_INVALID_REQUEST, c.architecture + " has learned positions for " + std::to_string(c.n_ctx_train) +
                                       " tokens: the context size " + std::to_string(n_ctx) + " cannot exceed it");
    m->backend_ = device.create_backend();
    KvLayout layout{c.n_layer, n_ctx, c.n_head_kv, c.head_dim, m->backend_->kv_elem_bytes(), 1};
    m->kv_ = KvCache(layout);
    m->max_batch_ = std::min(n_ctx, kPrefillChunk);
    try {
        m->backend_->load(*m->adapter_, layout, m->max_batch_, params.load);
    } catch (const Error& e) {
        if (e.code() == ORCD_MODEL_LOAD_FAILED) fail(ORCD_MODEL_LOAD_FAILED, "'" + path + "': " + e.what());
        throw;
    }
    // The backend holds the weights now: let go of the file.
    m->adapter_->weights().drop_host_data();
    file.reset();

    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    orcd_model_info& i = m->info_;
    copy_str(i.architecture, sizeof i.architecture, c.architecture);
    copy_str(i.name, sizeof i.name, c.name.empty() ? base_name(path) : c.name);
    copy_str(i.quant_kind, sizeof i.quant_kind, m->weight_format_);
    copy_str(i.tokenizer_kind, sizeof i.tokenizer_kind, m->tok_->kind());
    i.vocab_size = c.n_vocab;
    i.context_length = n_ctx;
    i.train_context_length = c.n_ctx_train;
    i.n_layer = c.n_layer;
    i.n_embd = c.n_embd;
    i.n_head = c.n_head;
    i.n_head_kv = c.n_head_kv;
    i.n_ff = c.n_ff ? c.n_ff : c.n_ff_expert;
    i.bos_token = m->tok_->bos();
    i.eos_token = m->tok_->eos();
    i.weight_bytes = m->backend_->weight_bytes();
    i.kv_cache_bytes = m->backend_->kv_bytes();
    i.bytes_resident = m->backend_->memory_stats().total();
    i.load_seconds = secs;
    i.load_gbps = secs > 0 ? double(i.weight_bytes) / secs / 1e9 : 0.0;
    return m;
}

}  // namespace orcd
