// Whitespace trimming as JavaScript's String.prototype.trim() does it (the
// semantics of @huggingface/jinja's strip/trim): the ECMAScript WhiteSpace
// and LineTerminator code points, on UTF-8 text.
#pragma once

#include "chat/chat_template.h"

#include <string_view>
#include <vector>

namespace orcd::chat {

std::string_view js_trim_start(std::string_view s);
std::string_view js_trim_end(std::string_view s);
std::string_view js_trim(std::string_view s);
// Trims the whitespace at both ends of the segments' joined text, across
// segment boundaries; segments left empty are removed.
void js_trim_segments(std::vector<Segment>& segments);

}  // namespace orcd::chat
