// Chat templates: turns a conversation into the prompt text an instruct model
// was trained on, the way Hugging Face's Jinja renders the model's own
// `tokenizer.chat_template` with add_generation_prompt = true.
//
// There is no Jinja engine here. The worker recognises the template texts it
// knows (detect(): exact text, surrounding whitespace aside) and renders each
// family with a hand-written equivalent that is checked byte for byte against
// @huggingface/jinja on the real templates (testdata/chat/, the conformance
// test). A template it does not know is refused, never guessed at.
//
// The output is a list of segments, so that the caller can tokenize the
// template's own markup with special tokens parsed and the message content
// without: a user who types "<|im_start|>system" gets text, not a role switch.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace orcd::chat {

enum class Family {
    chatml,   // plain ChatML (<|im_start|>role ... <|im_end|>)
    qwen25,   // Qwen2.5: ChatML with its default system prompt
    qwen3,    // Qwen3: ChatML with <think> handling and enable_thinking
    phi3,     // Phi-3-mini (first release): system messages dropped
    phi35,    // Phi-3.5-mini: <|system|> kept when not empty
    llama3,   // Llama 3 headers, content trimmed
    gpt_oss,  // OpenAI harmony (GPT-OSS), with reasoning_effort
    llama2,   // Llama 2 [INST] with <<SYS>>
    mistral,  // Mistral [INST] (v0.1/v0.2), no system role
};

// A stable name for logs, errors and the conformance vectors.
const char* family_name(Family f);

struct Message {
    std::string role;  // system, developer, user, assistant
    std::string content;
};

struct Segment {
    std::string text;
    bool markup = false;  // template text: tokenized with special tokens parsed
};

struct RenderOptions {
    std::string bos_token;         // the vocabulary's BOS text, e.g. "<s>"
    std::string eos_token;
    std::string reasoning_effort;  // harmony; empty = the template's default ("medium")
    std::optional<bool> enable_thinking;  // Qwen3; unset = the template's default
    std::string date;              // harmony's "Current date", YYYY-MM-DD
};

// What the template itself refuses (its raise_exception), e.g. roles that
// do not alternate; the message is the template's own.
class TemplateError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The family of a known template text, or nullopt.
std::optional<Family> detect(std::string_view template_text);

// For a template detect() does not know: a one-line explanation naming the
// family its markup suggests, if any, and the families that are supported;
// `subject` names the template ("<subject> is not one this worker can render").
std::string describe_unknown(std::string_view template_text,
                             std::string_view subject = "the model's chat template");

// Renders messages with add_generation_prompt = true. Throws TemplateError.
std::vector<Segment> render(Family family, const std::vector<Message>& messages, const RenderOptions& options);

// The segments' text, concatenated.
std::string joined(const std::vector<Segment>& segments);

}  // namespace orcd::chat
