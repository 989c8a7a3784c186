// The renderers, one per family. Each follows its template's control flow
// statement for statement (the template texts are in testdata/chat/templates/)
// with add_generation_prompt = true and no tools. Where Python's Jinja and
// @huggingface/jinja disagree, this follows @huggingface/jinja, the reference
// of the conformance vectors: str.strip(chars) ignores chars and trims all
// whitespace as JavaScript's trim() does, and "" != false is false.
#include "chat/chat_template.h"

#include "chat/js_whitespace.h"

#include <string_view>

namespace orcd::chat {
namespace {

class Out {
public:
    void markup(std::string_view s) { add(s, true); }
    void content(std::string_view s) { add(s, false); }
    std::vector<Segment> take() { return std::move(segs_); }
    std::vector<Segment>& segments() { return segs_; }

private:
    void add(std::string_view s, bool markup) {
        if (s.empty()) return;
        if (!segs_.empty() && segs_.back().markup == markup) segs_.back().text += s;
        else segs_.push_back({std::string(s), markup});
    }
    std::vector<Segment> segs_;
};

bool contains(std::string_view s, std::string_view needle) { return s.find(needle) != std::string_view::npos; }
bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool ends_with(std::string_view s, std::string_view p) { return s.size() >= p.size() && s.substr(s.size() - p.size()) == p; }

// Python's s.split(sep)[0] and [-1] for a non-empty sep.
std::string_view before_first(std::string_view s, std::string_view sep) {
    const size_t at = s.find(sep);
    return at == std::string_view::npos ? s : s.substr(0, at);
}
std::string_view after_last(std::string_view s, std::string_view sep) {
    const size_t at = s.rfind(sep);
    return at == std::string_view::npos ? s : s.substr(at + sep.size());
}

// Jinja's `(message['role'] == 'user') != (loop.index0 % 2 == 0)` check.
void require_alternation(const Message& m, size_t index) {
    if ((m.role == "user") != (index % 2 == 0))
        throw TemplateError("Conversation roles must alternate user/assistant/user/assistant/...");
}

// <|im_start|>role\n content <|im_end|>\n
void chatml_turn(Out& out, const std::string& role, std::string_view content) {
    out.markup("<|im_start|>" + role + "\n");
    out.content(content);
    out.markup("<|im_end|>\n");
}

void render_chatml(Out& out, const std::vector<Message>& msgs) {
    for (const Message& m : msgs) chatml_turn(out, m.role, m.content);
    out.markup("<|im_start|>assistant\n");
}

void render_qwen25(Out& out, const std::vector<Message>& msgs) {
    if (msgs[0].role == "system") chatml_turn(out, "system", msgs[0].content);
    else out.markup("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n");
    for (size_t i = 0; i < msgs.size(); ++i) {
        const Message& m = msgs[i];
        if (m.role == "user" || (m.role == "system" && i > 0) || m.role == "assistant") chatml_turn(out, m.role, m.content);
    }
    out.markup("<|im_start|>assistant\n");
}

void render_qwen3(Out& out, const std::vector<Message>& msgs, const RenderOptions& opt) {
    if (msgs[0].role == "system") chatml_turn(out, "system", msgs[0].content);
    // The last user turn that is not a wrapped tool response: assistant turns
    // after it keep their reasoning.
    size_t last_query = msgs.size() - 1;
    for (size_t k = msgs.size(); k-- > 0;) {
        const Message& m = msgs[k];
        if (m.role == "user" && !(starts_with(m.content, "<tool_response>") && ends_with(m.content, "</tool_response>"))) {
            last_query = k;
            break;
        }
    }
    for (size_t i = 0; i < msgs.size(); ++i) {
        const Message& m = msgs[i];
        if (m.role == "user" || (m.role == "system" && i > 0)) {
            chatml_turn(out, m.role, m.content);
        } else if (m.role == "assistant") {
            std::string_view content = m.content;
            std::string_view reasoning;
            if (contains(m.content, "</think>")) {
                content = js_trim_start(after_last(m.content, "</think>"));
                reasoning = js_trim_start(after_last(js_trim_end(before_first(m.content, "</think>")), "<think>"));
            }
            const bool last = i + 1 == msgs.size();
            if (i > last_query && (last || !reasoning.empty())) {
                out.markup("<|im_start|>assistant\n<think>\n");
                out.content(js_trim(reasoning));
                out.markup("\n</think>\n\n");
                out.content(js_trim_start(content));
            } else {
                out.markup("<|im_start|>assistant\n");
                out.content(content);
            }
            out.markup("<|im_end|>\n");
        }
    }
    out.markup("<|im_start|>assistant\n");
    if (opt.enable_thinking == false) out.markup("<think>\n\n</think>\n\n");
}

void render_phi3(Out& out, const std::vector<Message>& msgs, const RenderOptions& opt) {
    out.markup(opt.bos_token);
    for (const Message& m : msgs) {
        if (m.role == "user") {
            out.markup("<|user|>\n");
            out.content(m.content);
            out.markup("<|end|>\n<|assistant|>\n");
        } else if (m.role == "assistant") {
            out.content(m.content);
            out.markup("<|end|>\n");
        }
    }
}

void render_phi35(Out& out, const std::vector<Message>& msgs) {
    for (const Message& m : msgs) {
        const bool shown = (m.role == "system" && !m.content.empty()) || m.role == "user" || m.role == "assistant";
        if (!shown) continue;
        out.markup("<|" + m.role + "|>\n");
        out.content(m.content);
        out.markup("<|end|>\n");
    }
    out.markup("<|assistant|>\n");
}

void render_llama3(Out& out, const std::vector<Message>& msgs, const RenderOptions& opt) {
    for (size_t i = 0; i < msgs.size(); ++i) {
        if (i == 0) out.markup(opt.bos_token);
        out.markup("<|start_header_id|>" + msgs[i].role + "<|end_header_id|>\n\n");
        out.content(js_trim(msgs[i].content));
        out.markup("<|eot_id|>");
    }
    out.markup("<|start_header_id|>assistant<|end_header_id|>\n\n");
}

void render_gpt_oss(Out& out, const std::vector<Message>& msgs, const RenderOptions& opt) {
    const std::string effort = opt.reasoning_effort.empty() ? "medium" : opt.reasoning_effort;
    out.markup("<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\n"
               "Knowledge cutoff: 2024-06\nCurrent date: " + opt.date + "\n\nReasoning: " + effort +
               "\n\n# Valid channels: analysis, commentary, final. Channel must be included for every message.<|end|>");
    size_t first = 0;
    if (msgs[0].role == "developer" || msgs[0].role == "system") {
        first = 1;
        if (!msgs[0].content.empty()) {
            out.markup("<|start|>developer<|message|># Instructions\n\n");
            out.content(msgs[0].content);
            out.markup("\n\n<|end|>");
        }
    }
    for (size_t i = first; i < msgs.size(); ++i) {
        const Message& m = msgs[i];
        if (m.role == "assistant") {
            if (contains(m.content, "<|channel|>analysis<|message|>") || contains(m.content, "<|channel|>final<|message|>"))
                throw TemplateError(
                    "You have passed a message containing <|channel|> tags in the content field. Instead of doing this, "
                    "you should pass analysis messages (the string between '<|message|>' and '<|end|>') in the "
                    "'thinking' field, and final messages (the string between '<|message|>' and '<|end|>') in the "
                    "'content' field.");
            out.markup("<|start|>assistant<|channel|>final<|message|>");
            out.content(m.content);
            out.markup("<|end|>");
        } else if (m.role == "user") {
            out.markup("<|start|>user<|message|>");
            out.content(m.content);
            out.markup("<|end|>");
        }
    }
    out.markup("<|start|>assistant");
}

void render_llama2(Out& out, const std::vector<Message>& msgs, const RenderOptions& opt) {
    size_t first = 0;
    const std::string* system = nullptr;
    if (msgs[0].role == "system") {
        first = 1;
        // `system_message != false`: @huggingface/jinja treats "" as equal to false.
        if (!msgs[0].content.empty()) system = &msgs[0].content;
    }
    for (size_t i = first; i < msgs.size(); ++i) {
        const Message& m = msgs[i];
        require_alternation(m, i - first);
        if (m.role != "user" && m.role != "assistant") continue;
        // content.strip() runs over the <<SYS>> block and the message together.
        Out body;
        if (i == first && system) {
            body.markup("<<SYS>>\n");
            body.content(*system);
            body.markup("\n<</SYS>>\n\n");
        }
        body.content(m.content);
        js_trim_segments(body.segments());
        if (m.role == "user") out.markup(opt.bos_token + "[INST] ");
        else out.markup(" ");
        for (const Segment& s : body.segments()) s.markup ? out.markup(s.text) : out.content(s.text);
        if (m.role == "user") out.markup(" [/INST]");
        else out.markup(" " + opt.eos_token);
    }
}

void render_mistral(Out& out, const std::vector<Message>& msgs, const RenderOptions& opt) {
    out.markup(opt.bos_token);
    for (size_t i = 0; i < msgs.size(); ++i) {
        const Message& m = msgs[i];
        require_alternation(m, i);
        if (m.role == "user") {
            out.markup("[INST] ");
            out.content(m.content);
            out.markup(" [/INST]");
        } else if (m.role == "assistant") {
            out.content(m.content);
            out.markup(opt.eos_token);
        } else {
            throw TemplateError("Only user and assistant roles are supported!");
        }
    }
}

}  // namespace

std::vector<Segment> render(Family family, const std::vector<Message>& messages, const RenderOptions& options) {
    // Every template reads messages[0]; an empty conversation is the caller's error.
    if (messages.empty()) throw TemplateError("the conversation has no messages");
    Out out;
    switch (family) {
        case Family::chatml: render_chatml(out, messages); break;
        case Family::qwen25: render_qwen25(out, messages); break;
        case Family::qwen3: render_qwen3(out, messages, options); break;
        case Family::phi3: render_phi3(out, messages, options); break;
        case Family::phi35: render_phi35(out, messages); break;
        case Family::llama3: render_llama3(out, messages, options); break;
        case Family::gpt_oss: render_gpt_oss(out, messages, options); break;
        case Family::llama2: render_llama2(out, messages, options); break;
        case Family::mistral: render_mistral(out, messages, options); break;
    }
    return out.take();
}

std::string joined(const std::vector<Segment>& segments) {
    std::string s;
    for (const Segment& seg : segments) s += seg.text;
    return s;
}

}  // namespace orcd::chat
