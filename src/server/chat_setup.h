// What the chat endpoint needs to know about the loaded model's template,
// decided once at load: its family (when the worker knows the text), or why
// chat requests will be refused, and the special-token texts it prints.
#pragma once

#include "chat/chat_template.h"

#include <optional>
#include <string>

namespace orcd::server {

class Model;

struct ChatSetup {
    std::optional<chat::Family> family;
    std::string problem;  // set when family is absent: the 400's message
    std::string bos_token, eos_token;
};

// override_text, when given, stands for the model's own template.
ChatSetup chat_setup(const Model& model, const std::optional<std::string>& override_text);

}  // namespace orcd::server
