// The error table of the C API (docs/errors.md): each code's stable name,
// description and whether it is retriable. Apart from orcd_capi.cpp because
// it needs no engine: code that only names errors (the HTTP server's
// answers, and its fuzzer, which links no engine) uses it alone.
#include <orcd/orcd.h>

namespace {

struct ErrorRow {
    const char* name;
    const char* message;
    int retriable;
};

constexpr ErrorRow kErrors[ORCD_STATUS_COUNT] = {
    {"OK", "success", 0},
    {"INVALID_REQUEST", "the request or an argument is invalid", 0},
    {"BUSY", "the worker is busy with another job or is draining", 1},
    {"MODEL_LOAD_FAILED", "the model could not be loaded", 0},
    {"INSUFFICIENT_VRAM", "the model and its KV cache do not fit in free device memory", 0},
    {"VRAM_OOM", "a device memory allocation failed during the job", 1},
    {"CUDA_ERROR", "a CUDA operation failed or the device is not usable", 1},
    {"INFERENCE_TIMEOUT", "the job ran past its inference timeout", 1},
    {"CANCELLED", "the job was cancelled", 0},
    {"INTERNAL", "internal error", 0},
};

const ErrorRow* row(int code) { return code >= 0 && code < ORCD_STATUS_COUNT ? &kErrors[code] : nullptr; }

}  // namespace

extern "C" {

const char* orcd_error_message(int code) {
    const ErrorRow* r = row(code);
    return r ? r->message : "unknown error code";
}
const char* orcd_error_name(int code) {
    const ErrorRow* r = row(code);
    return r ? r->name : "UNKNOWN";
}
int orcd_error_retriable(int code) {
    const ErrorRow* r = row(code);
    return r ? r->retriable : 0;
}

}  // extern "C"
