// The C API: a thin shell that turns C calls into engine calls and engine
// exceptions into status codes plus the thread-local detail string. No
// exception crosses this file's functions.
#include <orcd/orcd.h>

#if defined(ORCD_WITH_CUDA)
#include <cuda_runtime_api.h>  // CUDART_VERSION
#endif

#include "common/error.h"
#include "common/fault_injection.h"
#include "engine/engine.h"
#include "engine/job.h"
#include "gguf/gguf.h"

#include <atomic>
#include <cstdio>
#include <iterator>
#include <new>
#include <vector>
#include <cstring>
#include <exception>
#include <new>
#include <string>

struct orcd_device {
    std::unique_ptr<orcd::Device> impl;
};

struct orcd_vocab {
    std::unique_ptr<orcd::Tokenizer> owned;  // set by orcd_vocab_load; empty for a model's
    const orcd::Tokenizer* tok = nullptr;
};

struct orcd_model {
    orcd_device* device;
    std::unique_ptr<orcd::Model> impl;
    orcd_vocab vocab;  // borrows impl's tokenizer
};

struct orcd_job {
    std::unique_ptr<orcd::Job> impl;
    std::string text;  // backing store of the last event's text
};

// Written at build time by cmake/build_commit.cmake.
extern "C" const char orcd_build_commit_text[];

namespace {

thread_local std::string t_detail;

orcd_status set_error(orcd_status code, std::string detail) {
    t_detail = std::move(detail);
    return code;
}

// Runs f, mapping every exception to a status code and detail.
template <typename F>
orcd_status guarded(F&& f) {
    try {
        f();
        return ORCD_OK;
    } catch (const orcd::Error& e) {
        return set_error(e.code(), e.what());
    } catch (const orcd::gguf::GgufError& e) {
        return set_error(ORCD_MODEL_LOAD_FAILED, e.what());
    } catch (const std::bad_alloc&) {
        return set_error(ORCD_INTERNAL, "host memory exhausted");
    } catch (const std::exception& e) {
        return set_error(ORCD_INTERNAL, std::string("unexpected error: ") + e.what());
    } catch (...) {
        return set_error(ORCD_INTERNAL, "unexpected non-standard exception");
    }
}

#define ORCD_REQUIRE(cond, what)                                   \
    do {                                                           \
        if (!(cond)) return set_error(ORCD_INVALID_REQUEST, what); \
    } while (0)

// The sizing contract of every function that returns bytes: *n_out is the
// full size; a cap of 0 measures; a smaller non-zero cap is an error.
orcd_status copy_out(std::string_view bytes, char* out, size_t cap, size_t* n_out, const char* fn) {
    *n_out = bytes.size();
    if (bytes.size() > cap)
        return cap == 0 ? ORCD_OK : set_error(ORCD_INVALID_REQUEST, std::string(fn) + ": output buffer too small");
    if (!bytes.empty()) std::memcpy(out, bytes.data(), bytes.size());
    return ORCD_OK;
}

// A function that returns some bytes of one token (its text, its piece).
template <typename Get>
orcd_status one_token(const orcd_model* model, int32_t id, char* out, size_t cap, size_t* n_out, const char* fn,
                      Get&& get) {
    if (!model || !n_out) return set_error(ORCD_INVALID_REQUEST, std::string(fn) + ": NULL argument");
    if (!out && cap != 0) return set_error(ORCD_INVALID_REQUEST, std::string(fn) + ": out is NULL");
    *n_out = 0;
    const orcd::Tokenizer& tok = model->impl->tokenizer();
    if (id < 0 || size_t(id) >= tok.vocab_size()) return set_error(ORCD_INVALID_REQUEST, std::string(fn) + ": id out of range");
    std::string bytes;
    const orcd_status st = guarded([&] { bytes = get(tok, id); });
    if (st != ORCD_OK) return st;
    return copy_out(bytes, out, cap, n_out, fn);
}

orcd::JobParams to_job_params(const orcd_job_params& p) {
    orcd::JobParams jp;
    jp.max_tokens = p.max_tokens;
    jp.sampling.temperature = p.temperature;
    jp.sampling.top_p = p.top_p;
    jp.sampling.top_k = p.top_k;
    jp.sampling.min_p = p.min_p;
    jp.sampling.repetition_penalty = p.repetition_penalty;
    jp.sampling.repetition_last_n = p.repetition_last_n;
    jp.sampling.presence_penalty = p.presence_penalty;
    jp.sampling.frequency_penalty = p.frequency_penalty;
    if (p.has_seed) jp.seed = p.seed;
    for (size_t i = 0; i < p.n_stop; ++i) {
        if (!p.stop[i]) orcd::fail(ORCD_INVALID_REQUEST, "orcd_job_create: stop sequence is NULL");
        jp.stop.emplace_back(p.stop[i]);
    }
    jp.timeout_seconds = p.timeout_seconds;
    jp.parse_special = p.parse_special != 0;
    if (p.top_logprobs < 0) orcd::fail(ORCD_INVALID_REQUEST, "orcd_job_create: top_logprobs must be >= 0");
    jp.logprobs = p.logprobs != 0;
    jp.top_logprobs = uint32_t(p.top_logprobs);
    return jp;
}

// Checks shared by both ways of creating a job; returns the params to use.
orcd_status job_preamble(orcd_model* model, const orcd_job_params* params, orcd_job** out, orcd_job_params& p) {
    ORCD_REQUIRE(out, "orcd_job_create: out is NULL");
    *out = nullptr;
    ORCD_REQUIRE(model, "orcd_job_create: model is NULL");
    p = params ? *params : orcd_job_default_params();
    ORCD_REQUIRE(p.n_stop <= ORCD_MAX_STOP_SEQUENCES, "orcd_job_create: at most 4 stop sequences");
    ORCD_REQUIRE(p.stop || p.n_stop == 0, "orcd_job_create: stop is NULL");
    return ORCD_OK;
}

}  // namespace

