// worker-orcd-synth: writes a random-weight GGUF model of a named or
// explicit shape (llama, qwen2, phi3, gpt2, gpt-oss), then reopens it with
// the project's own reader to prove it loads.
#include "gguf/gguf.h"
#include "gguf/gguf_writer.h"
#include "synth_model.h"
#include "synth_tokenizer_json.h"
#include "synth_vocab.h"

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

namespace {

void usage(FILE* f) {
    std::fprintf(f,
        "usage: worker-orcd-synth -o OUT.gguf [--shape NAME] [options]\n"
        "  --shape NAME       %s\n"
        "  --arch NAME        llama, qwen2, phi3, gpt2 or gpt-oss (default: the shape's, else llama)\n"
        "  --dim N --layers N --heads N --kv-heads N --ffn N --ctx N --head-dim N\n"
        "                     explicit dimensions (override the shape's)\n"
        "  --experts N --experts-used N --window N\n"
        "                     gpt-oss: experts, experts per token, sliding window\n"
        "  --vocab-size N     vocabulary size of the built-in byte-level vocabulary\n"
        "  --vocab FILE       copy the tokenizer from a vocab GGUF; the vocabulary\n"
        "                     size is then that file's token count\n"
        "                     (--vocab N with a number means --vocab-size N)\n"
        "  --word-fillers     the built-in vocabulary's filler tokens render as text\n"
        "                     (' w<N>') instead of nothing, so that a random-weight\n"
        "                     model streams text for every token (HTTP benchmarks)\n"
        "  --tokenizer PATH   import a Hugging Face tokenizer.json (byte-level BPE) as\n"
        "                     llama.cpp's converter would; tokenizer_config.json beside\n"
        "                     it supplies special tokens and the chat template\n"
        "  --vocab-only       write only the vocabulary (general.name and tokenizer.*),\n"
        "                     no tensors: what worker-orcd-cli --tokenize reads\n"
        "  --rope-base F      RoPE frequency base\n"
        "  --eps F            RMSNorm epsilon\n"
        "  --type f32|f16|q8_0  dense matrix type (norms, biases, router stay f32;\n"
        "                     gpt-oss experts are always mxfp4); default f32\n"
        "  --sigma S          weight standard deviation; default 0.02\n"
        "  --router-sigma S, --router-bias-sigma S\n"
        "                     gpt-oss router weights / biases' standard deviation;\n"
        "                     default --sigma's\n"
        "  --seed N           default 0\n"
        "  --name NAME        general.name; default the shape's name or 'synthetic'\n"
        "  --threads N        generator threads; default all\n",
        orcd::synth::named_shapes_list());
}

bool all_digits(const std::string& s) {
    return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
}

[[noreturn]] void die(const std::string& msg) {
    std::fprintf(stderr, "worker-orcd-synth: %s\n", msg.c_str());
    std::exit(2);
}

// A vocabulary-only GGUF: the tokenizer keys and a name, no tensors.
void write_vocab_only(const orcd::synth::Spec& spec, const std::string& out) {
    orcd::gguf::Writer w(3);
    w.set_string("general.name", spec.name);
    const uint64_t n = !spec.tokenizer_json.empty() ? orcd::synth::import_tokenizer_json(w, spec.tokenizer_json)
                                                    : orcd::synth::copy_vocab(w, spec.vocab_file);
    w.begin_file(out);
    w.finish();
    std::printf("%s: vocabulary only, %llu tokens\n", out.c_str(), (unsigned long long)n);
}

uint64_t parse_u64(const std::string& flag, const std::string& v) {
    if (!all_digits(v)) die(flag + " needs a non-negative integer, got '" + v + "'");
    return std::strtoull(v.c_str(), nullptr, 10);
}

float parse_float(const std::string& flag, const std::string& v) {
    char* end = nullptr;
    const float f = std::strtof(v.c_str(), &end);
    if (v.empty() || *end != '\0') die(flag + " needs a number, got '" + v + "'");
    return f;
}

}  // namespace

