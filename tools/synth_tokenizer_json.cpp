#include "synth_tokenizer_json.h"

#include "tokenizer/bpe_pretokenizer.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <stdexcept>
#include <vector>

namespace orcd::synth {

namespace {

using nlohmann::json;

// llama.cpp's token types.
constexpr int32_t kNormal = 1, kControl = 3, kUserDefined = 4, kUnused = 5;

std::optional<json> read_json(const std::filesystem::path& path, bool required) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        if (required) throw std::runtime_error("cannot read " + path.string());
        return std::nullopt;
    }
    try {
        return json::parse(in);
    } catch (const json::exception& e) {
        throw std::runtime_error(path.string() + ": " + e.what());
    }
}

// The converter's rule for added tokens that are not marked special but
// are control tokens all the same.
bool looks_special(const std::string& t) {
    const auto wrapped = [&t](std::string_view open, std::string_view close) {
        return t.size() >= open.size() + close.size() && t.starts_with(open) && t.ends_with(close);
    };
    return t == "<pad>" || t == "<mask>" || t == "<2mass>" || t == "[@BOS@]" || wrapped("<|", "|>") ||
           wrapped("<\xEF\xBD\x9C", "\xEF\xBD\x9C>") || wrapped("<unused", ">");
}

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
    for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size()))
        s.replace(pos, from.size(), to);
    return s;
}

// The one split pattern of the pre-tokenizer: a Split with a Regex inside a
// Sequence (Llama 3, Qwen, o200k), or GPT-2's built-in one (ByteLevel with
// use_regex). Empty when there is none.
std::string split_regex(const json& pre) {
    if (!pre.is_object()) return {};
    const std::string type = pre.value("type", "");
    if (type == "Sequence") {
        for (const json& p : pre.value("pretokenizers", json::array()))
            if (std::string r = split_regex(p); !r.empty()) return r;
        return {};
    }
    if (type == "Split" && pre.contains("pattern") && pre["pattern"].contains("Regex"))
        return pre["pattern"]["Regex"].get<std::string>();
    if (type == "ByteLevel" && pre.value("use_regex", true)) return "GPT-2";
    return {};
}

// A merge as the GGUF stores it: "left right", spaces inside a part spelled
// as U+0120 (the byte-level space), as gguf-py writes the list form.
std::string merge_text(const json& m) {
    if (m.is_string()) return m.get<std::string>();
    if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string())
        return replace_all(m[0].get<std::string>(), " ", "\xC4\xA0") + " " +
               replace_all(m[1].get<std::string>(), " ", "\xC4\xA0");
    throw std::runtime_error("tokenizer.json: a merge is neither \"a b\" nor [\"a\", \"b\"]");
}

// The content of a tokenizer_config.json entry such as "bos_token": a string
// or {"content": ...}.
std::optional<std::string> token_content(const json& config, const std::string& key) {
    if (!config.contains(key)) return std::nullopt;
    const json& e = config[key];
    if (e.is_string()) return e.get<std::string>();
    if (e.is_object() && e.contains("content") && e["content"].is_string()) return e["content"].get<std::string>();
    return std::nullopt;
}

}  // namespace

