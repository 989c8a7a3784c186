#include "chat_setup.h"

#include "engine_wrappers.h"

namespace orcd::server {

ChatSetup chat_setup(const Model& model, const std::optional<std::string>& override_text) {
    ChatSetup s;
    const orcd_model_info info = model.info();
    // A vocabulary without such a token leaves the text empty: chat still
    // works for templates that do not print it.
    const auto text_of = [&](int32_t id) {
        try {
            return id >= 0 ? model.token_text(id) : std::string();
        } catch (const EngineError&) {
            return std::string();
        }
    };
    s.bos_token = text_of(info.bos_token);
    s.eos_token = text_of(info.eos_token);
    const std::optional<std::string> text = override_text ? override_text : model.chat_template();
    if (!text) {
        s.problem = "the model has no chat template (tokenizer.chat_template): use /v1/completions";
        return s;
    }
    s.family = chat::detect(*text);
    if (!s.family) s.problem = chat::describe_unknown(*text);
    return s;
}

}  // namespace orcd::server
