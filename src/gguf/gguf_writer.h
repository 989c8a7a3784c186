// GGUF writer: builds GGUF v3 (or v2) files for the synthesizer, the tests
// and the fuzz corpus.
//
// Metadata and tensor infos are collected first; the header is then emitted
// and tensor data is streamed in tensor order through write_data(), so a
// multi-gigabyte model never has to exist in memory. The same writer can
// target an in-memory buffer, which is what tests parse.
//
// v2 and v3 share one on-disk layout (64-bit counts and string lengths); the
// version field is the only difference, v3 merely permits big-endian files,
// which this writer never produces.
#pragma once

#include "gguf/gguf.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace orcd::gguf {

// Value builders. A Value's string_view must outlive the Writer::set() call
// that consumes it (set() serializes immediately), nothing longer.
Value make_uint(ValueType type, uint64_t v);  // UINT8..UINT64
Value make_int(ValueType type, int64_t v);    // INT8..INT64
Value make_float(ValueType type, double v);   // FLOAT32 / FLOAT64
Value make_bool(bool v);
Value make_string(std::string_view s);
// Every element must have type `elem`; elements may themselves be arrays.
Value make_array(ValueType elem, std::vector<Value> items);

// Raw little-endian serialization, shared with tests that hand-craft broken
// files.
void put_u32(std::string& out, uint32_t v);
void put_u64(std::string& out, uint64_t v);
void put_string(std::string& out, std::string_view s);
// The value's payload (no leading type tag); throws std::invalid_argument for
// an array whose elements disagree with its element type.
void put_value(std::string& out, const Value& v);

class Writer {
public:
    static constexpr uint64_t kDefaultAlignment = 32;

    explicit Writer(uint32_t version = 3);  // 2 or 3
    ~Writer();
    Writer(const Writer&) = delete;
    Writer& operator=(const Writer&) = delete;

    // ---- metadata, kept in insertion order; setting a key again replaces it
    void set(std::string_view key, const Value& v);
    void set_uint32(std::string_view key, uint32_t v);
    void set_int32(std::string_view key, int32_t v);
    void set_uint64(std::string_view key, uint64_t v);
    void set_float32(std::string_view key, float v);
    void set_bool(std::string_view key, bool v);
    void set_string(std::string_view key, std::string_view v);
    void set_string_array(std::string_view key, const std::vector<std::string>& v);
    void set_float32_array(std::string_view key, const std::vector<float>& v);
    void set_int32_array(std::string_view key, const std::vector<int32_t>& v);
    bool has(std::string_view key) const;
    void remove(std::string_view key);
    size_t n_metadata() const { return kv_.size(); }
    // Copies every key of `src` that starts with `prefix`; returns how many.
    size_t copy_metadata(const File& src, std::string_view prefix);

    // The data alignment; a value other than the default is also recorded as
    // general.alignment (u32). Must be a power of two. Setting the
    // general.alignment key directly through set() does not change the
    // layout: that is how tests produce files whose key lies.
    void set_alignment(uint64_t alignment);
    uint64_t alignment() const { return alignment_; }

    // ---- tensors, laid out in the order added; returns the tensor's index.
    // dims[0] is the contiguous dimension (ggml's ne[0]).
    size_t add_tensor(std::string_view name, TensorType type, const std::vector<uint64_t>& dims);
    size_t n_tensors() const { return tensors_.size(); }
    uint64_t tensor_bytes(size_t i) const;
    uint64_t tensor_offset(size_t i) const;  // relative to the data section
    // Header + metadata + infos + padding, and the size of the whole file.
    uint64_t data_offset() const;
    uint64_t total_size() const;

    // ---- output: begin, write every tensor's bytes in order, finish.
    // A file is written as `path + ".partial"` and renamed on finish(), so an
    // interrupted run never leaves a file that looks complete.
    void begin_file(const std::string& path);
    void begin_memory();
    // Appends to the current tensor; a call may span tensor boundaries.
    // Padding between tensors is inserted automatically.
    void write_data(const void* data, size_t n);
    // Index of the tensor the next write_data() byte belongs to.
    size_t current_tensor() const { return cur_tensor_; }
    // Checks that every tensor was written in full; closes or returns the buffer.
    void finish();
    std::vector<uint8_t> take_memory();

    // Whole file in memory; fill(i, dst, n) writes tensor i's n bytes (zeros
    // when no fill is given).
    std::vector<uint8_t> to_memory(
        const std::function<void(size_t, uint8_t*, uint64_t)>& fill = nullptr);

private:
    struct Kv {
        std::string key;
        std::string bytes;  // type tag + payload
    };
    struct Tensor {
        std::string name;
        TensorType type;
        std::vector<uint64_t> dims;
        uint64_t bytes;
        uint64_t offset;
    };
    class Sink;

    std::string header() const;
    void emit(const void* data, size_t n);
    void emit_zeros(uint64_t n);

    uint32_t version_;
    uint64_t alignment_ = kDefaultAlignment;
    std::vector<Kv> kv_;
    std::vector<Tensor> tensors_;
    uint64_t data_bytes_ = 0;  // data section size, with padding

    std::unique_ptr<Sink> sink_;
    size_t cur_tensor_ = 0;
    uint64_t cur_written_ = 0;
    std::vector<uint8_t> memory_;
};

}  // namespace orcd::gguf
