#include "request_validation.h"

#include <cmath>
#include <functional>

namespace orcd::server {
namespace {

using nlohmann::json;

std::string num(double v) {
    std::string s = std::to_string(v);
    // to_string gives 6 decimals; trim the noise for readable messages.
    while (!s.empty() && s.back() == '0') s.pop_back();
    if (!s.empty() && s.back() == '.') s.pop_back();
    return s;
}

class Checker {
public:
    Checker(const json& body, std::vector<FieldError>& errors) : body_(body), errors_(errors) {}

    void add(const std::string& field, const std::string& constraint, const std::string& message) {
        errors_.push_back({field, constraint, message});
    }

    // The field's value, or nullptr when absent or null (null means "use the default").
    const json* get(const char* field) const {
        auto it = body_.find(field);
        if (it == body_.end() || it->is_null()) return nullptr;
        return &*it;
    }

    // A string of lo..hi code points.
    std::optional<std::string> string(const char* field, size_t lo, size_t hi, bool required) {
        const json* v = get(field);
        if (!v) {
            if (required) add(field, "required", std::string(field) + " is required");
            return std::nullopt;
        }
        if (!v->is_string()) {
            add(field, "type", std::string(field) + " must be a string");
            return std::nullopt;
        }
        const auto& s = v->get_ref<const std::string&>();
        const size_t n = count_code_points(s);
        if (n < lo) {
            add(field, "min_length", std::string(field) + " must have at least " + std::to_string(lo) + " characters");
            return std::nullopt;
        }
        if (n > hi) {
            add(field, "max_length",
                std::string(field) + " must have at most " + std::to_string(hi) + " characters, has " +
                    std::to_string(n));
            return std::nullopt;
        }
        return s;
    }

    // The job id: the length rule first, then the character set.
    std::optional<std::string> job_id() {
        auto v = string("job_id", 1, kMaxJobIdChars, true);
        if (v && !is_valid_job_id(*v)) {
            add("job_id", "charset", "job_id must consist of visible ASCII characters (0x21-0x7E)");
            return std::nullopt;
        }
        return v;
    }

    // A JSON boolean.
    std::optional<bool> boolean(const char* field) {
        const json* v = get(field);
        if (!v) return std::nullopt;
        if (!v->is_boolean()) {
            add(field, "type", std::string(field) + " must be a boolean");
            return std::nullopt;
        }
        return v->get<bool>();
    }

    // A JSON integer in lo..hi.
    std::optional<int64_t> integer(const char* field, int64_t lo, int64_t hi) {
        const json* v = get(field);
        if (!v) return std::nullopt;
        if (!v->is_number_integer()) {
            add(field, "type", std::string(field) + " must be an integer");
            return std::nullopt;
        }
        const bool negative = v->is_number_integer() && !v->is_number_unsigned() && v->get<int64_t>() < 0;
        const bool too_big = v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX);
        const int64_t x = too_big ? INT64_MAX : (negative ? v->get<int64_t>() : static_cast<int64_t>(v->get<uint64_t>()));
        if (too_big || x < lo || x > hi) {
            add(field, "range", std::string(field) + " must be in " + std::to_string(lo) + ".." + std::to_string(hi));
            return std::nullopt;
        }
        return x;
    }

    // A JSON number in [lo, hi]; exclusive_lo makes the lower bound open.
    std::optional<double> number(const char* field, double lo, double hi, bool exclusive_lo = false) {
        const json* v = get(field);
        if (!v) return std::nullopt;
        if (!v->is_number()) {
            add(field, "type", std::string(field) + " must be a number");
            return std::nullopt;
        }
        const double x = v->get<double>();
        const bool below = exclusive_lo ? !(x > lo) : !(x >= lo);
        if (!std::isfinite(x) || below || x > hi) {
            add(field, "range",
                std::string(field) + " must be in " + (exclusive_lo ? "(" : "[") + num(lo) + ", " + num(hi) + "]");
            return std::nullopt;
        }
        return x;
    }

private:
    const json& body_;
    std::vector<FieldError>& errors_;
};

}  // namespace

size_t count_code_points(std::string_view utf8) {
    size_t n = 0;
    for (unsigned char c : utf8) n += (c & 0xC0) != 0x80;
    return n;
}

bool is_valid_job_id(std::string_view id) {
    if (id.empty() || id.size() > kMaxJobIdChars) return false;
    for (unsigned char c : id)
        if (c < 0x21 || c > 0x7E) return false;
    return true;
}

std::vector<FieldError> validate_cancel(const json& body, std::string& job_id) {
    std::vector<FieldError> errors;
    if (!body.is_object()) {
        errors.push_back({"body", "type", "the request body must be a JSON object"});
        return errors;
    }
    Checker c(body, errors);
    if (auto v = c.job_id()) job_id = *v;
    return errors;
}

std::vector<FieldError> validate_execute(const json& body, const RequestLimits& limits, ExecuteRequest& out) {
    std::vector<FieldError> errors;
    if (!body.is_object()) {
        errors.push_back({"body", "type", "the request body must be a JSON object"});
        return errors;
    }
    Checker c(body, errors);

    if (auto v = c.job_id()) out.job_id = *v;
    if (auto v = c.string("prompt", 1, kMaxPromptChars, true)) out.prompt = *v;
    if (auto v = c.integer("max_tokens", 1, limits.max_tokens_out)) out.max_tokens = static_cast<uint32_t>(*v);
    if (auto v = c.number("temperature", 0.0, 2.0)) out.temperature = static_cast<float>(*v);
    if (auto v = c.number("top_p", 0.0, 1.0)) out.top_p = static_cast<float>(*v);
    if (auto v = c.integer("top_k", 0, limits.vocab_size)) out.top_k = static_cast<int32_t>(*v);
    if (auto v = c.number("min_p", 0.0, 1.0)) out.min_p = static_cast<float>(*v);
    if (auto v = c.number("repetition_penalty", 0.0, 2.0, true)) out.repetition_penalty = static_cast<float>(*v);
    if (auto v = c.integer("repetition_last_n", 0, limits.context_length))
        out.repetition_last_n = static_cast<int32_t>(*v);

    if (const json* stop = c.get("stop")) {
        if (!stop->is_array()) {
            c.add("stop", "type", "stop must be an array of strings");
        } else if (stop->size() > kMaxStopSequences) {
            c.add("stop", "max_items", "stop may hold at most " + std::to_string(kMaxStopSequences) + " strings");
        } else {
            for (size_t i = 0; i < stop->size(); ++i) {
                const std::string field = "stop[" + std::to_string(i) + "]";
                const json& s = (*stop)[i];
                if (!s.is_string()) {
                    c.add(field, "type", field + " must be a string");
                    continue;
                }
                const size_t n = count_code_points(s.get_ref<const std::string&>());
                if (n < 1 || n > kMaxStopChars) {
                    c.add(field, n < 1 ? "min_length" : "max_length",
                          field + " must have 1.." + std::to_string(kMaxStopChars) + " characters");
                    continue;
                }
                out.stop.push_back(s.get<std::string>());
            }
        }
    }

    if (const json* seed = c.get("seed")) {
        if (seed->is_number_unsigned()) out.seed = seed->get<uint64_t>();
        else if (seed->is_number_integer()) c.add("seed", "range", "seed must be in 0..18446744073709551615");
        else if (seed->is_number_float()) c.add("seed", "type", "seed must be an unsigned 64-bit integer");
        else c.add("seed", "type", "seed must be an unsigned 64-bit integer");
    }
    if (auto v = c.boolean("parse_special")) out.parse_special = *v;
    return errors;
}

}  // namespace orcd::server