extern "C" {

const char* orcd_version_string(void) { return "0.1.0"; }
int orcd_abi_version(void) { return ORCD_ABI_VERSION; }
const char* orcd_build_commit(void) { return orcd_build_commit_text; }
int32_t orcd_cuda_build_version(void) {
#if defined(ORCD_WITH_CUDA)
    return CUDART_VERSION;
#else
    return 0;
#endif
}

const char* orcd_last_error_detail(void) { return t_detail.c_str(); }

orcd_device_params orcd_device_default_params(void) {
    orcd_device_params p;
    std::memset(&p, 0, sizeof p);
    p.kind = ORCD_DEVICE_CUDA;
    p.gpu_index = 0;
    p.cpu_threads = 0;
    return p;
}

orcd_status orcd_device_open(const orcd_device_params* params, orcd_device** out) {
    ORCD_REQUIRE(out, "orcd_device_open: out is NULL");
    *out = nullptr;
    const orcd_device_params p = params ? *params : orcd_device_default_params();
    return guarded([&] {
        auto d = std::make_unique<orcd_device>();
        if (p.kind == ORCD_DEVICE_CPU)
            d->impl = orcd::make_cpu_device(p.cpu_threads);
        else if (p.kind == ORCD_DEVICE_CUDA)
            d->impl = orcd::make_cuda_device(p.gpu_index);
        else
            orcd::fail(ORCD_INVALID_REQUEST, "unknown device kind " + std::to_string(int(p.kind)));
        *out = d.release();
    });
}

void orcd_device_close(orcd_device* device) { delete device; }

orcd_status orcd_device_get_info(const orcd_device* device, orcd_device_info* out) {
    ORCD_REQUIRE(device && out, "orcd_device_get_info: NULL argument");
    return guarded([&] { *out = device->impl->info(); });
}

orcd_model_params orcd_model_default_params(void) {
    orcd_model_params p;
    std::memset(&p, 0, sizeof p);
    p.n_ctx = 0;
    p.load_chunk_bytes = 16ull << 20;
    return p;
}

orcd_status orcd_model_load(orcd_device* device, const char* path, const orcd_model_params* params, orcd_model** out) {
    ORCD_REQUIRE(out, "orcd_model_load: out is NULL");
    *out = nullptr;
    ORCD_REQUIRE(device, "orcd_model_load: device is NULL");
    ORCD_REQUIRE(path && *path, "orcd_model_load: path is empty");
    const orcd_model_params p = params ? *params : orcd_model_default_params();
    ORCD_REQUIRE(p.load_chunk_bytes >= 4096, "orcd_model_load: load_chunk_bytes must be at least 4096");
    return guarded([&] {
        orcd::ModelLoadParams lp;
        lp.n_ctx = p.n_ctx;
        lp.load.chunk_bytes = p.load_chunk_bytes;
        if (p.progress) {
            const orcd_progress_fn fn = p.progress;
            void* user = p.progress_user;
            lp.load.progress = [fn, user](int pct, uint64_t done, uint64_t total) { fn(user, pct, done, total); };
        }
        auto m = std::make_unique<orcd_model>();
        m->device = device;
        try {
            m->impl = orcd::Model::load(*device->impl, path, lp);
        } catch (const std::bad_alloc&) {
            // At load, host memory running out is the model (or the CPU
            // backend's KV cache) not fitting this host, not a bug.
            orcd::fail(ORCD_MODEL_LOAD_FAILED, std::string("'") + path +
                                                   "': host memory exhausted while loading the model and its context "
                                                   "(a smaller context size needs less)");
        }
        m->vocab.tok = &m->impl->tokenizer();
        *out = m.release();
    });
}

void orcd_model_free(orcd_model* model) { delete model; }

orcd_status orcd_model_get_info(const orcd_model* model, orcd_model_info* out) {
    ORCD_REQUIRE(model && out, "orcd_model_get_info: NULL argument");
    *out = model->impl->info();
    return ORCD_OK;
}

orcd_status orcd_model_check_residency(orcd_model* model, int32_t* resident) {
    ORCD_REQUIRE(model && resident, "orcd_model_check_residency: NULL argument");
    return guarded([&] {
        *resident = model->impl->backend().check_residency() ? 1 : 0;
#if defined(ORCD_FAULT_INJECTION)
        // Test builds can make the check fail, and keep failing (sticky).
        static std::atomic<bool> lost{false};
        if (lost.load() || orcd::fault::should_fail(orcd::fault::Point::Residency)) {
            lost.store(true);
            *resident = 0;
        }
#endif
    });
}

orcd_status orcd_model_memory_stats(const orcd_model* model, orcd_memory_stats* out) {
    ORCD_REQUIRE(model && out, "orcd_model_memory_stats: NULL argument");
    return guarded([&] {
        const orcd::MemoryStats s = model->impl->backend().memory_stats();
        std::memset(out, 0, sizeof *out);
        out->total_bytes = s.total();
        out->weights_bytes = s.weights;
        out->kv_cache_bytes = s.kv_cache;
        out->activations_bytes = s.activations;
        out->workspace_bytes = s.workspace;
        out->sampling_bytes = s.sampling;
        out->device_free_bytes = s.device_free;
        out->device_total_bytes = s.device_total;
    });
}

orcd_status orcd_vocab_load(const char* path, orcd_vocab** out) {
    ORCD_REQUIRE(out, "orcd_vocab_load: out is NULL");
    *out = nullptr;
    ORCD_REQUIRE(path && *path, "orcd_vocab_load: path is empty");
    return guarded([&] {
        auto v = std::make_unique<orcd_vocab>();
        {
            const auto file = orcd::gguf::File::open(path);  // closed again once the tokenizer is built
            v->owned = orcd::Tokenizer::from_gguf(*file);
        }
        v->tok = v->owned.get();
        *out = v.release();
    });
}

void orcd_vocab_free(orcd_vocab* vocab) {
    // A model's vocabulary owns nothing; refusing it keeps a caller's mistake harmless.
    if (vocab && vocab->owned) delete vocab;
}

const orcd_vocab* orcd_model_vocab(const orcd_model* model) { return model ? &model->vocab : nullptr; }

orcd_status orcd_vocab_get_info(const orcd_vocab* vocab, orcd_vocab_info* out) {
    ORCD_REQUIRE(vocab && out, "orcd_vocab_get_info: NULL argument");
    const orcd::Tokenizer& tok = *vocab->tok;
    std::memset(out, 0, sizeof *out);
    std::snprintf(out->kind, sizeof out->kind, "%s", tok.kind());
    std::snprintf(out->pre, sizeof out->pre, "%.*s", int(tok.pre().size()), tok.pre().data());
    out->n_tokens = uint32_t(tok.vocab_size());
    out->bos_token = tok.bos();
    out->eos_token = tok.eos();
    out->add_bos = tok.add_bos_default() ? 1 : 0;
    return ORCD_OK;
}

orcd_status orcd_vocab_tokenize(const orcd_vocab* vocab, const char* text, size_t text_len, int32_t flags,
                                int32_t* out, size_t cap, size_t* n_out) {
    ORCD_REQUIRE(vocab && n_out, "orcd_tokenize: NULL argument");
    ORCD_REQUIRE(text || text_len == 0, "orcd_tokenize: text is NULL");
    ORCD_REQUIRE(out || cap == 0, "orcd_tokenize: out is NULL");
    ORCD_REQUIRE((flags & ~(ORCD_TOKENIZE_ADD_BOS | ORCD_TOKENIZE_PARSE_SPECIAL)) == 0,
                 "orcd_tokenize: unknown flag bits");
    *n_out = 0;
    std::vector<int32_t> ids;
    const orcd_status st = guarded([&] {
        ids = vocab->tok->encode(std::string_view(text ? text : "", text_len), (flags & ORCD_TOKENIZE_ADD_BOS) != 0,
                                 (flags & ORCD_TOKENIZE_PARSE_SPECIAL) != 0);
    });
    if (st != ORCD_OK) return st;
    *n_out = ids.size();
    if (ids.size() > cap) return cap == 0 ? ORCD_OK : set_error(ORCD_INVALID_REQUEST, "orcd_tokenize: output buffer too small");
    std::memcpy(out, ids.data(), ids.size() * sizeof(int32_t));
    return ORCD_OK;
}

orcd_status orcd_tokenize_segments(const orcd_model* model, const orcd_text_segment* segments, size_t n,
                                   int32_t flags, int32_t* out, size_t cap, size_t* n_out) {
    ORCD_REQUIRE(model && n_out, "orcd_tokenize_segments: NULL argument");
    ORCD_REQUIRE(segments || n == 0, "orcd_tokenize_segments: segments is NULL");
    ORCD_REQUIRE(out || cap == 0, "orcd_tokenize_segments: out is NULL");
    ORCD_REQUIRE((flags & ~ORCD_TOKENIZE_ADD_BOS) == 0, "orcd_tokenize_segments: flags may only hold ORCD_TOKENIZE_ADD_BOS");
    *n_out = 0;
    std::vector<orcd::TextSegment> segs;
    for (size_t i = 0; i < n; ++i) {
        ORCD_REQUIRE(segments[i].text || segments[i].len == 0, "orcd_tokenize_segments: a segment's text is NULL");
        segs.push_back({std::string_view(segments[i].text ? segments[i].text : "", segments[i].len),
                        segments[i].parse_special != 0});
    }
    std::vector<int32_t> ids;
    const orcd_status st = guarded([&] {
        ids = model->impl->tokenizer().encode_segments(segs, (flags & ORCD_TOKENIZE_ADD_BOS) != 0);
    });
    if (st != ORCD_OK) return st;
    *n_out = ids.size();
    if (ids.size() > cap)
        return cap == 0 ? ORCD_OK : set_error(ORCD_INVALID_REQUEST, "orcd_tokenize_segments: output buffer too small");
    if (!ids.empty()) std::memcpy(out, ids.data(), ids.size() * sizeof(int32_t));
    return ORCD_OK;
}

orcd_status orcd_vocab_detokenize(const orcd_vocab* vocab, const int32_t* ids, size_t n_ids, char* out, size_t cap,
                                  size_t* n_out) {
    ORCD_REQUIRE(vocab && n_out, "orcd_detokenize: NULL argument");
    ORCD_REQUIRE(ids || n_ids == 0, "orcd_detokenize: ids is NULL");
    ORCD_REQUIRE(out || cap == 0, "orcd_detokenize: out is NULL");
    *n_out = 0;
    const orcd::Tokenizer& tok = *vocab->tok;
    for (size_t i = 0; i < n_ids; ++i)
        if (ids[i] < 0 || size_t(ids[i]) >= tok.vocab_size())
            return set_error(ORCD_INVALID_REQUEST, "orcd_detokenize: id " + std::to_string(ids[i]) + " out of range");
    std::string text;
    const orcd_status st = guarded([&] { text = tok.decode(std::vector<int32_t>(ids, ids + n_ids)); });
    if (st != ORCD_OK) return st;
    return copy_out(text, out, cap, n_out, "orcd_detokenize");
}

orcd_status orcd_token_text(const orcd_model* model, int32_t id, char* out, size_t cap, size_t* n_out) {
    return one_token(model, id, out, cap, n_out, "orcd_token_text",
                     [](const orcd::Tokenizer& t, int32_t i) { return t.token_text(i); });
}

orcd_status orcd_token_piece(const orcd_model* model, int32_t id, char* out, size_t cap, size_t* n_out) {
    return one_token(model, id, out, cap, n_out, "orcd_token_piece",
                     [](const orcd::Tokenizer& t, int32_t i) { return t.token_bytes(i); });
}

orcd_status orcd_tokenize(const orcd_model* model, const char* text, size_t text_len, int32_t flags, int32_t* out,
                          size_t cap, size_t* n_out) {
    ORCD_REQUIRE(model, "orcd_tokenize: NULL argument");
    return orcd_vocab_tokenize(&model->vocab, text, text_len, flags, out, cap, n_out);
}

orcd_status orcd_detokenize(const orcd_model* model, const int32_t* ids, size_t n_ids, char* out, size_t cap,
                            size_t* n_out) {
    ORCD_REQUIRE(model, "orcd_detokenize: NULL argument");
    return orcd_vocab_detokenize(&model->vocab, ids, n_ids, out, cap, n_out);
}

orcd_job_params orcd_job_default_params(void) {
    orcd_job_params p;
    std::memset(&p, 0, sizeof p);
    p.max_tokens = 2048;
    p.temperature = 1.0f;
    p.top_p = 1.0f;
    p.top_k = 0;
    p.min_p = 0.0f;
    p.repetition_penalty = 1.0f;
    p.repetition_last_n = 64;
    p.has_seed = 0;
    p.stop = nullptr;
    p.n_stop = 0;
    p.timeout_seconds = 0;
    p.parse_special = 0;
    return p;
}

orcd_status orcd_job_create(orcd_model* model, const char* prompt, size_t prompt_len, const orcd_job_params* params,
                            orcd_job** out) {
    orcd_job_params p;
    if (const orcd_status st = job_preamble(model, params, out, p); st != ORCD_OK) return st;
    ORCD_REQUIRE(prompt || prompt_len == 0, "orcd_job_create: prompt is NULL");
    return guarded([&] {
        const orcd::JobParams jp = to_job_params(p);
        auto j = std::make_unique<orcd_job>();
        j->impl = std::make_unique<orcd::Job>(*model->impl, std::string_view(prompt ? prompt : "", prompt_len), jp);
        *out = j.release();
    });
}

orcd_status orcd_job_create_tokens(orcd_model* model, const int32_t* ids, size_t n_ids, const orcd_job_params* params,
                                   orcd_job** out) {
    orcd_job_params p;
    if (const orcd_status st = job_preamble(model, params, out, p); st != ORCD_OK) return st;
    ORCD_REQUIRE(ids || n_ids == 0, "orcd_job_create_tokens: ids is NULL");
    return guarded([&] {
        const orcd::JobParams jp = to_job_params(p);
        auto j = std::make_unique<orcd_job>();
        j->impl = std::make_unique<orcd::Job>(*model->impl, std::span<const int32_t>(ids, n_ids), jp);
        *out = j.release();
    });
}

orcd_status orcd_job_next(orcd_job* job, orcd_job_event* event) {
    ORCD_REQUIRE(job && event, "orcd_job_next: NULL argument");
    return guarded([&] {
        orcd::JobEvent ev = job->impl->next();
        job->text = std::move(ev.text);
        event->token = ev.token;
        event->index = ev.index;
        event->text = job->text.c_str();
        event->text_len = job->text.size();
        event->done = ev.done ? 1 : 0;
        event->stop_reason = ev.stop_reason;
    });
}

void orcd_job_cancel(orcd_job* job) {
    if (job && job->impl) job->impl->cancel();
}

orcd_status orcd_job_get_stats(const orcd_job* job, orcd_job_stats* out) {
    ORCD_REQUIRE(job && out, "orcd_job_get_stats: NULL argument");
    *out = job->impl->stats();
    return ORCD_OK;
}

void orcd_job_free(orcd_job* job) { delete job; }

orcd_status orcd_job_last_logits(const orcd_job* job, float* out, size_t cap) {
    ORCD_REQUIRE(job && out, "orcd_job_last_logits: NULL argument");
    return guarded([&] { job->impl->last_logits(std::span<float>(out, cap)); });
}

orcd_status orcd_job_last_logprobs(const orcd_job* job, orcd_token_logprob* chosen, orcd_token_logprob* top, size_t cap,
                                   size_t* n_top) {
    ORCD_REQUIRE(job && chosen && n_top, "orcd_job_last_logprobs: NULL argument");
    ORCD_REQUIRE(top || cap == 0, "orcd_job_last_logprobs: top is NULL");
    *n_top = 0;
    std::vector<orcd::TokenLogprob> best;
    orcd::TokenLogprob c;
    const orcd_status st = guarded([&] { c = job->impl->last_logprob(best); });
    if (st != ORCD_OK) return st;
    *chosen = {c.token, c.logprob};
    *n_top = best.size();
    if (best.size() > cap) return set_error(ORCD_INVALID_REQUEST, "orcd_job_last_logprobs: top buffer too small");
    for (size_t i = 0; i < best.size(); ++i) top[i] = {best[i].token, best[i].logprob};
    return ORCD_OK;
}

}  // extern "C"

