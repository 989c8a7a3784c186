// Which renderer a template text gets: the known texts are identified by an
// FNV-1a hash of the text with surrounding whitespace removed (GGUF
// converters and repositories differ in a trailing newline, nothing else).
// Each hash is that of a file in testdata/chat/templates/, where the source
// of every text is noted; the conformance test checks the table against them.
#include "chat/chat_template.h"

#include <array>
#include <cstdint>

namespace orcd::chat {
namespace {

struct Known {
    uint64_t hash;
    size_t length;
    Family family;
    const char* source;
};

constexpr std::array<Known, 10> kKnown = {{
    {0x14b53cc174bed156ull, 199, Family::chatml, "ChatML (teknium/OpenHermes-2.5-Mistral-7B)"},
    {0x81caee86d484f13full, 2506, Family::qwen25, "Qwen/Qwen2.5-7B-Instruct"},
    {0x5dd4244f5f466bc0ull, 4116, Family::qwen3, "Qwen3"},
    {0x10adb66ddca94f9full, 269, Family::phi3, "microsoft/Phi-3-mini-4k-instruct"},
    {0xbd15652bc614e946ull, 430, Family::phi35, "microsoft/Phi-3.5-mini-instruct"},
    {0xc3542f32ae2ce9d0ull, 348, Family::llama3, "meta-llama/Meta-Llama-3-8B-Instruct"},
    {0x0dc69346dcab9d18ull, 389, Family::llama3, "Llama 3 with add_generation_prompt"},
    {0x3f54dfe9f6a12942ull, 16738, Family::gpt_oss, "openai/gpt-oss-120b"},
    {0xe3acb67a6ed6e53dull, 815, Family::llama2, "meta-llama/Llama-2-7b-chat-hf"},
    {0xac84405ff1f7b7abull, 470, Family::mistral, "mistralai/Mistral-7B-Instruct-v0.2"},
}};

std::string_view trim_ascii(std::string_view s) {
    auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
    while (!s.empty() && space(s.front())) s.remove_prefix(1);
    while (!s.empty() && space(s.back())) s.remove_suffix(1);
    return s;
}

uint64_t fnv1a(std::string_view s) {
    uint64_t h = 1469598103934665603ull;
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    return h;
}

bool has(std::string_view text, std::string_view needle) { return text.find(needle) != std::string_view::npos; }

}  // namespace

const char* family_name(Family f) {
    switch (f) {
        case Family::chatml: return "chatml";
        case Family::qwen25: return "qwen2.5";
        case Family::qwen3: return "qwen3";
        case Family::phi3: return "phi3";
        case Family::phi35: return "phi3.5";
        case Family::llama3: return "llama3";
        case Family::gpt_oss: return "gpt-oss";
        case Family::llama2: return "llama2";
        case Family::mistral: return "mistral";
    }
    return "unknown";
}

std::optional<Family> detect(std::string_view template_text) {
    const std::string_view t = trim_ascii(template_text);
    const uint64_t h = fnv1a(t);
    for (const Known& k : kKnown)
        if (k.hash == h && k.length == t.size()) return k.family;
    return std::nullopt;
}

std::string describe_unknown(std::string_view t, std::string_view subject) {
    const char* looks = nullptr;
    if (has(t, "<|im_start|>")) looks = "ChatML";
    else if (has(t, "<|start_header_id|>")) looks = "Llama 3";
    else if (has(t, "<|channel|>")) looks = "GPT-OSS harmony";
    else if (has(t, "<|user|>")) looks = "Phi-3";
    else if (has(t, "[INST]")) looks = "[INST] (Llama 2 / Mistral)";
    std::string out = std::string(subject) + " is not one this worker can render";
    if (looks) out += std::string(" (its markup looks like ") + looks + ", but the text differs from the known variants)";
    out += "; supported: ";
    for (size_t i = 0; i < kKnown.size(); ++i) {
        if (i) out += ", ";
        out += kKnown[i].source;
    }
    return out;
}

}  // namespace orcd::chat
