#include "worker_state.h"

namespace orcd::server {

WorkerState::WorkerState(std::string worker_id)
    : worker_id_(std::move(worker_id)), started_(std::chrono::steady_clock::now()) {}

double WorkerState::uptime_seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
}

bool WorkerState::begin_draining() { return status_.exchange(Status::draining) != Status::draining; }

bool WorkerState::mark_ready() {
    Status expected = Status::loading;
    return status_.compare_exchange_strong(expected, Status::healthy);
}

void WorkerState::set_model(const Model* model, ModelFacts facts) {
    facts_ = std::move(facts);
    model_.store(model);  // publishes facts_ (seq_cst store after the write)
}

MemoryReading WorkerState::memory() {
    const auto now = std::chrono::steady_clock::now();
    {
        std::lock_guard lock(memory_mu_);
        if (memory_valid_ && now - memory_at_ < std::chrono::seconds(1)) return memory_;
    }
    if (model() != nullptr) {
        std::unique_lock engine(engine_mu_, std::try_to_lock);
        if (engine.owns_lock()) refresh_memory_locked();
    }
    std::lock_guard lock(memory_mu_);
    return memory_;
}

void WorkerState::refresh_memory_locked() {
    const Model* m = model();
    if (m == nullptr) return;
    MemoryReading r;
    try {
        r.resident = m->resident();
        const orcd_memory_stats stats = m->memory_stats();
        r.bytes_used = stats.total_bytes;
        r.device_free_bytes = stats.device_free_bytes;
        r.device_total_bytes = stats.device_total_bytes;
    } catch (const EngineError&) {
        r.resident = false;  // a failed check reads as "not resident"
    }
    std::lock_guard lock(memory_mu_);
    memory_ = r;
    memory_at_ = std::chrono::steady_clock::now();
    memory_valid_ = true;
}

std::optional<uint64_t> WorkerState::try_acquire(const std::string& job_id) {
    std::lock_guard lock(slot_mu_);
    if (ticket_ != 0) return std::nullopt;
    ticket_ = next_ticket_++;
    job_id_ = job_id;
    job_ = nullptr;
    cancel_requested_ = false;
    busy_.store(true);
    return ticket_;
}

bool WorkerState::slot_cancelling() const {
    std::lock_guard lock(slot_mu_);
    return ticket_ != 0 && cancel_requested_;
}

void WorkerState::attach_job(uint64_t ticket, const Job* job) {
    std::lock_guard lock(slot_mu_);
    if (ticket != ticket_) return;
    job_ = job;
    if (cancel_requested_) job_->cancel();
}

void WorkerState::set_owner(uint64_t ticket, std::weak_ptr<StreamSink> owner) {
    std::lock_guard lock(slot_mu_);
    if (ticket == ticket_) owner_ = std::move(owner);
}

std::shared_ptr<StreamSink> WorkerState::owner() const {
    std::lock_guard lock(slot_mu_);
    return ticket_ != 0 ? owner_.lock() : nullptr;
}

void WorkerState::detach_job(uint64_t ticket) {
    std::lock_guard lock(slot_mu_);
    if (ticket == ticket_) job_ = nullptr;
}

void WorkerState::release(uint64_t ticket) {
    {
        std::lock_guard lock(slot_mu_);
        if (ticket != ticket_) return;
        ticket_ = 0;
        job_ = nullptr;
        owner_.reset();
        job_id_.clear();
        cancel_requested_ = false;
        busy_.store(false);
    }
    slot_cv_.notify_all();
}

void WorkerState::cancel_locked() {
    cancel_requested_ = true;
    if (job_) job_->cancel();
}

bool WorkerState::cancel_job_id(const std::string& job_id) {
    std::lock_guard lock(slot_mu_);
    if (ticket_ == 0 || job_id_ != job_id) return false;
    cancel_locked();
    return true;
}

void WorkerState::cancel_ticket(uint64_t ticket) {
    std::lock_guard lock(slot_mu_);
    if (ticket_ != 0 && ticket_ == ticket) cancel_locked();
}

void WorkerState::cancel_running() {
    std::lock_guard lock(slot_mu_);
    if (ticket_ != 0) cancel_locked();
}

bool WorkerState::wait_idle_until(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lock(slot_mu_);
    return slot_cv_.wait_until(lock, deadline, [&] { return ticket_ == 0; });
}

}  // namespace orcd::server