// ---- Model metadata and registries ------------------------------------------

const char* orcd_model_architecture(const orcd_model* model) {
    return model ? model->impl->config().architecture.c_str() : "";
}

const char* orcd_model_weight_format(const orcd_model* model) {
    return model ? model->impl->weight_format().c_str() : "";
}

orcd_status orcd_model_meta_str(const orcd_model* model, const char* key, const char** text, size_t* len) {
    ORCD_REQUIRE(model && key && text && len, "orcd_model_meta_str: NULL argument");
    const std::string* t = model->impl->metadata_text(key);
    *text = t ? t->c_str() : nullptr;
    *len = t ? t->size() : 0;
    return ORCD_OK;
}

size_t orcd_model_meta_count(const orcd_model* model) { return model ? model->impl->metadata().size() : 0; }

const char* orcd_model_meta_key(const orcd_model* model, size_t i) {
    if (!model || i >= model->impl->metadata().size()) return nullptr;
    auto it = model->impl->metadata().begin();
    std::advance(it, i);
    return it->first.c_str();
}

namespace {

std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (const std::string& x : v) s += (s.empty() ? "" : ", ") + x;
    return s;
}

}  // namespace

const char* orcd_supported_architectures(void) {
    static const std::string list = join(orcd::supported_architectures());
    return list.c_str();
}

const char* orcd_supported_weight_formats(orcd_device_kind kind) {
    static const std::string cpu = orcd::cpu_weight_formats();
    static const std::string cuda = orcd::cuda_weight_formats();
    return kind == ORCD_DEVICE_CUDA ? cuda.c_str() : cpu.c_str();
}
