// Thin C++ owners of the C API's handles: one owner per handle, movable, not
// copyable, freed in the destructor. Failing calls throw EngineError carrying
// the C API code and the thread-local detail string, so callers map one
// error table and nothing else.
#pragma once

#include <orcd/orcd.h>

#include <stdexcept>
#include <string>
#include <utility>

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
    orcd_model* get() const noexcept { return handle_.get(); }

private:
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
