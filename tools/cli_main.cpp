// worker-orcd-cli: load a model and generate from a prompt, or tokenize and
// detokenize with a vocabulary alone, through the C API. The first thing a
// person tries, and what tests use without the server.
#include "version/version_text.h"

#include <orcd/orcd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

namespace {

void usage() {
    std::fprintf(stderr,
                 "usage: worker-orcd-cli --model PATH [--prompt TEXT] [options]\n"
                 "       worker-orcd-cli --model PATH --tokenize TEXT [--no-bos] [--parse-special]\n"
                 "       worker-orcd-cli --model PATH --detokenize IDS\n"
                 "  --device cpu|cuda      backend (default cuda)\n"
                 "  --gpu-device N         CUDA device ordinal (default 0)\n"
                 "  --ctx-size N           KV cache positions (default: the model's)\n"
                 "  --max-tokens N         tokens to generate (default 128)\n"
                 "  --temperature F        0 = greedy (default 0)\n"
                 "  --top-k N --top-p F --min-p F\n"
                 "  --repeat-penalty F --repeat-last-n N\n"
                 "  --seed N               RNG seed (default: generated, printed)\n"
                 "  --stop TEXT            stop sequence (up to 4)\n"
                 "  --parse-special        control tokens written in the prompt are matched\n"
                 "  --tokenize TEXT        print TEXT's token ids as a JSON array; BOS as the\n"
                 "                         vocabulary adds it unless --no-bos; control tokens\n"
                 "                         in TEXT only with --parse-special. Needs only the\n"
                 "                         vocabulary: PATH may be a vocabulary-only GGUF\n"
                 "  --detokenize IDS       print the text of IDS (a JSON array, or ids separated\n"
                 "                         by spaces or commas), exactly, with no newline added\n"
                 "  --ids                  print generated token ids instead of text\n"
                 "  --version              print the version, build commit, CUDA version and the\n"
                 "                         supported architectures and weight formats, then exit\n");
}

[[noreturn]] void die(const char* what, int code) {
    std::fprintf(stderr, "error: %s: %s (%s)\n", what, orcd_error_name(code), orcd_last_error_detail());
    std::exit(1);
}

// "[1, 2, 3]", "1 2 3" or "1,2,3"; false on anything else.
bool parse_ids(const std::string& s, std::vector<int32_t>& ids) {
    std::string body = s;
    const size_t open = body.find_first_not_of(" \t\n");
    if (open != std::string::npos && body[open] == '[') {
        const size_t close = body.find_last_not_of(" \t\n");
        if (body[close] != ']') return false;
        body = body.substr(open + 1, close - open - 1);
    }
    for (char& c : body)
        if (c == ',') c = ' ';
    const char* p = body.c_str();
    while (true) {
        while (*p == ' ' || *p == '\t' || *p == '\n') ++p;
        if (!*p) return true;
        char* end = nullptr;
        const long v = std::strtol(p, &end, 10);
        if (end == p || v < INT32_MIN || v > INT32_MAX) return false;
        ids.push_back(int32_t(v));
        p = end;
    }
}

// --tokenize / --detokenize: the vocabulary alone, no device.
int run_vocab(const std::string& path, const std::string* text, const std::string* ids_text, int32_t flags) {
    orcd_vocab* vocab = nullptr;
    if (int rc = orcd_vocab_load(path.c_str(), &vocab)) die("loading the vocabulary", rc);
    if (text) {
        size_t n = 0;
        if (int rc = orcd_vocab_tokenize(vocab, text->data(), text->size(), flags, nullptr, 0, &n)) die("tokenizing", rc);
        std::vector<int32_t> ids(n);
        if (int rc = orcd_vocab_tokenize(vocab, text->data(), text->size(), flags, ids.data(), ids.size(), &n))
            die("tokenizing", rc);
        std::printf("[");
        for (size_t i = 0; i < n; ++i) std::printf("%s%d", i ? ", " : "", ids[i]);
        std::printf("]\n");
    } else {
        std::vector<int32_t> ids;
        if (!parse_ids(*ids_text, ids)) {
            std::fprintf(stderr, "error: --detokenize needs token ids, e.g. [1, 2, 3]\n");
            return 2;
        }
        size_t n = 0;
        if (int rc = orcd_vocab_detokenize(vocab, ids.data(), ids.size(), nullptr, 0, &n)) die("detokenizing", rc);
        std::string out(n, '\0');
        if (int rc = orcd_vocab_detokenize(vocab, ids.data(), ids.size(), out.data(), out.size(), &n))
            die("detokenizing", rc);
        std::fwrite(out.data(), 1, n, stdout);
    }
    orcd_vocab_free(vocab);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::string model_path, prompt = "Once upon a time";
    orcd_device_params dp = orcd_device_default_params();
    orcd_model_params mp = orcd_model_default_params();
    orcd_job_params jp = orcd_job_default_params();
    jp.max_tokens = 128;
    jp.temperature = 0.0f;
    std::vector<std::string> stops;
    bool print_ids = false;
    std::optional<std::string> tokenize_text, detokenize_ids;
    int32_t tokenize_flags = ORCD_TOKENIZE_ADD_BOS;

    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto val = [&]() -> const char* {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "error: %s needs a value\n", a.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--model") model_path = val();
        else if (a == "--prompt") prompt = val();
        else if (a == "--device") {
            const std::string d = val();
            if (d == "cpu") dp.kind = ORCD_DEVICE_CPU;
            else if (d == "cuda") dp.kind = ORCD_DEVICE_CUDA;
            else { std::fprintf(stderr, "error: --device must be cpu or cuda\n"); return 2; }
        } else if (a == "--gpu-device") { dp.kind = ORCD_DEVICE_CUDA; dp.gpu_index = std::atoi(val()); }
        else if (a == "--ctx-size") mp.n_ctx = uint32_t(std::strtoul(val(), nullptr, 10));
        else if (a == "--max-tokens") jp.max_tokens = uint32_t(std::strtoul(val(), nullptr, 10));
        else if (a == "--temperature") jp.temperature = std::strtof(val(), nullptr);
        else if (a == "--top-k") jp.top_k = std::atoi(val());
        else if (a == "--top-p") jp.top_p = std::strtof(val(), nullptr);
        else if (a == "--min-p") jp.min_p = std::strtof(val(), nullptr);
        else if (a == "--repeat-penalty") jp.repetition_penalty = std::strtof(val(), nullptr);
        else if (a == "--repeat-last-n") jp.repetition_last_n = std::atoi(val());
        else if (a == "--seed") { jp.seed = std::strtoull(val(), nullptr, 10); jp.has_seed = 1; }
        else if (a == "--stop") stops.emplace_back(val());
        else if (a == "--tokenize") tokenize_text = val();
        else if (a == "--detokenize") detokenize_ids = val();
        else if (a == "--no-bos") tokenize_flags &= ~ORCD_TOKENIZE_ADD_BOS;
        else if (a == "--parse-special") { tokenize_flags |= ORCD_TOKENIZE_PARSE_SPECIAL; jp.parse_special = 1; }
        else if (a == "--ids") print_ids = true;
        else if (a == "--help" || a == "-h") { usage(); return 0; }
        else if (a == "--version") { std::fputs(orcd::version::text("worker-orcd-cli").c_str(), stdout); return 0; }
        else { std::fprintf(stderr, "error: unknown flag %s\n", a.c_str()); usage(); return 2; }
    }
    if (model_path.empty()) { usage(); return 2; }
    if (tokenize_text && detokenize_ids) {
        std::fprintf(stderr, "error: --tokenize and --detokenize exclude each other\n");
        return 2;
    }
    if (tokenize_text || detokenize_ids)
        return run_vocab(model_path, tokenize_text ? &*tokenize_text : nullptr,
                         detokenize_ids ? &*detokenize_ids : nullptr, tokenize_flags);

    orcd_device* dev = nullptr;
    if (int rc = orcd_device_open(&dp, &dev)) die("opening the device", rc);
    orcd_model* model = nullptr;
    if (int rc = orcd_model_load(dev, model_path.c_str(), &mp, &model)) die("loading the model", rc);

    std::vector<const char*> stop_ptrs;
    for (const std::string& s : stops) stop_ptrs.push_back(s.c_str());
    jp.stop = stop_ptrs.data();
    jp.n_stop = stop_ptrs.size();
    orcd_job* job = nullptr;
    if (int rc = orcd_job_create(model, prompt.data(), prompt.size(), &jp, &job)) die("starting the job", rc);
    orcd_job_event ev{};
    do {
        if (int rc = orcd_job_next(job, &ev)) die("generating", rc);
        if (print_ids) {
            std::printf("%s%d", ev.index ? " " : "", ev.token);
        } else {
            std::fwrite(ev.text, 1, ev.text_len, stdout);
        }
        std::fflush(stdout);
    } while (!ev.done);
    std::printf("\n");
    orcd_job_stats st{};
    orcd_job_get_stats(job, &st);
    static const char* reasons[] = {"none", "max_tokens", "eos", "stop_sequence"};
    std::fprintf(stderr, "seed=%llu prompt_tokens=%u tokens_out=%u stop=%s prefill_ms=%.2f decode_ms=%.2f tok/s=%.1f\n",
                 (unsigned long long)st.seed, st.prompt_tokens, st.tokens_out, reasons[st.stop_reason], st.prefill_ms,
                 st.decode_ms, st.decode_ms > 0 ? 1000.0 * st.tokens_out / st.decode_ms : 0.0);
    orcd_job_free(job);
    orcd_model_free(model);
    orcd_device_close(dev);
    return 0;
}
