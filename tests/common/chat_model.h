// A copy of a GGUF model with a chat template added (tokenizer.chat_template),
// for the chat endpoint's tests: stories260K has none; or with any other
// metadata changed, for the load checks' tests.
#pragma once

#include <functional>
#include <string>

namespace orcd::gguf {
class Writer;
}

namespace orcd::test {

// Writes src with its metadata changed by `edit` (its tensors as they are) to
// dst; returns dst.
std::string write_with_metadata(const std::string& src, const std::string& dst,
                                const std::function<void(gguf::Writer&)>& edit);
// Writes src with `chat_template` set (replacing any) to dst; returns dst.
std::string write_with_chat_template(const std::string& src, const std::string& dst, const std::string& chat_template);
// The ChatML template of testdata/chat/templates/chatml.jinja, a known text.
std::string chatml_template();

}  // namespace orcd::test
