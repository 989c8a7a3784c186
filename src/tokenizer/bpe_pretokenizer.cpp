#include "tokenizer/bpe_pretokenizer.h"

#include "common/error.h"
#include "tokenizer/utf8_repair.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <utf8proc.h>

#include <cstdlib>

namespace orcd {

namespace {

// The split patterns, verbatim from each family's reference tokenizer.json
// (GPT-2's is the one built into the reference ByteLevel pre-tokenizer).
constexpr std::string_view kGpt2 =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
constexpr std::string_view kLlama3 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Qwen2: Llama 3's pattern with single digits.
constexpr std::string_view kQwen2 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// o200k (GPT-4o, GPT-OSS): words split at lower-to-upper case changes.
constexpr std::string_view kO200k =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?)"
    R"(|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?)"
    R"(|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// tokenizer.ggml.pre values and what they imply. "default" is llama.cpp's
// choice for a file without the key: its fallback sequence of patterns.
const PreTokenizerSpec kSpecs[] = {
    {"gpt-2", {kGpt2}, false, false, false},
    {"llama-bpe", {kLlama3}, true, false, true},
    {"qwen2", {kQwen2}, false, true, false},
    {"gpt-4o", {kO200k}, true, false, false},
    {"default",
     {R"([\p{P}\$\+<=>\^~\|]+)", R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))",
      R"(\p{N}+)", R"([0-9][0-9][0-9])"},
     false, false, false},
};

struct Alias {
    std::string_view alias;
    std::string_view name;
};
// Other names llama.cpp's converter writes for the same rules.
constexpr Alias kAliases[] = {
    {"gpt2", "gpt-2"}, {"llama3", "llama-bpe"}, {"llama-v3", "llama-bpe"}, {"deepseek-r1-qwen", "qwen2"},
};

// Per-thread PCRE2 state: a match context with a JIT stack large enough for
// long runs of one character class, and one match-data block (only the
// whole match is read, so one pair of offsets serves every pattern).
struct MatchScratch {
    pcre2_match_context* context = pcre2_match_context_create(nullptr);
    pcre2_jit_stack* stack = pcre2_jit_stack_create(32 * 1024, 4 * 1024 * 1024, nullptr);
    pcre2_match_data* data = pcre2_match_data_create(1, nullptr);
    MatchScratch() {
        if (!context || !stack || !data) fail(ORCD_INTERNAL, "tokenizer: out of memory for the regex matcher");
        pcre2_jit_stack_assign(context, nullptr, stack);
    }
    ~MatchScratch() {
        pcre2_match_data_free(data);
        pcre2_jit_stack_free(stack);
        pcre2_match_context_free(context);
    }
    MatchScratch(const MatchScratch&) = delete;
    MatchScratch& operator=(const MatchScratch&) = delete;
};

MatchScratch& scratch() {
    thread_local MatchScratch s;
    return s;
}

}  // namespace

const PreTokenizerSpec* find_pre_tokenizer(std::string_view pre) {
    for (const Alias& a : kAliases)
        if (a.alias == pre) pre = a.name;
    for (const PreTokenizerSpec& s : kSpecs)
        if (s.name == pre) return &s;
    return nullptr;
}

const PreTokenizerSpec* find_pre_tokenizer_by_regex(std::string_view regex) {
    for (const PreTokenizerSpec& s : kSpecs)
        if (s.regexes.size() == 1 && s.regexes[0] == regex) return &s;
    return nullptr;
}

std::string known_pre_tokenizers() {
    std::string out;
    for (const PreTokenizerSpec& s : kSpecs) out += (out.empty() ? "" : ", ") + std::string(s.name);
    for (const Alias& a : kAliases) out += ", " + std::string(a.alias);
    return out;
}

struct RegexSplitter::Compiled {
    pcre2_code* code = nullptr;
    ~Compiled() { pcre2_code_free(code); }
};

