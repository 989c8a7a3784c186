// What the worker knows about itself, shared by the HTTP threads and the
// inference thread: lifecycle status, the loaded model's facts, the single
// job slot, and a cached residency/memory reading. Nothing here waits for a
// running job: the slot's lock guards a few fields only, and the engine lock
// is only ever try-locked from HTTP threads.
#pragma once

#include "chat_setup.h"
#include "engine_wrappers.h"
#include "stream_sink.h"
#include "worker_status.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace orcd::server {

// Fixed after the model has loaded.
struct ModelFacts {
    std::string name, architecture, quant_kind, tokenizer_kind;
    std::string weight_format;  // general.file_type's name, e.g. "Q4_K_M"
    uint32_t vocab_size = 0;
    uint32_t context_length = 0;
    std::string device;  // "cpu" or "cuda:N"
    bool gpu = false;
    std::string gpu_name, sm, cuda_runtime_version;
    ChatSetup chat;
};

struct MemoryReading {
    bool resident = false;
    uint64_t bytes_used = 0;
    uint64_t device_free_bytes = 0;   // cudaMemGetInfo; 0 on the CPU backend
    uint64_t device_total_bytes = 0;
};

class WorkerState {
public:
    explicit WorkerState(std::string worker_id);

    const std::string& worker_id() const { return worker_id_; }
    double uptime_seconds() const;

    Status status() const { return status_.load(); }
    void set_status(Status s) { status_.store(s); }
    // Moves to draining unless already there; false when it already was.
    bool begin_draining();
    // loading -> healthy; false when draining began during the load.
    bool mark_ready();

    // Publishes the loaded model (kept by pointer; it outlives the server).
    void set_model(const Model* model, ModelFacts facts);
    const Model* model() const { return model_.load(); }
    // Valid once model() is non-null.
    const ModelFacts& facts() const { return facts_; }

    // The engine lock: the inference thread holds it for each engine call,
    // so other threads may read model state only when it is free.
    std::mutex& engine_mutex() { return engine_mu_; }

    // Cached reading; refreshed when older than a second and the engine is
    // free right now (try-lock), otherwise the last reading is returned.
    MemoryReading memory();
    // Takes a new reading; the caller holds the engine lock.
    void refresh_memory_locked();

    // ---- the job slot ----------------------------------------------------
    // Claims the slot for job_id; returns its ticket, or nullopt when taken.
    std::optional<uint64_t> try_acquire(const std::string& job_id);
    bool busy() const { return busy_.load(); }
    // True when the slot is held by a job that has been asked to stop and
    // will free the slot within a moment.
    bool slot_cancelling() const;
    // The engine job of the ticket, so /cancel can reach it. A cancel that
    // arrived before attach is delivered here.
    void attach_job(uint64_t ticket, const Job* job);
    // The connection that owns the slot's job.
    void set_owner(uint64_t ticket, std::weak_ptr<StreamSink> owner);
    std::shared_ptr<StreamSink> owner() const;
    void detach_job(uint64_t ticket);
    void release(uint64_t ticket);
    // Cancels the running job when its id matches; false when none matched.
    bool cancel_job_id(const std::string& job_id);
    // Cancels the job of a ticket (a client that went away).
    void cancel_ticket(uint64_t ticket);
    // Cancels whatever runs (shutdown).
    void cancel_running();
    // Waits until the slot is free or the deadline passes; true when free.
    bool wait_idle_until(std::chrono::steady_clock::time_point deadline);

private:
    void cancel_locked();

    const std::string worker_id_;
    const std::chrono::steady_clock::time_point started_;
    std::atomic<Status> status_{Status::loading};
    std::atomic<const Model*> model_{nullptr};
    ModelFacts facts_;

    std::mutex engine_mu_;

    std::mutex memory_mu_;
    MemoryReading memory_;
    std::chrono::steady_clock::time_point memory_at_{};
    bool memory_valid_ = false;

    mutable std::mutex slot_mu_;
    std::condition_variable slot_cv_;
    std::atomic<bool> busy_{false};
    uint64_t next_ticket_ = 1;
    uint64_t ticket_ = 0;  // 0 = free
    std::string job_id_;
    const Job* job_ = nullptr;
    std::weak_ptr<StreamSink> owner_;
    bool cancel_requested_ = false;
};

}  // namespace orcd::server
