#include "bench_engine.h"

#include "bench_timer.h"
#include "common/error.h"

#include <cuda_runtime_api.h>

#include <cmath>
#include <random>

namespace orcd::bench {

std::unique_ptr<Model> load_model(Device& device, const std::string& path, uint32_t n_ctx, bool measure,
                                  LoadResult& out) {
    ModelLoadParams params;
    params.n_ctx = n_ctx;
    auto timed_load = [&](bool cuda_sync) {
        const double t0 = host_seconds();
        auto m = Model::load(device, path, params);
        if (cuda_sync) {
            const cudaError_t e = cudaDeviceSynchronize();
            if (e != cudaSuccess) fail(ORCD_CUDA_ERROR, std::string("after load: ") + cudaGetErrorName(e));
        }
        return std::pair{std::move(m), host_seconds() - t0};
    };
    const bool cuda = device.info().kind == ORCD_DEVICE_CUDA;
    if (!measure) return timed_load(cuda).first;
    {
        auto [first, secs] = timed_load(cuda);
        out.first_s = secs;
    }  // freed before the second load, so both see the same free memory
    auto [model, secs] = timed_load(cuda);
    out.second_s = secs;
    out.weight_bytes = model->backend().weight_bytes();
    return std::move(model);
}

EngineBench::EngineBench(Model& model, bool cuda, int warmup, int reps, uint64_t seed, float temperature,
                         float presence_penalty, float frequency_penalty)
    : model_(model),
      cuda_(cuda),
      warmup_(warmup),
      reps_(reps),
      seed_(seed),
      temperature_(temperature),
      presence_(presence_penalty),
      frequency_(frequency_penalty) {}

std::string EngineBench::timing_method() const {
    RegionTimer t(model_.backend().native_stream(), cuda_);
    return t.method();
}

uint32_t EngineBench::kv_elem_bytes() const {
    const uint64_t elems = model_.kv().layout().total_elems();
    return elems ? uint32_t(model_.backend().kv_bytes() / elems) : 0;
}

std::vector<int32_t> EngineBench::random_tokens(uint32_t n, uint64_t salt) const {
    std::mt19937_64 rng(seed_ ^ (salt * 0x9E3779B97F4A7C15ull));
    std::uniform_int_distribution<int32_t> id(0, int32_t(model_.config().n_vocab) - 1);
    std::vector<int32_t> out(n);
    for (auto& t : out) t = id(rng);
    return out;
}

void EngineBench::run_prefill(const std::vector<int32_t>& tokens) {
    KvCache& kv = model_.kv();
    const uint32_t chunk = model_.max_batch();
    for (size_t at = 0; at < tokens.size(); at += chunk) {
        const uint32_t n = uint32_t(std::min<size_t>(chunk, tokens.size() - at));
        model_.backend().forward(&tokens[at], n, kv.append(n));
    }
}

PrefillResult EngineBench::prefill(uint32_t n) {
    if (n > model_.kv().capacity())
        fail(ORCD_INVALID_REQUEST, "prompt of " + std::to_string(n) + " tokens exceeds the context of " +
                                       std::to_string(model_.kv().capacity()));
    PrefillResult r;
    r.tokens = n;
    r.chunk = model_.max_batch();
    const auto tokens = random_tokens(n, n);
    RegionTimer timer(model_.backend().native_stream(), cuda_);
    std::vector<double> ms, host_ms;
    for (int i = 0; i < warmup_ + reps_; ++i) {
        model_.kv().reset();
        model_.backend().begin_job();
        timer.start();
        const double h0 = host_seconds();
        run_prefill(tokens);
        const double h = (host_seconds() - h0) * 1e3;
        const double t = timer.stop_ms();
        if (i >= warmup_) {
            ms.push_back(t);
            host_ms.push_back(h);
        }
    }
    std::vector<float> logits(model_.config().n_vocab);
    model_.backend().read_logits(logits);
    for (float x : logits) r.logits_finite = r.logits_finite && std::isfinite(x);
    r.ms = summarize(ms);
    r.host_ms = summarize(host_ms);
    r.tok_s = summarize_mapped(ms, [n](double t) { return double(n) / (t * 1e-3); });
    return r;
}

DecodeResult EngineBench::decode(uint32_t depth, uint32_t steps) {
    KvCache& kv = model_.kv();
    Backend& be = model_.backend();
    if (uint64_t(depth) + steps > kv.capacity())
        fail(ORCD_INVALID_REQUEST, "depth " + std::to_string(depth) + " + " + std::to_string(steps) +
                                       " steps exceeds the context of " + std::to_string(kv.capacity()));
    DecodeResult r;
    r.depth = depth;
    r.steps = steps;
    r.temperature = temperature_;
    r.presence_penalty = presence_;
    r.frequency_penalty = frequency_;
    r.logprobs = logprobs_;
    r.host_logprobs = host_logprobs_;
    // Fill the cache to the depth once (untimed); each repetition then
    // decodes over the same positions [depth, depth + steps), attention
    // covering only what precedes each step.
    const auto context = random_tokens(depth, 0xdec0de + depth);
    kv.reset();
    be.begin_job();
    run_prefill(context);
    const int32_t first = random_tokens(1, 0xf1257 + depth)[0];

    SamplingConfig sampling;
    sampling.temperature = temperature_;
    sampling.presence_penalty = presence_;
    sampling.frequency_penalty = frequency_;
    const int32_t n_vocab = int32_t(model_.config().n_vocab);
    RegionTimer timer(be.native_stream(), cuda_);
    std::vector<double> ms;
    std::vector<int32_t> reference;
    std::vector<TokenLogprob> top;
    for (int i = 0; i < warmup_ + reps_; ++i) {
        kv.reset();
        kv.append(depth);  // positions [0, depth) hold the context already
        std::vector<int32_t> history(context);
        history.push_back(first);
        timer.start();
        for (uint32_t s = 0; s < steps; ++s) {
            be.forward(&history.back(), 1, kv.append(1));
            // As a job does: the next step may start behind the sampling.
            history.push_back(s + 1 < steps ? be.sample_then_step(sampling, history, seed_, s, kv.position())
                                            : be.sample(sampling, history, seed_, s));
            if (logprobs_ >= 0) {
                // The qualified call is the base class's host path.
                const TokenLogprob lp = host_logprobs_ ? be.Backend::logprobs(history.back(), size_t(logprobs_), top)
                                                       : be.logprobs(history.back(), size_t(logprobs_), top);
                r.logprobs_finite = r.logprobs_finite && lp.logprob <= 0.0f;
            }
        }
        const double t = timer.stop_ms();
        if (i >= warmup_) ms.push_back(t);
        std::vector<int32_t> produced(history.end() - steps, history.end());
        for (int32_t t2 : produced) r.tokens_in_range = r.tokens_in_range && t2 >= 0 && t2 < n_vocab;
        if (reference.empty()) reference = produced;
        else r.deterministic = r.deterministic && produced == reference;
    }
    r.ms_per_token = summarize_mapped(ms, [steps](double t) { return t / steps; });
    r.tok_s = summarize_mapped(ms, [steps](double t) { return double(steps) / (t * 1e-3); });
    // Step s attends positions [0, depth + s]: depth + s + 1 of them.
    r.mean_context = double(depth) + double(steps + 1) / 2.0;
    const KvLayout& l = kv.layout();
    r.kv_bytes_per_token =
        uint64_t(r.mean_context * 2.0 * double(l.n_layer) * double(l.row_elems()) * double(kv_elem_bytes()));
    return r;
}

}  // namespace orcd::bench