RegexSplitter::RegexSplitter(const std::vector<std::string_view>& patterns) {
    for (std::string_view p : patterns) {
        auto c = std::make_unique<Compiled>();
        int err = 0;
        PCRE2_SIZE at = 0;
        // UCP: \s, \p{..} and caseless matching follow Unicode, as in the
        // reference. MATCH_INVALID_UTF: bytes that are not UTF-8 never match
        // instead of failing the whole match.
        c->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(p.data()), p.size(),
                                PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &err, &at, nullptr);
        if (!c->code) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(err, msg, sizeof msg);
            fail(ORCD_INTERNAL, "tokenizer: pattern rejected at offset " + std::to_string(at) + ": " +
                                    reinterpret_cast<const char*>(msg));
        }
        // Without JIT support (an exotic build of the library) the
        // interpreter gives the same matches, only slower.
        pcre2_jit_compile(c->code, PCRE2_JIT_COMPLETE);
        patterns_.push_back(std::move(c));
    }
}

RegexSplitter::~RegexSplitter() = default;

void RegexSplitter::split_one(const Compiled& re, std::string_view text, std::vector<std::string_view>& out) const {
    MatchScratch& s = scratch();
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    size_t gap = 0;  // start of the text not matched yet
    size_t pos = 0;
    while (pos < text.size()) {
        const int rc = pcre2_match(re.code, subject, text.size(), pos, 0, s.data, s.context);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(rc, msg, sizeof msg);
            fail(ORCD_INTERNAL, std::string("tokenizer: regex match failed: ") + reinterpret_cast<const char*>(msg));
        }
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(s.data);
        const size_t start = ov[0];
        const size_t end = ov[1];
        if (end == start) {
            // An empty match (none of the patterns above can make one) would
            // not advance: step over one whole character.
            pos = start + 1;
            while (pos < text.size() && (static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80) ++pos;
            continue;
        }
        if (start > gap) out.push_back(text.substr(gap, start - gap));
        out.push_back(text.substr(start, end - start));
        gap = pos = end;
    }
    if (gap < text.size()) out.push_back(text.substr(gap));
}

void RegexSplitter::split(std::string_view text, std::vector<std::string_view>& out) const {
    if (patterns_.empty()) {
        if (!text.empty()) out.push_back(text);
        return;
    }
    const size_t first = out.size();
    split_one(*patterns_[0], text, out);
    // Each further pattern splits the words of the one before.
    for (size_t k = 1; k < patterns_.size(); ++k) {
        std::vector<std::string_view> words(out.begin() + static_cast<std::ptrdiff_t>(first), out.end());
        out.resize(first);
        for (std::string_view w : words) split_one(*patterns_[k], w, out);
    }
}

namespace {

void append_nfc(std::string_view valid, std::string& out) {
    if (valid.empty()) return;
    utf8proc_uint8_t* dst = nullptr;
    const utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(valid.data()),
                                            static_cast<utf8proc_ssize_t>(valid.size()), &dst,
                                            static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
    if (n < 0) {
        // Only allocation failure is left: the input was checked valid.
        std::free(dst);
        fail(ORCD_INTERNAL, std::string("tokenizer: NFC normalization failed: ") + utf8proc_errmsg(n));
    }
    out.append(reinterpret_cast<const char*>(dst), static_cast<size_t>(n));
    std::free(dst);
}

}  // namespace

std::string nfc_normalize(std::string_view text) {
    bool ascii = true;
    for (char c : text) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
    if (ascii) return std::string(text);  // ASCII is its own normal form
    std::string out;
    out.reserve(text.size());
    size_t run = 0;  // start of the current valid stretch
    size_t pos = 0;
    while (pos < text.size()) {
        size_t len = 0;
        if (utf8::detail::scan(text.substr(pos), &len) == utf8::detail::Scan::Complete) {
            pos += len;
            continue;
        }
        append_nfc(text.substr(run, pos - run), out);
        out.append(text.substr(pos, len));  // invalid or truncated bytes stay as they are
        pos += len;
        run = pos;
    }
    append_nfc(text.substr(run), out);
    return out;
}

}  // namespace orcd
