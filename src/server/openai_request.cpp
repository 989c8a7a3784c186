#include "openai_request.h"

#include <cmath>

namespace orcd::server {
namespace {

using nlohmann::json;

// Collects the violations of one body; each check reads one field.
class Fields {
public:
    Fields(const json& body, std::vector<FieldError>& errors) : body_(body), errors_(errors) {}

    void add(const std::string& field, const std::string& constraint, const std::string& message) {
        errors_.push_back({field, constraint, message});
    }
    // The field, or nullptr when absent or null (null takes the default).
    const json* get(const char* name) const {
        const auto it = body_.find(name);
        return it == body_.end() || it->is_null() ? nullptr : &*it;
    }
    std::optional<bool> boolean(const char* name) {
        const json* v = get(name);
        if (!v) return std::nullopt;
        if (!v->is_boolean()) {
            add(name, "type", std::string(name) + " must be a boolean");
            return std::nullopt;
        }
        return v->get<bool>();
    }
    std::optional<int64_t> integer(const char* name, int64_t lo, int64_t hi) {
        const json* v = get(name);
        if (!v) return std::nullopt;
        const bool in_range =
            v->is_number_integer() &&
            (v->is_number_unsigned()
                 ? v->get<uint64_t>() <= static_cast<uint64_t>(hi) && static_cast<int64_t>(v->get<uint64_t>()) >= lo
                 : v->get<int64_t>() >= lo && v->get<int64_t>() <= hi);
        if (!v->is_number_integer()) add(name, "type", std::string(name) + " must be an integer");
        else if (!in_range)
            add(name, "range", std::string(name) + " must be in " + std::to_string(lo) + ".." + std::to_string(hi));
        if (!in_range) return std::nullopt;
        return v->is_number_unsigned() ? static_cast<int64_t>(v->get<uint64_t>()) : v->get<int64_t>();
    }
    std::optional<double> number(const char* name, double lo, double hi, const char* range_text) {
        const json* v = get(name);
        if (!v) return std::nullopt;
        if (!v->is_number()) {
            add(name, "type", std::string(name) + " must be a number");
            return std::nullopt;
        }
        const double x = v->get<double>();
        if (!std::isfinite(x) || x < lo || x > hi) {
            add(name, "range", std::string(name) + " must be in " + range_text);
            return std::nullopt;
        }
        return x;
    }
    // A field the worker does not support unless it holds its neutral value.
    void unsupported_unless(const char* name, bool neutral, const std::string& why) {
        if (get(name) && !neutral) add(name, "unsupported", std::string(name) + " is not supported: " + why);
    }

private:
    const json& body_;
    std::vector<FieldError>& errors_;
};

bool is_empty_container(const json* v) { return v && (v->is_array() || v->is_object()) && v->empty(); }

// A message's content: a string, an array of text parts (joined with "\n"),
// or null for an assistant turn.
std::optional<std::string> content_of(const json& m, const std::string& field, const std::string& role, Fields& f) {
    const auto it = m.find("content");
    if (it == m.end() || it->is_null()) {
        if (role == "assistant") return std::string();
        f.add(field + ".content", "required", field + ".content is required");
        return std::nullopt;
    }
    if (it->is_string()) return it->get<std::string>();
    if (!it->is_array()) {
        f.add(field + ".content", "type", field + ".content must be a string or an array of text parts");
        return std::nullopt;
    }
    std::string text;
    for (size_t i = 0; i < it->size(); ++i) {
        const json& part = (*it)[i];
        const std::string pf = field + ".content[" + std::to_string(i) + "]";
        if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") || !part["text"].is_string()) {
            f.add(pf, "unsupported", pf + " must be a text part ({\"type\": \"text\", \"text\": ...}); only text is supported");
            return std::nullopt;
        }
        if (i) text += "\n";
        text += part["text"].get<std::string>();
    }
    return text;
}

void validate_messages(const json& body, OpenAiRequest& out, Fields& f) {
    const json* msgs = f.get("messages");
    if (!msgs) return f.add("messages", "required", "messages is required");
    if (!msgs->is_array()) return f.add("messages", "type", "messages must be an array");
    if (msgs->empty()) return f.add("messages", "min_items", "messages must hold at least one message");
    if (msgs->size() > kMaxMessages)
        return f.add("messages", "max_items", "messages may hold at most " + std::to_string(kMaxMessages) + " messages");
    for (size_t i = 0; i < msgs->size(); ++i) {
        const json& m = (*msgs)[i];
        const std::string field = "messages[" + std::to_string(i) + "]";
        if (!m.is_object()) {
            f.add(field, "type", field + " must be an object");
            continue;
        }
        if (!m.contains("role") || !m["role"].is_string()) {
            f.add(field + ".role", "required", field + ".role (a string) is required");
            continue;
        }
        const std::string role = m["role"].get<std::string>();
        if (role != "system" && role != "developer" && role != "user" && role != "assistant") {
            f.add(field + ".role", "unsupported",
                  field + ".role '" + role + "' is not supported (system, developer, user, assistant)");
            continue;
        }
        if (m.contains("tool_calls") && !m["tool_calls"].is_null() && !is_empty_container(&m["tool_calls"])) {
            f.add(field + ".tool_calls", "unsupported", field + ".tool_calls is not supported: tools are not available");
            continue;
        }
        if (auto content = content_of(m, field, role, f)) out.messages.push_back({role, std::move(*content)});
    }
    (void)body;
}

void validate_prompt(OpenAiRequest& out, Fields& f) {
    const json* p = f.get("prompt");
    if (!p) return f.add("prompt", "required", "prompt is required");
    const json* text = p;
    if (p->is_array()) {
        if (p->size() != 1 || !(*p)[0].is_string())
            return f.add("prompt", "unsupported", "prompt must be a string (or an array of exactly one string)");
        text = &(*p)[0];
    }
    if (!text->is_string()) return f.add("prompt", "type", "prompt must be a string");
    const auto& s = text->get_ref<const std::string&>();
    const size_t n = count_code_points(s);
    if (n < 1) return f.add("prompt", "min_length", "prompt must not be empty");
    if (n > kMaxPromptChars)
        return f.add("prompt", "max_length",
                     "prompt must have at most " + std::to_string(kMaxPromptChars) + " characters, has " + std::to_string(n));
    out.exec.prompt = s;
}

void validate_stop(OpenAiRequest& out, Fields& f) {
    const json* stop = f.get("stop");
    if (!stop) return;
    std::vector<std::string> list;
    if (stop->is_string()) {
        list.push_back(stop->get<std::string>());
    } else if (stop->is_array()) {
        for (const json& s : *stop) {
            if (!s.is_string()) return f.add("stop", "type", "stop must be a string or an array of strings");
            list.push_back(s.get<std::string>());
        }
    } else {
        return f.add("stop", "type", "stop must be a string or an array of strings");
    }
    if (list.size() > kMaxStopSequences)
        return f.add("stop", "max_items", "stop may hold at most " + std::to_string(kMaxStopSequences) + " strings");
    for (const std::string& s : list) {
        const size_t n = count_code_points(s);
        if (n < 1 || n > kMaxStopChars)
            return f.add("stop", n < 1 ? "min_length" : "max_length",
                         "each stop string must have 1.." + std::to_string(kMaxStopChars) + " characters");
    }
    out.exec.stop = std::move(list);
}

void validate_sampling(OpenAiRequest& out, const RequestLimits& limits, Fields& f) {
    // max_completion_tokens is the newer name of max_tokens; it wins.
    const int64_t max_out = limits.max_tokens_out;
    if (auto v = f.integer("max_tokens", 1, max_out)) out.exec.max_tokens = static_cast<uint32_t>(*v);
    if (auto v = f.integer("max_completion_tokens", 1, max_out)) out.exec.max_tokens = static_cast<uint32_t>(*v);
    if (auto v = f.number("temperature", 0.0, 2.0, "[0, 2]")) out.exec.temperature = static_cast<float>(*v);
    if (auto v = f.number("top_p", 0.0, 1.0, "[0, 1]")) out.exec.top_p = static_cast<float>(*v);
    if (auto v = f.integer("top_k", 0, limits.vocab_size)) out.exec.top_k = static_cast<int32_t>(*v);
    if (auto v = f.number("min_p", 0.0, 1.0, "[0, 1]")) out.exec.min_p = static_cast<float>(*v);
    if (auto v = f.number("presence_penalty", -2.0, 2.0, "[-2, 2]")) out.presence_penalty = static_cast<float>(*v);
    if (auto v = f.number("frequency_penalty", -2.0, 2.0, "[-2, 2]")) out.frequency_penalty = static_cast<float>(*v);
    // OpenAI's seeds are signed 64-bit; the engine's are unsigned: a negative
    // seed maps to its two's complement, deterministically.
    if (const json* seed = f.get("seed")) {
        if (!seed->is_number_integer()) f.add("seed", "type", "seed must be an integer");
        else out.exec.seed = seed->is_number_unsigned() ? seed->get<uint64_t>() : static_cast<uint64_t>(seed->get<int64_t>());
    }
    if (const json* n = f.get("n"); n && !(n->is_number_integer() && n->get<int64_t>() == 1))
        f.add("n", "unsupported", "n must be 1: this worker returns one choice per request");
}

void validate_streaming(OpenAiRequest& out, Fields& f) {
    if (auto v = f.boolean("stream")) out.stream = *v;
    if (const json* so = f.get("stream_options")) {
        if (!so->is_object()) {
            f.add("stream_options", "type", "stream_options must be an object");
        } else if (!out.stream) {
            f.add("stream_options", "requires", "stream_options is only allowed when stream is true");
        } else if (so->contains("include_usage") && !(*so)["include_usage"].is_null()) {
            if (!(*so)["include_usage"].is_boolean())
                f.add("stream_options.include_usage", "type", "stream_options.include_usage must be a boolean");
            else out.include_usage = (*so)["include_usage"].get<bool>();
        }
    }
}

void validate_logprobs(OpenAiKind kind, OpenAiRequest& out, Fields& f) {
    if (kind == OpenAiKind::chat) {
        if (auto v = f.boolean("logprobs")) out.logprobs = *v;
        if (auto v = f.integer("top_logprobs", 0, kMaxTopLogprobs)) {
            if (!out.logprobs) f.add("top_logprobs", "requires", "top_logprobs requires logprobs to be true");
            out.top_logprobs = static_cast<uint32_t>(*v);
        }
    } else if (auto v = f.integer("logprobs", 0, kMaxTopLogprobs)) {
        // Completions: logprobs is the number of alternatives per token.
        out.logprobs = true;
        out.top_logprobs = static_cast<uint32_t>(*v);
    }
}

void refuse_unsupported(OpenAiKind kind, Fields& f) {
    const auto neutral_empty = [&](const char* name) { return is_empty_container(f.get(name)); };
    f.unsupported_unless("tools", neutral_empty("tools"), "this worker has no tool calling");
    f.unsupported_unless("functions", neutral_empty("functions"), "this worker has no function calling");
    f.unsupported_unless("logit_bias", neutral_empty("logit_bias"), "logit biases are not implemented");
    const json* rf = f.get("response_format");
    f.unsupported_unless("response_format", rf && rf->is_object() && rf->value("type", "") == "text",
                         "only {\"type\": \"text\"} is available");
    if (kind == OpenAiKind::completion) {
        const json* echo = f.get("echo");
        f.unsupported_unless("echo", echo && echo->is_boolean() && !echo->get<bool>(), "the prompt is not echoed");
        const json* suffix = f.get("suffix");
        f.unsupported_unless("suffix", suffix && suffix->is_string() && suffix->get<std::string>().empty(),
                             "insertion is not available");
        const json* best_of = f.get("best_of");
        f.unsupported_unless("best_of", best_of && best_of->is_number_integer() && best_of->get<int64_t>() == 1,
                             "only best_of = 1 is available");
    }
}

}  // namespace

std::vector<FieldError> validate_openai(OpenAiKind kind, const json& body, const RequestLimits& limits,
                                        OpenAiRequest& out) {
    std::vector<FieldError> errors;
    if (!body.is_object()) {
        errors.push_back({"body", "type", "the request body must be a JSON object"});
        return errors;
    }
    Fields f(body, errors);
    out.kind = kind;
    if (const json* model = f.get("model"); model && !model->is_string()) f.add("model", "type", "model must be a string");
    if (kind == OpenAiKind::chat) {
        validate_messages(body, out, f);
        if (const json* effort = f.get("reasoning_effort")) {
            const std::string e = effort->is_string() ? effort->get<std::string>() : "";
            if (e != "low" && e != "medium" && e != "high")
                f.add("reasoning_effort", "range", "reasoning_effort must be low, medium or high");
            else out.reasoning_effort = e;
        }
    } else {
        validate_prompt(out, f);
    }
    validate_sampling(out, limits, f);
    validate_stop(out, f);
    validate_streaming(out, f);
    validate_logprobs(kind, out, f);
    refuse_unsupported(kind, f);
    return errors;
}

}  // namespace orcd::server
