#include "chat_setup.h"

#include "engine_wrappers.h"

namespace orcd::server {

ChatSetup chat_setup(const Model& model, const std::optional<std::string>& override_text) {
    ChatSetup s;
    const orcd_model_info info = model.info();
    if (info.bos_token >= 0) s.bos_token = model.token_text(info.bos_token);
    if (info.eos_token >= 0) s.eos_token = model.token_text(info.eos_token);
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
