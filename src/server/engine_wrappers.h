// Thin C++ owners of the C API's handles: one owner per handle, movable, not
// copyable, freed in the destructor. Failing calls throw EngineError carrying
// the C API code and the thread-local detail string, so callers map one
// error table and nothing else.
#pragma once

#include <orcd/orcd.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace orcd::server {

class EngineError : public std::runtime_error {
public:
    EngineError(orcd_status code, const std::string& detail)
        : std::runtime_error(detail.empty() ? orcd_error_message(code) : detail), code_(code) {}
    orcd_status code() const noexcept { return code_; }
    const char* name() const noexcept { return orcd_error_name(code_); }
    bool retriable() const noexcept { return orcd_error_retriable(code_) != 0; }

private:
    orcd_status code_;
};

// Throws EngineError when status is not ORCD_OK; the detail is read at once,
// before any other C API call on this thread can replace it.
inline void check(orcd_status status) {
    if (status != ORCD_OK) throw EngineError(status, orcd_last_error_detail());
}

// Unique owner of a handle freed by Free.
template <typename T, void (*Free)(T*)>
class Handle {
public:
    Handle() = default;
    explicit Handle(T* raw) noexcept : raw_(raw) {}
    Handle(Handle&& other) noexcept : raw_(std::exchange(other.raw_, nullptr)) {}
    Handle& operator=(Handle&& other) noexcept {
        if (this != &other) reset(std::exchange(other.raw_, nullptr));
        return *this;
    }
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    ~Handle() { reset(); }

    T* get() const noexcept { return raw_; }
    explicit operator bool() const noexcept { return raw_ != nullptr; }
    void reset(T* raw = nullptr) noexcept {
        if (raw_) Free(raw_);
        raw_ = raw;
    }

private:
    T* raw_ = nullptr;
};

class Device {
public:
    static Device open(const orcd_device_params& params) {
        orcd_device* raw = nullptr;
        check(orcd_device_open(&params, &raw));
        return Device(raw);
    }
    orcd_device_info info() const {
        orcd_device_info out{};
        check(orcd_device_get_info(handle_.get(), &out));
        return out;
    }
    orcd_device* get() const noexcept { return handle_.get(); }

private:
    explicit Device(orcd_device* raw) : handle_(raw) {}
    Handle<orcd_device, orcd_device_close> handle_;
};

class Model {
public:
    // The device must outlive the model.
    static Model load(const Device& device, const std::string& path, const orcd_model_params& params) {
        orcd_model* raw = nullptr;
        check(orcd_model_load(device.get(), path.c_str(), &params, &raw));
        return Model(raw);
    }
    orcd_model_info info() const {
        orcd_model_info out{};
        check(orcd_model_get_info(handle_.get(), &out));
        return out;
    }
    bool resident() const {
        int32_t resident = 0;
        check(orcd_model_check_residency(handle_.get(), &resident));
        return resident != 0;
    }
    orcd_memory_stats memory_stats() const {
        orcd_memory_stats out{};
        check(orcd_model_memory_stats(handle_.get(), &out));
        return out;
    }
    // Number of tokens a job's prompt encodes to, BOS included (a measuring
    // call); parse_special as the job will use it.
    size_t count_tokens(const std::string& text, bool parse_special) const {
        size_t n = 0;
        const int32_t flags = ORCD_TOKENIZE_ADD_BOS | (parse_special ? ORCD_TOKENIZE_PARSE_SPECIAL : 0);
        check(orcd_tokenize(handle_.get(), text.data(), text.size(), flags, nullptr, 0, &n));
        return n;
    }
    // Ids of a rendered chat template, nothing added: markup (the template's
    // own text) with special tokens parsed, content never.
    std::vector<int32_t> tokenize_segments(const std::vector<orcd_text_segment>& segments) const {
        size_t n = 0;
        check(orcd_tokenize_segments(handle_.get(), segments.data(), segments.size(), 0, nullptr, 0, &n));
        std::vector<int32_t> ids(n);
        if (n) check(orcd_tokenize_segments(handle_.get(), segments.data(), segments.size(), 0, ids.data(), n, &n));
        return ids;
    }
    std::string detokenize(const std::vector<int32_t>& ids) const {
        return read_bytes([&](char* out, size_t cap, size_t* n) {
            return orcd_detokenize(handle_.get(), ids.data(), ids.size(), out, cap, n);
        });
    }
    std::string token_piece(int32_t id) const {
        return read_bytes([&](char* out, size_t cap, size_t* n) { return orcd_token_piece(handle_.get(), id, out, cap, n); });
    }
    std::string token_text(int32_t id) const {
        return read_bytes([&](char* out, size_t cap, size_t* n) { return orcd_token_text(handle_.get(), id, out, cap, n); });
    }
    // The GGUF's tokenizer.chat_template, or nullopt when it has none.
    std::optional<std::string> chat_template() const {
        const char* text = nullptr;
        size_t len = 0;
        check(orcd_model_meta_str(handle_.get(), "tokenizer.chat_template", &text, &len));
        if (!text) return std::nullopt;
        return std::string(text, len);
    }
    orcd_model* get() const noexcept { return handle_.get(); }

private:
    // The C API's sizing contract: measure with cap 0, then fill.
    template <typename Fn>
    static std::string read_bytes(Fn&& fn) {
        size_t n = 0;
        check(fn(nullptr, 0, &n));
        std::string out(n, '\0');
        if (n) check(fn(out.data(), out.size(), &n));
        return out;
    }
    explicit Model(orcd_model* raw) : handle_(raw) {}
    Handle<orcd_model, orcd_model_free> handle_;
};

class Job {
public:
    // The model must outlive the job; one live job per model.
    static Job create(const Model& model, const std::string& prompt, const orcd_job_params& params) {
        orcd_job* raw = nullptr;
        check(orcd_job_create(model.get(), prompt.data(), prompt.size(), &params, &raw));
        return Job(raw);
    }
    // A job from prompt ids (nothing added to them).
    static Job create_tokens(const Model& model, const std::vector<int32_t>& ids, const orcd_job_params& params) {
        orcd_job* raw = nullptr;
        check(orcd_job_create_tokens(model.get(), ids.data(), ids.size(), &params, &raw));
        return Job(raw);
    }
    // One step. Returns the C API code instead of throwing: a job's ending
    // (CANCELLED, INFERENCE_TIMEOUT, ...) is ordinary control flow.
    orcd_status next(orcd_job_event& event) noexcept { return orcd_job_next(handle_.get(), &event); }
    orcd_job_stats stats() const {
        orcd_job_stats out{};
        check(orcd_job_get_stats(handle_.get(), &out));
        return out;
    }
    // Thread-safe (the one call that may race orcd_job_next).
    void cancel() const noexcept { orcd_job_cancel(handle_.get()); }
    orcd_job* get() const noexcept { return handle_.get(); }

private:
    explicit Job(orcd_job* raw) : handle_(raw) {}
    Handle<orcd_job, orcd_job_free> handle_;
};

}  // namespace orcd::server
