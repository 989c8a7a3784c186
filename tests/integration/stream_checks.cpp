#include "stream_checks.h"

namespace orcd::itest {

::testing::AssertionResult well_formed(const std::vector<SseEvent>& events) {
    if (events.empty()) return ::testing::AssertionFailure() << "no events";
    if (events.front().type != "started")
        return ::testing::AssertionFailure() << "first event is '" << events.front().type << "', not 'started'";
    int64_t expected_i = 0;
    for (size_t k = 0; k < events.size(); ++k) {
        const SseEvent& e = events[k];
        auto data = nlohmann::json::parse(e.data, nullptr, false);
        if (data.is_discarded() || !data.is_object())
            return ::testing::AssertionFailure() << "event " << k << " data is not a JSON object: " << e.data;
        const bool last = k + 1 == events.size();
        if (e.type == "started") {
            if (k != 0) return ::testing::AssertionFailure() << "a second 'started' at " << k;
        } else if (e.type == "token") {
            if (last) return ::testing::AssertionFailure() << "the stream ends with a token, no terminal event";
            if (!data.contains("t") || !data["t"].is_string() || data["t"].get<std::string>().empty())
                return ::testing::AssertionFailure() << "token " << k << " has no non-empty t: " << e.data;
            if (!data.contains("i") || !data["i"].is_number_integer() || data["i"].get<int64_t>() != expected_i)
                return ::testing::AssertionFailure() << "token " << k << " has i " << data.value("i", -1)
                                                     << ", expected " << expected_i;
            ++expected_i;
        } else if (e.type == "end" || e.type == "error") {
            if (!last) return ::testing::AssertionFailure() << "terminal '" << e.type << "' at " << k << " is not last";
        } else {
            return ::testing::AssertionFailure() << "unexpected event type '" << e.type << "'";
        }
    }
    const std::string& t = events.back().type;
    if (t != "end" && t != "error") return ::testing::AssertionFailure() << "no terminal event";
    return ::testing::AssertionSuccess();
}

std::string generated_text(const std::vector<SseEvent>& events) {
    std::string out;
    for (const auto& e : events)
        if (e.type == "token") out += e.json()["t"].get<std::string>();
    return out;
}

size_t token_count(const std::vector<SseEvent>& events) {
    size_t n = 0;
    for (const auto& e : events) n += e.type == "token";
    return n;
}

nlohmann::json terminal_data(const std::vector<SseEvent>& events) {
    if (events.empty()) return nullptr;
    const auto& e = events.back();
    if (e.type != "end" && e.type != "error") return nullptr;
    return e.json();
}

std::string terminal_type(const std::vector<SseEvent>& events) {
    if (events.empty()) return "";
    const auto& t = events.back().type;
    return t == "end" || t == "error" ? t : "";
}

bool is_valid_utf8(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        size_t n;
        uint32_t cp;
        if (c < 0x80) { ++i; continue; }
        if ((c & 0xE0) == 0xC0) { n = 1; cp = c & 0x1F; }
        else if ((c & 0xF0) == 0xE0) { n = 2; cp = c & 0x0F; }
        else if ((c & 0xF8) == 0xF0) { n = 3; cp = c & 0x07; }
        else return false;
        for (size_t k = 1; k <= n; ++k) {
            if (i + k >= s.size()) return false;
            const auto cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (cc & 0x3F);
        }
        // overlong forms, surrogates and values past U+10FFFF are not UTF-8
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000)) return false;
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += n + 1;
    }
    return true;
}

nlohmann::json exec_body(const std::string& job_id, const std::string& prompt, const nlohmann::json& extra) {
    nlohmann::json body = {{"job_id", job_id}, {"prompt", prompt}};
    for (auto it = extra.begin(); it != extra.end(); ++it) body[it.key()] = it.value();
    return body;
}

}  // namespace orcd::itest