uint64_t import_tokenizer_json(gguf::Writer& w, const std::string& tokenizer_json_path, uint64_t vocab_size) {
    namespace fs = std::filesystem;
    const fs::path path(tokenizer_json_path);
    const json tok = *read_json(path, true);
    const json config = read_json(path.parent_path() / "tokenizer_config.json", false).value_or(json::object());
    const json model_config = read_json(path.parent_path() / "config.json", false).value_or(json::object());
    const std::string where = path.string() + ": ";

    const json& model = tok.at("model");
    if (model.value("type", "") != "BPE") throw std::runtime_error(where + "model.type is not BPE");
    const std::string regex = split_regex(tok.value("pre_tokenizer", json()));
    const PreTokenizerSpec* spec = regex == "GPT-2" ? find_pre_tokenizer("gpt-2") : find_pre_tokenizer_by_regex(regex);
    if (!spec)
        throw std::runtime_error(where + "no known pre-tokenizer splits with " +
                                 (regex.empty() ? std::string("this pre_tokenizer") : "'" + regex + "'") +
                                 " (known: qwen2, llama-bpe, gpt-4o, gpt-2)");

    // Tokens in id order: the model's vocabulary, then the added tokens.
    std::map<int64_t, std::string> by_id;
    for (const auto& [text, id] : model.at("vocab").items()) by_id[id.get<int64_t>()] = text;
    std::map<int64_t, int32_t> added_type;
    std::map<std::string, int64_t> added_id;  // content -> id, the first that has it
    for (const json& a : tok.value("added_tokens", json::array())) {
        const int64_t id = a.at("id").get<int64_t>();
        std::string text = a.at("content").get<std::string>();
        added_id.emplace(text, id);
        if (a.value("special", false) || looks_special(text)) {
            added_type[id] = kControl;
        } else {
            added_type[id] = kUserDefined;
            text = replace_all(text, "\xE2\x96\x81", " ");  // user-defined tokens are stored pre-normalized
        }
        by_id[id] = text;
    }
    if (by_id.empty() || by_id.begin()->first < 0) throw std::runtime_error(where + "no tokens, or a negative id");
    uint64_t n = std::max(uint64_t(by_id.rbegin()->first) + 1, vocab_size);
    if (model_config.contains("vocab_size") && model_config["vocab_size"].is_number_unsigned())
        n = std::max(n, model_config["vocab_size"].get<uint64_t>());
    std::vector<std::string> tokens(n);
    std::vector<int32_t> types(n, kUnused);
    for (uint64_t i = 0; i < n; ++i) {
        const auto it = by_id.find(int64_t(i));
        if (it == by_id.end()) {
            tokens[i] = "[PAD" + std::to_string(i) + "]";  // a hole in the ids, or padding
            continue;
        }
        tokens[i] = it->second;
        const auto t = added_type.find(int64_t(i));
        types[i] = t == added_type.end() ? kNormal : t->second;
    }
    std::vector<std::string> merges;
    for (const json& m : model.value("merges", json::array())) merges.push_back(merge_text(m));

    w.set_string("tokenizer.ggml.model", "gpt2");
    w.set_string("tokenizer.ggml.pre", spec->name);
    w.set_string_array("tokenizer.ggml.tokens", tokens);
    w.set_int32_array("tokenizer.ggml.token_type", types);
    w.set_string_array("tokenizer.ggml.merges", merges);

    // Special tokens, as gguf-py's SpecialVocab finds them: tokenizer_config
    // names them by content (looked up among the added tokens), config.json
    // fills in ids it did not give, and a TemplateProcessing post-processor
    // says whether BOS / EOS are added.
    static const char* const kTypes[] = {"bos", "eos", "unk", "sep", "pad", "cls", "mask"};
    static const std::map<std::string, std::string> kKey = {
        {"bos", "bos"}, {"eos", "eos"}, {"unk", "unknown"}, {"sep", "seperator"},  // llama.cpp's spelling
        {"pad", "padding"}, {"cls", "cls"}, {"mask", "mask"}};
    std::map<std::string, int64_t> ids;
    std::map<std::string, bool> add;
    std::optional<std::string> bos_content = token_content(config, "bos_token");
    std::optional<std::string> eos_content = token_content(config, "eos_token");
    const json& post = tok.value("post_processor", json());
    if (post.is_object()) {
        const json processors = post.contains("processors") ? post["processors"] : json::array({post});
        for (const json& p : processors) {
            if (p.value("type", "") != "TemplateProcessing") continue;
            const json single = p.value("single", json::array());
            if (single.size() < 2) continue;
            // Only the simple templates "<bos> $A" / "$A <eos>" are understood.
            if (single.front().contains("SpecialToken")) {
                const std::string first = single.front()["SpecialToken"].value("id", "");
                add["bos"] = bos_content && first == *bos_content;
            }
            if (single.back().contains("SpecialToken")) {
                const std::string last = single.back()["SpecialToken"].value("id", "");
                add["eos"] = eos_content && last == *eos_content;
            }
        }
    }
    for (const char* t : kTypes) {
        const std::string typ = t;
        if (config.contains("add_" + typ + "_token") && config["add_" + typ + "_token"].is_boolean())
            add[typ] = config["add_" + typ + "_token"].get<bool>();
        if (const auto content = token_content(config, typ + "_token")) {
            if (const auto it = added_id.find(*content); it != added_id.end()) ids[typ] = it->second;
        }
        if (!ids.count(typ) && model_config.contains(typ + "_token_id") && model_config[typ + "_token_id"].is_number_integer())
            ids[typ] = model_config[typ + "_token_id"].get<int64_t>();
    }
    for (const auto& [typ, id] : ids)
        if (id >= 0 && uint64_t(id) < n) w.set_uint32("tokenizer.ggml." + kKey.at(typ) + "_token_id", uint32_t(id));
    for (const auto& [typ, on] : add) w.set_bool("tokenizer.ggml.add_" + typ + "_token", on);
    if (config.contains("chat_template") && config["chat_template"].is_string())
        w.set_string("tokenizer.chat_template", config["chat_template"].get<std::string>());
    return n;
}

}  // namespace orcd::synth
