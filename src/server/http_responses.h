// JSON bodies of the error responses, shaped alike everywhere:
// {"code","message","retriable"} and, for INVALID_REQUEST, "field" and "errors".
#pragma once

#include "request_validation.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace orcd::server {

nlohmann::json error_body(const std::string& code, const std::string& message, bool retriable);
// errors must not be empty; "field" is the first one's field.
nlohmann::json invalid_request_body(const std::vector<FieldError>& errors);
// A single-violation INVALID_REQUEST body.
nlohmann::json invalid_request_body(const std::string& field, const std::string& constraint,
                                    const std::string& message);

}  // namespace orcd::server