int main(int argc, char** argv) {
    using orcd::synth::Shape;
    orcd::synth::Spec spec;
    std::string out, shape_name;
    Shape explicit_dims;
    explicit_dims.ctx = 0;
    explicit_dims.rope_base = 0.0f;
    explicit_dims.rms_eps = 0.0f;
    std::string arch;
    bool name_given = false;
    bool vocab_only = false;

    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "-h" || a == "--help") {
            usage(stdout);
            return 0;
        }
        if (a == "--vocab-only") {
            vocab_only = true;
            continue;
        }
        if (a == "--word-fillers") {
            spec.word_fillers = true;
            continue;
        }
        if (i + 1 >= argc) die(a + " needs a value (see --help)");
        const std::string v = argv[++i];
        if (a == "-o" || a == "--out") out = v;
        else if (a == "--shape") shape_name = v;
        else if (a == "--arch") arch = v;
        else if (a == "--head-dim") explicit_dims.head_dim = parse_u64(a, v);
        else if (a == "--experts") explicit_dims.experts = parse_u64(a, v);
        else if (a == "--experts-used") explicit_dims.experts_used = parse_u64(a, v);
        else if (a == "--window") explicit_dims.window = parse_u64(a, v);
        else if (a == "--dim") explicit_dims.dim = parse_u64(a, v);
        else if (a == "--layers") explicit_dims.layers = parse_u64(a, v);
        else if (a == "--heads") explicit_dims.heads = parse_u64(a, v);
        else if (a == "--kv-heads") explicit_dims.kv_heads = parse_u64(a, v);
        else if (a == "--ffn") explicit_dims.ffn = parse_u64(a, v);
        else if (a == "--ctx") explicit_dims.ctx = parse_u64(a, v);
        else if (a == "--vocab-size") explicit_dims.vocab = parse_u64(a, v);
        else if (a == "--vocab") {
            if (all_digits(v)) explicit_dims.vocab = parse_u64(a, v);
            else spec.vocab_file = v;
        }
        else if (a == "--tokenizer") spec.tokenizer_json = v;
        else if (a == "--rope-base") explicit_dims.rope_base = parse_float(a, v);
        else if (a == "--eps") explicit_dims.rms_eps = parse_float(a, v);
        else if (a == "--type") {
            if (v == "f16") spec.mat = orcd::synth::MatType::F16;
            else if (v == "f32") spec.mat = orcd::synth::MatType::F32;
            else if (v == "q8_0") spec.mat = orcd::synth::MatType::Q8_0;
            else die("--type must be f32, f16 or q8_0");
        }
        else if (a == "--sigma") spec.sigma = parse_float(a, v);
        else if (a == "--router-sigma") spec.router_sigma = parse_float(a, v);
        else if (a == "--router-bias-sigma") spec.router_bias_sigma = parse_float(a, v);
        else if (a == "--seed") spec.seed = parse_u64(a, v);
        else if (a == "--name") { spec.name = v; name_given = true; }
        else if (a == "--threads") spec.threads = int(parse_u64(a, v));
        else die("unknown option " + a + " (see --help)");
    }
    if (out.empty()) {
        usage(stderr);
        return 2;
    }

    if (vocab_only) {
        if (spec.tokenizer_json.empty() && spec.vocab_file.empty()) die("--vocab-only needs --tokenizer or --vocab FILE");
        try {
            write_vocab_only(spec, out);
        } catch (const std::exception& e) {
            die(e.what());
        }
        return 0;
    }

    Shape s;  // explicit-only default: kv_heads = heads, ctx 2048
    if (!shape_name.empty()) {
        const auto named = orcd::synth::named_shape(shape_name);
        if (!named) die("unknown shape '" + shape_name + "'; known: " + orcd::synth::named_shapes_list());
        s = *named;
        if (!name_given) spec.name = shape_name;
    }
    if (explicit_dims.dim) s.dim = explicit_dims.dim;
    if (explicit_dims.layers) s.layers = explicit_dims.layers;
    if (explicit_dims.heads) s.heads = explicit_dims.heads;
    if (explicit_dims.kv_heads) s.kv_heads = explicit_dims.kv_heads;
    if (explicit_dims.ffn) s.ffn = explicit_dims.ffn;
    if (explicit_dims.ctx) s.ctx = explicit_dims.ctx;
    if (explicit_dims.vocab) s.vocab = explicit_dims.vocab;
    if (explicit_dims.rope_base > 0) s.rope_base = explicit_dims.rope_base;
    if (explicit_dims.rms_eps > 0) s.rms_eps = explicit_dims.rms_eps;
    if (explicit_dims.head_dim) s.head_dim = explicit_dims.head_dim;
    if (explicit_dims.experts) s.experts = explicit_dims.experts;
    if (explicit_dims.experts_used) s.experts_used = explicit_dims.experts_used;
    if (explicit_dims.window) s.window = explicit_dims.window;
    if (!arch.empty()) {
        if (arch != "llama" && arch != "qwen2" && arch != "phi3" && arch != "gpt2" && arch != "gpt-oss")
            die("--arch must be llama, qwen2, phi3, gpt2 or gpt-oss");
        if (!shape_name.empty() && arch != s.arch) die("--arch " + arch + " contradicts shape " + shape_name);
        s.arch = arch;
        // Architectures that tie their output by default (the real models do).
        if (shape_name.empty()) s.tied = arch == "qwen2" || arch == "gpt2";
    }
    if (!s.kv_heads) s.kv_heads = s.heads;
    const bool vocab_given = !spec.vocab_file.empty() || !spec.tokenizer_json.empty();
    if (s.vocab == 0 && !vocab_given) die("no vocabulary: give --shape, --vocab-size, --vocab or --tokenizer");
    if (vocab_given && explicit_dims.vocab)
        die("--vocab FILE / --tokenizer fix the vocabulary size; drop --vocab-size");
    if (vocab_given && spec.word_fillers) die("--word-fillers applies to the built-in vocabulary only");
    spec.shape = s;

    try {
        const orcd::synth::Result r = orcd::synth::write_model(spec, out);
        const auto file = orcd::gguf::File::open(out);
        if (file->tensors().size() != r.n_tensors || file->file_size() != r.bytes)
            die(out + ": reopened file disagrees with what was written");
        std::printf("%s: %llu bytes, %llu tensors, %.1fM params, vocab %llu, %s, %.2f s, %.2f GB/s\n",
                    out.c_str(), (unsigned long long)r.bytes, (unsigned long long)r.n_tensors,
                    double(r.n_params) / 1e6, (unsigned long long)r.vocab,
                    spec.mat == orcd::synth::MatType::F16 ? "f16" : spec.mat == orcd::synth::MatType::Q8_0 ? "q8_0" : "f32",
                    r.seconds, double(r.bytes) / 1e9 / r.seconds);
    } catch (const std::exception& e) {
        die(e.what());
    }
    return 0;
}
