#include "http_responses.h"

namespace orcd::server {

nlohmann::json error_body(const std::string& code, const std::string& message, bool retriable) {
    return {{"code", code}, {"message", message}, {"retriable", retriable}};
}

nlohmann::json invalid_request_body(const std::vector<FieldError>& errors) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& e : errors)
        list.push_back({{"field", e.field}, {"constraint", e.constraint}, {"message", e.message}});
    std::string message = errors.front().message;
    if (errors.size() > 1) message += " (and " + std::to_string(errors.size() - 1) + " more)";
    return {{"code", "INVALID_REQUEST"},
            {"message", message},
            {"retriable", false},
            {"field", errors.front().field},
            {"errors", list}};
}

nlohmann::json invalid_request_body(const std::string& field, const std::string& constraint,
                                    const std::string& message) {
    return invalid_request_body(std::vector<FieldError>{{field, constraint, message}});
}

}  // namespace orcd::server
