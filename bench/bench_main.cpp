// worker-orcd-bench: the throughput and latency of one model on one GPU, as
// a Markdown table on stdout and (--json) a JSON document. Progress and
// diagnostics go to stderr. See bench/README.md.
//
// Order matters: the copy ceiling runs before the model holds memory; the
// engine figures run on a model this process loads; that model is freed
// before the worker binary is started for the HTTP figures, so the two never
// share the card.
#include "bench_args.h"
#include "bench_bandwidth.h"
#include "bench_engine.h"
#include "bench_http.h"
#include "bench_process.h"
#include "bench_report.h"
#include "bench_system.h"
#include "bench_timer.h"
#include "decode_bytes.h"

#include "common/error.h"
#include "engine/backend.h"
#include "engine/engine.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>

#include <unistd.h>

using namespace orcd;
using namespace orcd::bench;
using nlohmann::json;

namespace {

double g_t0 = 0;

void progress(const char* fmt, ...) {
    std::fprintf(stderr, "[bench +%6.1fs] ", host_seconds() - g_t0);
    va_list ap;
    va_start(ap, fmt);
    std::vfprintf(stderr, fmt, ap);
    va_end(ap);
    std::fputc('\n', stderr);
    std::fflush(stderr);
}

// Runs one part; a failure is recorded and the next part still runs.
bool section(Report& r, const std::string& name, const std::function<void()>& fn) {
    progress("%s ...", name.c_str());
    try {
        fn();
        return true;
    } catch (const Error& e) {
        r.errors.emplace_back(name, std::string(orcd_error_name(e.code())) + ": " + e.what());
    } catch (const std::exception& e) {
        r.errors.emplace_back(name, e.what());
    }
    progress("%s FAILED: %s", name.c_str(), r.errors.back().second.c_str());
    return false;
}

std::string self_dir() {
    std::error_code ec;
    const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    return ec ? std::string(".") : exe.parent_path().string();
}

json args_json(const Args& a, uint32_t n_ctx, const std::string& worker) {
    return {{"model_path", a.model},          {"device", a.cpu ? "cpu" : "cuda"},
            {"gpu_device", a.gpu},            {"prompts", a.prompts},
            {"depths", a.depths},             {"decode_steps", a.decode_steps},
            {"reps", a.reps},                 {"warmup", a.warmup},
            {"n_ctx", n_ctx},                 {"copy_bytes", a.copy_bytes},
            {"copy_reps", a.copy_reps},       {"worker", worker},
            {"http_prompt_tokens", a.http_prompt_tokens}, {"http_max_tokens", a.http_max_tokens},
            {"http_runs", a.http_runs},       {"seed", a.seed},
            {"temperature", a.temperature},
            {"presence_penalty", a.presence_penalty}, {"frequency_penalty", a.frequency_penalty},
            {"logprobs", a.logprobs},         {"host_logprobs", a.host_logprobs},
            {"llama_server", a.llama_server}};
}

json model_json(Model& m, uint32_t kv_elem_bytes, uint64_t file_bytes) {
    const ModelConfig& c = m.config();
    const orcd_model_info& i = m.info();
    const MemoryStats ms = m.backend().memory_stats();
    return {{"name", i.name},
            {"architecture", c.architecture},
            {"quant_kind", i.quant_kind},
            {"tokenizer_kind", i.tokenizer_kind},
            {"n_layer", c.n_layer},
            {"n_embd", c.n_embd},
            {"n_head", c.n_head},
            {"n_head_kv", c.n_head_kv},
            {"head_dim", c.head_dim},
            {"n_ff", c.n_ff},
            {"n_vocab", c.n_vocab},
            {"n_ctx_train", c.n_ctx_train},
            {"n_ctx", m.kv().capacity()},
            {"max_batch", m.max_batch()},
            {"file_bytes", file_bytes},
            {"weight_bytes", m.backend().weight_bytes()},
            {"kv_cache_bytes", m.backend().kv_bytes()},
            {"kv_elem_bytes", kv_elem_bytes},
            {"memory", {{"weights", ms.weights}, {"kv_cache", ms.kv_cache}, {"activations", ms.activations},
                        {"workspace", ms.workspace}, {"sampling", ms.sampling}, {"total", ms.total()},
                        {"device_free", ms.device_free}, {"device_total", ms.device_total}}}};
}

// Ordinary prose whose token count (BOS included) reaches `target`.
std::string prompt_of_tokens(const Tokenizer& tok, uint32_t target, uint32_t& count) {
    static const char* const words[] = {
        "The", "old", "harbour", "town", "woke", "slowly", "under", "a", "grey", "morning", "sky,", "and", "the",
        "fishermen", "carried", "their", "nets", "down", "to", "the", "water", "while", "children", "ran", "along",
        "the", "stone", "wall", "counting", "boats.", "A", "baker", "opened", "his", "shop", "early,", "because",
        "the", "market", "would", "be", "busy", "and", "everyone", "wanted", "fresh", "bread", "before", "noon.",
        "Later", "that", "day", "a", "small", "ship", "arrived", "with", "letters,", "tools", "and", "news", "from",
        "the", "cities", "in", "the", "south."};
    constexpr size_t kWords = sizeof words / sizeof words[0];
    std::string text;
    count = 0;
    for (size_t i = 0; count < target && i < 100000; ++i) {
        if (!text.empty()) text += ' ';
        text += words[i % kWords];
        count = uint32_t(tok.encode(text, true, false).size());
    }
    return text;
}

// How the decode and HTTP runs pick tokens, for the report.
std::string sampling_text(double temperature) {
    if (temperature == 0) return "greedy sample";
    char t[64];
    std::snprintf(t, sizeof t, "sample at temperature %g from the whole vocabulary", temperature);
    return t;
}

std::string logprobs_text(int n, bool on_host) {
    if (n < 0) return "";
    return ", logprobs with " + std::to_string(n) + " alternatives" + (on_host ? " (host path)" : "");
}

std::string penalties_text(float presence, float frequency) {
    if (presence == 0 && frequency == 0) return "";
    char t[96];
    std::snprintf(t, sizeof t, ", presence penalty %g, frequency penalty %g", presence, frequency);
    return t;
}

// Bytes one step reads: from the file's header (decode_bytes.h, the same
// rule the comparison with llama.cpp uses) when it can be read, else every
// weight byte on the device and the engine's own count of K/V bytes.
void add_decode_figures(Report& r, const DecodeResult& d, const std::optional<DecodeBytes>& file_bytes,
                        uint64_t device_weight_bytes, uint32_t kv_elem_bytes, double ceiling_gbps) {
    const std::string k = "decode.depth_" + std::to_string(d.depth);
    const std::string l = "decode, depth " + std::to_string(d.depth);
    r.add({k + ".tok_s", l, "tok/s", d.tok_s.median, "median", d.tok_s,
           std::to_string(d.steps) + " steps of forward(1 token) + " + sampling_text(d.temperature) +
               penalties_text(d.presence_penalty, d.frequency_penalty) + logprobs_text(d.logprobs, d.host_logprobs)});
    r.add({k + ".ms_per_token", l + ", per token", "ms", d.ms_per_token.median, "median", d.ms_per_token, ""});
    const double weights = file_bytes ? double(file_bytes->weights_read) : double(device_weight_bytes);
    const double kv = file_bytes ? file_bytes->kv_bytes(d.mean_context, kv_elem_bytes) : double(d.kv_bytes_per_token);
    const Summary eff = scaled(d.tok_s, (weights + kv) / 1e9);
    char per_token[200];
    std::snprintf(per_token, sizeof per_token, "per token: %.3f GB weights%s + %.3f GB KV (mean context %.1f)",
                  weights / 1e9, file_bytes ? " read" : " (all)", kv / 1e9, d.mean_context);
    r.add({k + ".effective_gbps", l + ", bytes read (weights + KV) x tok/s", "GB/s", eff.median, "median", eff,
           per_token});
    if (ceiling_gbps > 0) {
        const Summary share = scaled(eff, 100.0 / ceiling_gbps);
        r.add({k + ".share_of_ceiling", l + ", weights + KV vs copy ceiling", "%", share.median, "median", share, ""});
        const Summary wshare = scaled(d.tok_s, weights / 1e9 * 100.0 / ceiling_gbps);
        r.add({k + ".weights_share_of_ceiling", l + ", weights only vs copy ceiling", "%", wshare.median, "median",
               wshare, "the peers' convention"});
    }
    if (!d.deterministic)
        r.notes.push_back(l + ": repetitions produced different tokens from the same state and seed (nondeterminism)");
    if (!d.tokens_in_range) r.notes.push_back(l + ": a sampled token id was outside the vocabulary");
    if (!d.logprobs_finite) r.notes.push_back(l + ": a log-probability was NaN or above 0");
}

// key: "http" (worker-orcd) or "peer_http" (llama-server on the same file).
void add_http_figures(Report& r, const HttpResult& h, const std::string& key, const std::string& server) {
    const std::string p = server + " HTTP";
    r.add({key + ".ttft_ms", p + ", " + std::to_string(h.prompt_tokens_server) + "-token prompt: time to first token",
           "ms", h.ttft_ms.median, "median", h.ttft_ms, "request sent -> first token event carrying text"});
    r.add({key + ".itl_p50_ms", p + ": inter-token latency p50", "ms", h.itl_ms.median, "p50", h.itl_ms, ""});
    r.add({key + ".itl_p95_ms", p + ": inter-token latency p95", "ms", h.itl_ms.p95, "p95", h.itl_ms, ""});
    r.add({key + ".itl_p99_ms", p + ": inter-token latency p99", "ms", h.itl_ms.p99, "p99", h.itl_ms, ""});
    r.add({key + ".e2e_tok_s", p + ": end-to-end tokens/s", "tok/s", h.e2e_tok_s.median, "median", h.e2e_tok_s,
           "tokens_out / (request sent -> end event)"});
    r.add({key + ".stream_tok_s", p + ": streaming tokens/s (first to last event)", "tok/s", h.decode_tok_s.median,
           "median", h.decode_tok_s, ""});
    r.add({key + ".tokens_out", p + ": tokens received per run (of " + std::to_string(h.max_tokens) + " asked)",
           "tokens", h.tokens_out.median, "median", h.tokens_out, ""});
    r.add({key + ".prompt_tokens", p + ": prompt tokens by the server's count", "tokens",
           double(h.prompt_tokens_server), "single run", Summary{}, ""});
    r.add({key == "http" ? "http.worker_ready_s" : key + ".ready_s", p + ": server start to ready (load from page cache)", "s", h.ready_s, "single run",
           Summary{}, ""});
    std::string reasons;
    for (const auto& s : h.stop_reasons) reasons += (reasons.empty() ? "" : ", ") + s;
    r.notes.push_back(p + ": " + std::to_string(h.runs) + " runs after 1 warm-up, " + sampling_text(h.temperature) + ", " +
                      std::to_string(h.max_tokens) + " tokens asked; stop reasons: " + reasons + "; prompt " +
                      std::to_string(h.prompt_tokens_local) + " tokens by the bench's count, " +
                      std::to_string(h.prompt_tokens_server) + " by the server's; server " + h.server_exit +
                      "; log " + h.server_log);
    if (h.tokens_out.min < h.max_tokens)
        r.notes.push_back(p + ": some runs ended before the tokens asked (end of generation): figures use the "
                              "tokens actually received");
    if (h.prompt_tokens_local != h.prompt_tokens_server)
        r.notes.push_back(p + ": the bench and the server disagree on the prompt's token count");
}

int finish(Report& r, const std::string& json_path) {
    if (!json_path.empty()) {
        std::ofstream out(json_path);
        out << to_json(r).dump(2, ' ', false, json::error_handler_t::replace) << "\n";
        if (!out) r.errors.emplace_back("output", "cannot write " + json_path);
        else progress("wrote %s", json_path.c_str());
    }
    std::fflush(stderr);
    std::fputs(("\n" + markdown(r)).c_str(), stdout);
    std::fflush(stdout);
    return r.errors.empty() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    g_t0 = host_seconds();
    std::signal(SIGPIPE, SIG_IGN);
    install_child_reaper();

    Args a;
    try {
        a = parse_args(argc, argv);
    } catch (const HelpRequested&) {
        std::fputs(usage().c_str(), stdout);
        return 0;
    } catch (const ArgError& e) {
        std::fprintf(stderr, "worker-orcd-bench: %s\n%s", e.what(), usage().c_str());
        return 2;
    }
    const std::string worker = a.worker.empty() ? self_dir() + "/worker-orcd" : a.worker;

    // The KV cache must hold the largest prompt and the deepest decode run.
    uint32_t n_ctx = a.n_ctx;
    if (!n_ctx) {
        uint32_t need = 256;
        if (!a.skip_prefill) for (uint32_t p : a.prompts) need = std::max(need, p);
        if (!a.skip_decode) for (uint32_t d : a.depths) need = std::max(need, d + a.decode_steps);
        n_ctx = (need + 255) / 256 * 256;
    }

    Report r;
    r.config = args_json(a, n_ctx, worker);
    std::unique_ptr<Device> device;
    try {
        device = a.cpu ? make_cpu_device(a.cpu_threads) : make_cuda_device(a.gpu);
    } catch (const std::exception& e) {
        r.errors.emplace_back("device", e.what());
        progress("cannot open the device: %s", e.what());
        return finish(r, a.json_path);
    }
    const orcd_device_info di = device->info();
    r.system = collect_system_info(di, a.cpu ? a.cpu_threads : 0);
    progress("device: %s; driver %s, CUDA runtime %s; commit %s%s", r.system.gpu_name.c_str(),
             r.system.driver_version.c_str(), r.system.cuda_runtime.c_str(), r.system.commit.c_str(),
             r.system.tree_dirty ? " (modified)" : "");

    // ---- 1. the copy ceiling, before the model takes memory ---------------
    double ceiling = 0;
    if (!a.cpu && !a.skip_copy)
        section(r, "copy ceiling", [&] {
            const CopyCeiling c = measure_copy_ceiling(a.gpu, a.copy_bytes, a.copy_reps);
            ceiling = c.gbps.median;
            r.add({"copy.gbps", "copy ceiling: " + std::to_string(c.bytes >> 20) +
                                    " MiB device-to-device, read + write", "GB/s", c.gbps.median, "median", c.gbps,
                   c.note});
            if (!c.note.empty()) r.notes.push_back(c.note);
            progress("copy ceiling %.1f GB/s (min %.1f, max %.1f)", c.gbps.median, c.gbps.min, c.gbps.max);
        });
    if (a.cpu) r.notes.push_back("CPU smoke run: no copy ceiling, no bandwidth shares");

    // ---- 2. load ----------------------------------------------------------
    std::unique_ptr<Model> model;
    std::error_code ec;
    const uint64_t file_bytes = std::filesystem::file_size(a.model, ec);
    section(r, "load", [&] {
        LoadResult lr;
        lr.file_bytes = file_bytes;
        model = load_model(*device, a.model, n_ctx, !a.skip_load, lr);
        if (a.skip_load) return;
        r.add({"load.seconds", "load (file in page cache, 2nd load)", "s", lr.second_s, "single run", Summary{},
               ""});
        r.add({"load.gbps", "load rate (weight bytes / load time)", "GB/s", lr.gbps(), "single run", Summary{}, ""});
        r.add({"load.first_seconds", "load (1st, page cache warming)", "s", lr.first_s, "single run", Summary{}, ""});
        progress("load %.2f s (%.2f GB/s); first load %.2f s", lr.second_s, lr.gbps(), lr.first_s);
    });

    // The bytes a decode step reads, from the file's header.
    std::optional<DecodeBytes> step_bytes;
    try {
        step_bytes = decode_bytes(a.model);
    } catch (const std::exception& e) {
        r.notes.push_back(std::string("bytes per step from the device's weight bytes: the file's header: ") + e.what());
    }

    std::string http_prompt;
    std::vector<int32_t> http_prompt_ids;
    uint32_t n_ctx_train = 0;
    const bool model_loaded = model != nullptr;
    if (model) {
        EngineBench eb(*model, !a.cpu, a.warmup, a.reps, a.seed, float(a.temperature), float(a.presence_penalty),
                       float(a.frequency_penalty));
        if (a.logprobs >= 0) eb.set_logprobs(a.logprobs, a.host_logprobs);
        r.model = model_json(*model, eb.kv_elem_bytes(), file_bytes);
        r.timing_method = eb.timing_method() + "; " + std::to_string(a.reps) + " timed repetitions after " +
                          std::to_string(a.warmup) + " warm-up";
        n_ctx_train = model->config().n_ctx_train;
        if (!a.cpu && model->backend().native_stream() == nullptr)
            r.notes.push_back("the CUDA backend exposes no stream: timed with the host clock and device syncs");
        if (!model->backend().check_residency())
            r.notes.push_back("residency check FAILED: some device allocation is not device memory");
        const uint64_t weight_bytes = model->backend().weight_bytes();

        // ---- 3. prefill ---------------------------------------------------
        if (!a.skip_prefill)
            for (uint32_t p : a.prompts)
                section(r, "prefill " + std::to_string(p), [&] {
                    const PrefillResult pr = eb.prefill(p);
                    const std::string k = "prefill.pp" + std::to_string(p);
                    r.add({k + ".tok_s", "prefill, " + std::to_string(p) + "-token prompt", "tok/s", pr.tok_s.median,
                           "median", pr.tok_s,
                           "random ids, " + std::to_string(pr.chunk) + " tokens per forward()"});
                    r.add({k + ".ms", "prefill, " + std::to_string(p) + "-token prompt, time", "ms", pr.ms.median,
                           "median", pr.ms, ""});
                    r.add({k + ".host_ms", "prefill, " + std::to_string(p) + "-token prompt, host enqueue time", "ms",
                           pr.host_ms.median, "median", pr.host_ms,
                           a.cpu ? "the CPU backend computes while enqueuing: equal to the time above"
                                 : "until the forward() calls return; close to the time above: the launches, not the "
                                   "GPU, set the pace"});
                    if (!pr.logits_finite) r.notes.push_back(k + ": the last logits hold NaN or Inf");
                    progress("prefill %u: %.1f tok/s (min %.1f, max %.1f), chunk %u", p, pr.tok_s.median,
                             pr.tok_s.min, pr.tok_s.max, pr.chunk);
                });

        // ---- 4. decode ----------------------------------------------------
        if (!a.skip_decode)
            for (uint32_t d : a.depths)
                section(r, "decode depth " + std::to_string(d), [&] {
                    const DecodeResult dr = eb.decode(d, a.decode_steps);
                    add_decode_figures(r, dr, step_bytes, weight_bytes, eb.kv_elem_bytes(), ceiling);
                    progress("decode depth %u: %.1f tok/s (min %.1f, max %.1f)%s", d, dr.tok_s.median, dr.tok_s.min,
                             dr.tok_s.max, dr.deterministic ? "" : " NONDETERMINISTIC");
                });

        model.reset();  // the worker gets the card to itself
    }

    // The HTTP prompt comes from the file's vocabulary alone, so that
    // llama-server is timed even on a file the engine did not load.
    if (!a.skip_http)
        section(r, "HTTP prompt", [&] {
            const auto tok = Tokenizer::from_gguf(*gguf::File::open(a.model));
            uint32_t count = 0;
            http_prompt = prompt_of_tokens(*tok, a.http_prompt_tokens, count);
            http_prompt_ids = tok->encode(http_prompt, true, false);
            progress("HTTP prompt: %zu characters, %u tokens", http_prompt.size(), count);
        });

    // ---- 5. HTTP through the real worker, then llama-server on the same file
    const uint32_t http_need = uint32_t(http_prompt_ids.size()) + a.http_max_tokens;
    auto http_options = [&](ServerKind kind, const std::string& suffix) {
        HttpOptions o;
        o.kind = kind;
        o.log_path = a.json_path.empty() ? "/tmp/worker-orcd-bench-" + std::to_string(getpid()) + suffix
                                         : a.json_path + suffix;
        o.prompt = http_prompt;
        o.prompt_ids = http_prompt_ids;
        o.max_tokens = a.http_max_tokens;
        o.runs = a.http_runs;
        o.seed = a.seed;
        o.temperature = a.temperature;
        o.ready_timeout_s = a.ready_timeout_s;
        o.request_timeout_s = a.request_timeout_s;
        return o;
    };
    if (!a.skip_http && !http_prompt.empty() && !model_loaded)
        r.notes.push_back("worker-orcd HTTP figures skipped: the model did not load");
    if (!a.skip_http && !http_prompt.empty() && model_loaded)
        section(r, "HTTP", [&] {
            HttpOptions o = http_options(ServerKind::Worker, ".worker.log");
            o.binary = worker;
            o.args = {"--model", a.model};
            if (a.cpu) o.args.insert(o.args.end(), {"--device", "cpu", "--cpu-threads", std::to_string(a.cpu_threads)});
            else o.args.insert(o.args.end(), {"--gpu-device", std::to_string(a.gpu)});
            if (n_ctx_train < http_need)
                o.args.insert(o.args.end(), {"--ctx-size", std::to_string((http_need + 255) / 256 * 256)});
            if (a.http_max_tokens > 2048)
                o.args.insert(o.args.end(), {"--max-tokens-out", std::to_string(a.http_max_tokens)});
            const HttpResult h = bench_http(o);
            add_http_figures(r, h, "http", "worker-orcd");
            progress("HTTP: TTFT %.2f ms, inter-token p50/p95/p99 %.2f/%.2f/%.2f ms, %.1f tok/s end to end",
                     h.ttft_ms.median, h.itl_ms.median, h.itl_ms.p95, h.itl_ms.p99, h.e2e_tok_s.median);
        });
    if (!a.skip_http && !http_prompt.empty() && !a.llama_server.empty())
        section(r, "llama-server HTTP", [&] {
            // llama.cpp's usual serving flags: every layer on the GPU, flash
            // attention, one slot; its context at least 4096.
            HttpOptions o = http_options(ServerKind::LlamaServer, ".llama-server.log");
            o.binary = a.llama_server;
            o.args = {"-m", a.model, "-ngl", "999", "-fa", "on", "-c",
                      std::to_string(std::max(4096u, (http_need + 255) / 256 * 256)), "-np", "1"};
            if (!a.cpu && a.gpu != 0) o.args.insert(o.args.end(), {"--device", "CUDA" + std::to_string(a.gpu)});
            const HttpResult h = bench_http(o);
            add_http_figures(r, h, "peer_http", "llama-server");
            progress("llama-server HTTP: TTFT %.2f ms, inter-token p50/p95/p99 %.2f/%.2f/%.2f ms, %.1f tok/s end to end",
                     h.ttft_ms.median, h.itl_ms.median, h.itl_ms.p95, h.itl_ms.p99, h.e2e_tok_s.median);
        });
    if (a.skip_http) r.notes.push_back("HTTP figures skipped (--skip-http)");

    return finish(r, a.json_path);
}
