// GGUF reader: a validated, read-only view of a GGUF v2/v3 file.
//
// The file is mapped (or, for fuzzing and tests, borrowed from memory) and
// parsed once; metadata strings and tensor data point into the mapping. Every
// read is bounds-checked: a malformed file raises GgufError with a precise
// kind and message and never reads outside the buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace orcd::gguf {

enum class ValueType : uint32_t {
    UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5,
    FLOAT32 = 6, BOOL = 7, STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
};
const char* value_type_name(ValueType t);

// ggml tensor types (numbering is ggml's): every id current GGUF files
// carry, with its block layout, so that a file is never rejected as
// malformed for holding a type the engine does not compute (the backends'
// format tables decide that, naming the tensor). Ids ggml retired (4, 5,
// 31-33, 36-38) are unknown-type errors at parse time.
enum class TensorType : uint32_t {
    F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
    Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
    IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22, IQ4_XS = 23,
    I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30,
    TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39,
};
const char* tensor_type_name(TensorType t);
// Elements per block and bytes per block; false for an unknown type.
bool tensor_type_layout(uint32_t type, uint64_t* block_elems, uint64_t* block_bytes);

enum class ErrorKind {
    Io,                  // cannot open / map the file
    BadMagic,
    UnsupportedVersion,
    Truncated,           // header, metadata or tensor infos run past the end
    CountTooLarge,       // a count or string length the file could not hold
    BadValueType,
    BadTensor,           // too many dims, zero dim, duplicate name, bad alignment
    UnknownTensorType,
    DimensionOverflow,
    TensorOutOfBounds,   // tensor data past the end of the file
    TensorOverlap,
    MissingKey,
    WrongKeyType,
    DuplicateKey,
};
const char* error_kind_name(ErrorKind k);

class GgufError : public std::runtime_error {
public:
    GgufError(ErrorKind kind, const std::string& msg) : std::runtime_error(msg), kind_(kind) {}
    ErrorKind kind() const noexcept { return kind_; }

private:
    ErrorKind kind_;
};

// A metadata value. Scalars live in the union-like fields; strings point into
// the file; arrays hold their elements (arrays of arrays are allowed).
struct Value {
    ValueType type = ValueType::UINT8;
    uint64_t u = 0;          // unsigned integers and bool
    int64_t i = 0;           // signed integers
    double f = 0;            // floats
    std::string_view str;    // STRING
    ValueType elem_type = ValueType::UINT8;  // ARRAY: element type
    std::vector<Value> arr;  // ARRAY: elements

    bool is_integer() const;
    // Any integer type (or bool) as int64/uint64; throws WrongKeyType otherwise.
    int64_t as_int(std::string_view key) const;
    double as_float(std::string_view key) const;  // floats and integers
};

struct KeyValue {
    std::string_view key;
    Value value;
};

struct TensorInfo {
    std::string_view name;
    TensorType type = TensorType::F32;
    uint32_t n_dims = 0;
    uint64_t ne[4] = {1, 1, 1, 1};  // ne[0] is the contiguous (row) dimension
    uint64_t offset = 0;            // relative to the data section
    uint64_t n_elements = 0;
    uint64_t n_bytes = 0;
    const uint8_t* data = nullptr;  // into the mapping
};

class File {
public:
    // Maps and parses a file; throws GgufError.
    static std::unique_ptr<File> open(const std::string& path);
    // Parses a buffer the caller keeps alive; throws GgufError.
    static std::unique_ptr<File> from_memory(const uint8_t* data, size_t size);
    ~File();
    File(const File&) = delete;
    File& operator=(const File&) = delete;

    uint32_t version() const { return version_; }
    uint64_t alignment() const { return alignment_; }
    uint64_t data_offset() const { return data_offset_; }
    size_t file_size() const { return size_; }
    const uint8_t* bytes() const { return base_; }

    const std::vector<KeyValue>& metadata() const { return kv_; }
    const std::vector<TensorInfo>& tensors() const { return tensors_; }

    const Value* find(std::string_view key) const;
    const TensorInfo* find_tensor(std::string_view name) const;

    // Typed getters: the required form throws MissingKey / WrongKeyType.
    std::string_view get_string(std::string_view key) const;
    uint64_t get_uint(std::string_view key) const;
    double get_float(std::string_view key) const;
    std::optional<std::string_view> try_string(std::string_view key) const;
    std::optional<uint64_t> try_uint(std::string_view key) const;
    std::optional<double> try_float(std::string_view key) const;
    std::optional<bool> try_bool(std::string_view key) const;
    // An unsigned value the model keeps in 32 bits (a dimension, a count):
    // one above 2^32 - 1 throws WrongKeyType naming the key, where a cast
    // would wrap it to a small, plausible number.
    uint32_t get_u32(std::string_view key) const;
    std::optional<uint32_t> try_u32(std::string_view key) const;
    // An array value of the given key, or throws MissingKey / WrongKeyType.
    const Value& get_array(std::string_view key) const;
    const TensorInfo& get_tensor(std::string_view name) const;  // throws MissingKey

private:
    File() = default;
    void parse();

    const uint8_t* base_ = nullptr;
    size_t size_ = 0;
    void* mapping_ = nullptr;  // non-null when we own an mmap
    uint32_t version_ = 0;
    uint64_t alignment_ = 32;
    uint64_t data_offset_ = 0;
    std::vector<KeyValue> kv_;
    std::vector<TensorInfo> tensors_;
};

// FP16 <-> FP32 conversion (IEEE binary16), used by the CPU backend, the
// synthesizer and tests.
float fp16_to_fp32(uint16_t h);
uint16_t fp32_to_fp16(float f);

}  // namespace orcd::gguf
