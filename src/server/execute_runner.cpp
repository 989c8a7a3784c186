#include "execute_runner.h"

#include "execute_protocol.h"
#include "http_responses.h"

#include <algorithm>
#include <vector>

namespace orcd::server {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

Outcome outcome_of(orcd_status code, bool client_gone) {
    switch (code) {
        case ORCD_OK: return Outcome::completed;
        case ORCD_CANCELLED: return client_gone ? Outcome::client_gone : Outcome::cancelled;
        case ORCD_INFERENCE_TIMEOUT: return Outcome::inference_timeout;
        case ORCD_VRAM_OOM: return Outcome::vram_oom;
        case ORCD_CUDA_ERROR: return Outcome::cuda_error;
        case ORCD_INVALID_REQUEST: return Outcome::invalid_request;
        case ORCD_BUSY: return Outcome::busy;
        default: return Outcome::internal;
    }
}

// Queues bytes on the task's connection; a protocol that has nothing to say
// at some moment (a held-back token, a non-streaming answer) sends nothing.
void send(ExecuteTask& task, std::string bytes) {
    if (!bytes.empty()) task.sink->send(std::move(bytes));
}

// The code's message, then the detail where it adds something: a detail
// that already begins with the message (the engine's "the job was
// cancelled", "the job ran past its inference timeout of 0.2 s") stands alone.
std::string error_message(orcd_status code, const std::string& detail) {
    const std::string m = orcd_error_message(code);
    if (detail.empty()) return m;
    if (detail.rfind(m, 0) == 0) return detail;
    return m + ": " + detail;
}

// A failure before the stream opened becomes an HTTP status: the client
// learns it without parsing a stream, and retriable ones read as 503.
unsigned http_status_for(orcd_status code) {
    if (code == ORCD_INVALID_REQUEST) return 400;
    return orcd_error_retriable(code) ? 503 : 500;
}

}  // namespace

JobRunner::JobRunner(const Config& config, WorkerState& state, Metrics& metrics, Logger& log)
    : config_(config), state_(state), metrics_(metrics), log_(log) {}

JobRunner::~JobRunner() { stop(); }

void JobRunner::start() { thread_ = std::thread([this] { loop(); }); }

void JobRunner::submit(ExecuteTask task) {
    {
        std::lock_guard lock(mu_);
        pending_ = std::move(task);
    }
    cv_.notify_one();
}

void JobRunner::stop() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable()) thread_.join();
}

void JobRunner::loop() {
    for (;;) {
        ExecuteTask task;
        {
            std::unique_lock lock(mu_);
            cv_.wait(lock, [&] { return pending_.has_value() || stopping_; });
            if (!pending_) return;
            task = std::move(*pending_);
            pending_.reset();
        }
        try {
            run(task);
        } catch (const std::exception& e) {
            // run() frees the slot on every path it knows; this is the path it does not.
            log_.error("error", {{"job_id", task.request.job_id},
                                 {"correlation_id", task.correlation_id},
                                 {"code", "INTERNAL"},
                                 {"message", e.what()}});
            state_.release(task.ticket);
            task.sink->close_stream();
        }
    }
}

void JobRunner::reject(ExecuteTask& task, unsigned http_status, const json& body, Outcome outcome) {
    state_.release(task.ticket);
    metrics_.count_request(outcome);
    Rejection r = task.protocol->reject(http_status, body);
    log_.info("execute_rejected", {{"job_id", task.request.job_id},
                                   {"correlation_id", task.correlation_id},
                                   {"api", task.api},
                                   {"http_status", r.http_status},
                                   {"code", body.value("code", "")},
                                   {"field", body.value("field", "")}});
    task.sink->reject(r.http_status, std::move(r.body), r.retry_after);
}

std::vector<int32_t> JobRunner::tokenize_segments(const Model& model, const std::vector<chat::Segment>& segments) const {
    std::vector<orcd_text_segment> segs;
    for (const chat::Segment& s : segments) segs.push_back({s.text.data(), s.text.size(), s.markup ? 1 : 0});
    return model.tokenize_segments(segs);
}

StepLogprobs JobRunner::step_logprobs(const Model& model, const Job& job) const {
    orcd_token_logprob chosen{};
    std::vector<orcd_token_logprob> top(ORCD_MAX_TOP_LOGPROBS);
    size_t n = 0;
    check(orcd_job_last_logprobs(job.get(), &chosen, top.data(), top.size(), &n));
    auto choice = [&](const orcd_token_logprob& t) {
        return TokenChoice{t.token, t.logprob, model.detokenize({t.token}), model.token_piece(t.token)};
    };
    StepLogprobs out;
    out.chosen = choice(chosen);
    for (size_t i = 0; i < n; ++i) out.top.push_back(choice(top[i]));
    return out;
}

void JobRunner::run(ExecuteTask& task) {
    const Model& model = *state_.model();
    const ExecuteRequest& req = task.request;
    const uint32_t ctx = state_.facts().context_length;
    std::unique_lock engine(state_.engine_mutex(), std::defer_lock);
    // The field the client gave its prompt in (OpenAI chat has no `prompt`),
    // named by the refusals about the prompt.
    const std::string field = task.segments ? "messages" : "prompt";
    const std::string what = task.segments ? "the conversation" : "the prompt";

    // ---- 1. capacity: prompt tokens + max_tokens must fit the context ----
    size_t prompt_tokens = 0;
    std::vector<int32_t> prompt_ids;  // a chat task's prompt
    bool resident = true;
    try {
        engine.lock();
        if (task.segments) {
            prompt_ids = tokenize_segments(model, *task.segments);
            prompt_tokens = prompt_ids.size();
        } else {
            prompt_tokens = model.count_tokens(req.prompt, req.parse_special);
        }
        // Residency is verified before every job: a model whose memory is no
        // longer on the device must not run (and the worker turns unhealthy).
        resident = model.resident();
        engine.unlock();
    } catch (const EngineError& e) {
        if (engine.owns_lock()) engine.unlock();
        if (e.code() == ORCD_INVALID_REQUEST)
            return reject(task, 400, invalid_request_body(field, "tokenize", what + " cannot be tokenized"),
                          Outcome::invalid_request);
        return reject(task, http_status_for(e.code()), error_body(e.name(), e.what(), e.retriable()),
                      outcome_of(e.code(), false));
    }
    if (!resident) {
        state_.set_status(Status::unhealthy);
        engine.lock();
        state_.refresh_memory_locked();  // /health shows resident: false at once
        engine.unlock();
        return reject(task, 503,
                      error_body(orcd_error_name(ORCD_CUDA_ERROR), "the model's memory is not resident on the device",
                                 true),
                      Outcome::unavailable);
    }
    if (prompt_tokens == 0)  // e.g. a conversation the template renders to nothing
        return reject(task, 400, invalid_request_body(field, "min_length", what + " encodes to no tokens"),
                      Outcome::invalid_request);
    uint32_t max_tokens = 0;
    if (req.max_tokens) {
        max_tokens = *req.max_tokens;
        if (prompt_tokens + max_tokens > ctx)
            return reject(task, 400,
                          invalid_request_body("max_tokens", "context",
                                               "prompt tokens (" + std::to_string(prompt_tokens) + ") + max_tokens (" +
                                                   std::to_string(max_tokens) + ") exceed the context length (" +
                                                   std::to_string(ctx) + ")"),
                          Outcome::invalid_request);
    } else {
        if (prompt_tokens >= ctx)
            return reject(task, 400,
                          invalid_request_body(field, "context",
                                               what + "'s " + std::to_string(prompt_tokens) +
                                                   " tokens leave no room in the context length (" +
                                                   std::to_string(ctx) + ")"),
                          Outcome::invalid_request);
        max_tokens = std::min<uint32_t>(config_.max_tokens_out, static_cast<uint32_t>(ctx - prompt_tokens));
    }

    // ---- 2. create the job ----------------------------------------------
    orcd_job_params params = orcd_job_default_params();
    params.max_tokens = max_tokens;
    params.temperature = req.temperature;
    params.top_p = req.top_p;
    params.top_k = req.top_k;
    params.min_p = req.min_p;
    params.repetition_penalty = req.repetition_penalty;
    params.repetition_last_n = req.repetition_last_n;
    params.has_seed = req.seed.has_value() ? 1 : 0;
    params.seed = req.seed.value_or(0);
    std::vector<const char*> stops;
    for (const auto& s : req.stop) stops.push_back(s.c_str());
    params.stop = stops.empty() ? nullptr : stops.data();
    params.n_stop = stops.size();
    params.timeout_seconds = config_.inference_timeout_sec;
    params.parse_special = req.parse_special ? 1 : 0;
    task.protocol->configure(params);
    JobProtocol& proto = *task.protocol;

    std::optional<Job> job;
    orcd_job_stats stats{};
    try {
        engine.lock();
        job.emplace(task.segments ? Job::create_tokens(model, prompt_ids, params) : Job::create(model, req.prompt, params));
        stats = job->stats();
        engine.unlock();
    } catch (const EngineError& e) {
        job.reset();
        if (engine.owns_lock()) engine.unlock();
        json body = e.code() == ORCD_INVALID_REQUEST ? invalid_request_body("body", "engine", e.what())
                                                     : error_body(e.name(), e.what(), e.retriable());
        return reject(task, http_status_for(e.code()), body, outcome_of(e.code(), false));
    }
    state_.attach_job(task.ticket, &*job);
    const auto job_started = Clock::now();

    log_.info("execute_start", {{"job_id", req.job_id},
                                {"correlation_id", task.correlation_id},
                                {"api", task.api},
                                {"prompt_tokens", stats.prompt_tokens},
                                {"max_tokens", max_tokens},
                                {"seed", stats.seed},
                                {"temperature", req.temperature}});
    send(task, proto.head(task.correlation_id));
    send(task, proto.started({task.correlation_id, state_.facts().name, stats.seed, stats.prompt_tokens}));

    // ---- 3. the token loop ------------------------------------------------
    orcd_status status = ORCD_OK;
    std::string detail;
    bool first = true;
    JobStep step;
    for (;;) {
        orcd_job_event ev{};
        engine.lock();
        status = job->next(ev);
        if (status == ORCD_OK) {
            step.text.assign(ev.text ? ev.text : "", ev.text_len);
            step.has_logprobs = proto.wants_logprobs() && ev.token >= 0;
            try {
                if (step.has_logprobs) step.logprobs = step_logprobs(model, *job);
            } catch (const EngineError& e) {
                status = e.code();
                detail = e.what();
            }
        } else {
            detail = orcd_last_error_detail();
        }
        engine.unlock();
        if (status != ORCD_OK) break;
        if (first && ev.token >= 0) {
            metrics_.observe_time_to_first_token(seconds_since(task.received));
            first = false;
        }
        try {
            send(task, proto.step(step));
        } catch (const nlohmann::json::exception&) {
            // A split or invalid character must not reach the client; the
            // job cannot continue correctly after that.
            job->cancel();
            status = ORCD_INTERNAL;
            detail = "the engine produced text that is not valid UTF-8";
            break;
        }
        if (ev.done) break;
    }

    // ---- 4. the terminal event ---------------------------------------------
    // The slot is freed before the terminal event leaves, so a client that
    // reacts to `end` at once finds the worker idle.
    engine.lock();
    try {
        stats = job->stats();
    } catch (const EngineError&) {
        // keep the creation-time stats; the terminal event still goes out
    }
    state_.detach_job(task.ticket);
    job.reset();
    bool device_lost = false;
    if (status == ORCD_CUDA_ERROR) {
        try {
            device_lost = !model.resident();
        } catch (const EngineError&) {
            device_lost = true;
        }
    }
    state_.refresh_memory_locked();
    engine.unlock();
    if (device_lost) state_.set_status(Status::unhealthy);

    const bool gone = task.sink->client_gone();
    const Outcome outcome = outcome_of(status, gone);
    const double duration = std::chrono::duration<double>(Clock::now() - job_started).count();
    metrics_.count_request(outcome);
    metrics_.add_tokens(stats.tokens_out, stats.prompt_tokens);
    metrics_.observe_inference_duration(duration);

    std::string terminal;
    if (status == ORCD_OK) {
        JobEnded ended{stats, {}};
        if (stats.stop_reason == ORCD_STOP_SEQUENCE && stats.stop_sequence_index >= 0 &&
            static_cast<size_t>(stats.stop_sequence_index) < req.stop.size())
            ended.stop_sequence = req.stop[static_cast<size_t>(stats.stop_sequence_index)];
        terminal = proto.ended(ended);
        log_.info("execute_end", {{"job_id", req.job_id},
                                  {"correlation_id", task.correlation_id},
                                  {"api", task.api},
                                  {"outcome", outcome_label(outcome)},
                                  {"tokens_out", stats.tokens_out},
                                  {"prompt_tokens", stats.prompt_tokens},
                                  {"stop_reason", stop_reason_name(stats.stop_reason)},
                                  {"prefill_time_ms", stats.prefill_ms},
                                  {"decode_time_ms", stats.decode_ms},
                                  {"time_to_first_token_ms", stats.time_to_first_token_ms},
                                  {"duration_ms", duration * 1000.0}});
    } else {
        json extra = json::object();
        if (status == ORCD_VRAM_OOM) {
            try {
                std::lock_guard relock(state_.engine_mutex());
                const orcd_memory_stats mem = model.memory_stats();
                extra["vram_used"] = mem.total_bytes;
                extra["vram_available"] = mem.device_free_bytes;
            } catch (const EngineError&) {
                // the error event goes out without the figures
            }
        }
        terminal = proto.failed(status, error_message(status, detail), extra);
        log_.log(status == ORCD_CANCELLED ? Level::info : Level::error, "execute_end",
                 {{"job_id", req.job_id},
                  {"correlation_id", task.correlation_id},
                  {"api", task.api},
                  {"outcome", outcome_label(outcome)},
                  {"code", orcd_error_name(status)},
                  {"message", error_message(status, detail)},
                  {"tokens_out", stats.tokens_out},
                  {"duration_ms", duration * 1000.0}});
    }
    state_.release(task.ticket);
    send(task, std::move(terminal));
    task.sink->close_stream();
}

}  // namespace orcd::server
