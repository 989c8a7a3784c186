#include "gguf/gguf_writer.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>

#include <fcntl.h>
#include <unistd.h>

namespace orcd::gguf {

static_assert(std::endian::native == std::endian::little,
              "GGUF files are written little-endian straight from memory");

namespace {

constexpr uint32_t kMaxDims = 4;

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

bool is_unsigned(ValueType t) {
    return t == ValueType::UINT8 || t == ValueType::UINT16 || t == ValueType::UINT32 ||
           t == ValueType::UINT64;
}
bool is_signed(ValueType t) {
    return t == ValueType::INT8 || t == ValueType::INT16 || t == ValueType::INT32 ||
           t == ValueType::INT64;
}

template <typename T>
void put_raw(std::string& out, T v) {
    out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

[[noreturn]] void io_fail(const std::string& what, const std::string& path) {
    throw GgufError(ErrorKind::Io, what + " " + path + ": " + std::strerror(errno));
}

}  // namespace

// ---- values -----------------------------------------------------------------

Value make_uint(ValueType type, uint64_t v) {
    if (!is_unsigned(type)) throw std::invalid_argument("make_uint: not an unsigned type");
    Value out;
    out.type = type;
    out.u = v;
    return out;
}

Value make_int(ValueType type, int64_t v) {
    if (!is_signed(type)) throw std::invalid_argument("make_int: not a signed type");
    Value out;
    out.type = type;
    out.i = v;
    return out;
}

Value make_float(ValueType type, double v) {
    if (type != ValueType::FLOAT32 && type != ValueType::FLOAT64)
        throw std::invalid_argument("make_float: not a float type");
    Value out;
    out.type = type;
    out.f = v;
    return out;
}

Value make_bool(bool v) {
    Value out;
    out.type = ValueType::BOOL;
    out.u = v ? 1 : 0;
    return out;
}

Value make_string(std::string_view s) {
    Value out;
    out.type = ValueType::STRING;
    out.str = s;
    return out;
}

Value make_array(ValueType elem, std::vector<Value> items) {
    Value out;
    out.type = ValueType::ARRAY;
    out.elem_type = elem;
    out.arr = std::move(items);
    return out;
}

void put_u32(std::string& out, uint32_t v) { put_raw(out, v); }
void put_u64(std::string& out, uint64_t v) { put_raw(out, v); }

void put_string(std::string& out, std::string_view s) {
    put_u64(out, s.size());
    out.append(s);
}

void put_value(std::string& out, const Value& v) {
    switch (v.type) {
    case ValueType::UINT8: put_raw(out, uint8_t(v.u)); break;
    case ValueType::INT8: put_raw(out, int8_t(v.i)); break;
    case ValueType::UINT16: put_raw(out, uint16_t(v.u)); break;
    case ValueType::INT16: put_raw(out, int16_t(v.i)); break;
    case ValueType::UINT32: put_raw(out, uint32_t(v.u)); break;
    case ValueType::INT32: put_raw(out, int32_t(v.i)); break;
    case ValueType::FLOAT32: put_raw(out, float(v.f)); break;
    case ValueType::BOOL: put_raw(out, uint8_t(v.u ? 1 : 0)); break;
    case ValueType::STRING: put_string(out, v.str); break;
    case ValueType::UINT64: put_raw(out, uint64_t(v.u)); break;
    case ValueType::INT64: put_raw(out, int64_t(v.i)); break;
    case ValueType::FLOAT64: put_raw(out, double(v.f)); break;
    case ValueType::ARRAY:
        put_u32(out, uint32_t(v.elem_type));
        put_u64(out, v.arr.size());
        for (const Value& e : v.arr) {
            if (e.type != v.elem_type)
                throw std::invalid_argument("array element of type " +
                                            std::string(value_type_name(e.type)) +
                                            " in an array of " + value_type_name(v.elem_type));
            put_value(out, e);
        }
        break;
    default:
        throw std::invalid_argument("unknown value type " + std::to_string(uint32_t(v.type)));
    }
}

// ---- output sink ------------------------------------------------------------

// Buffers small writes (the header, padding) and passes large ones straight to
// the kernel, so streaming tensor data costs one copy at most.
class Writer::Sink {
public:
    explicit Sink(std::vector<uint8_t>* memory) : memory_(memory) {}
    explicit Sink(const std::string& path) : path_(path), partial_(path + ".partial") {
        fd_ = ::open(partial_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd_ < 0) io_fail("cannot create", partial_);
        buf_.reserve(kBuf);
    }
    ~Sink() {
        if (fd_ >= 0) {
            ::close(fd_);
            ::unlink(partial_.c_str());  // never finished: leave nothing behind
        }
    }

    void write(const void* data, size_t n) {
        if (memory_) {
            const auto* p = static_cast<const uint8_t*>(data);
            memory_->insert(memory_->end(), p, p + n);
            return;
        }
        if (buf_.size() + n <= kBuf) {
            const auto* p = static_cast<const uint8_t*>(data);
            buf_.insert(buf_.end(), p, p + n);
            return;
        }
        flush();
        if (n < kBuf) {
            write(data, n);
        } else {
            write_fd(data, n);
        }
    }

    void close() {
        if (memory_) return;
        flush();
        if (::close(fd_) != 0) {
            fd_ = -1;
            io_fail("cannot close", partial_);
        }
        fd_ = -1;
        if (::rename(partial_.c_str(), path_.c_str()) != 0) io_fail("cannot rename to", path_);
    }

private:
    static constexpr size_t kBuf = size_t(1) << 20;

    void flush() {
        if (!buf_.empty()) write_fd(buf_.data(), buf_.size());
        buf_.clear();
    }
    void write_fd(const void* data, size_t n) {
        const auto* p = static_cast<const uint8_t*>(data);
        while (n > 0) {
            const ssize_t w = ::write(fd_, p, std::min<size_t>(n, size_t(1) << 30));
            if (w < 0) {
                if (errno == EINTR) continue;
                io_fail("cannot write", partial_);
            }
            p += w;
            n -= size_t(w);
        }
    }

    std::vector<uint8_t>* memory_ = nullptr;
    std::string path_, partial_;
    int fd_ = -1;
    std::vector<uint8_t> buf_;
};

// ---- writer -----------------------------------------------------------------

Writer::Writer(uint32_t version) : version_(version) {
    if (version != 2 && version != 3)
        throw std::invalid_argument("GGUF writer: version must be 2 or 3");
}

Writer::~Writer() = default;

void Writer::set(std::string_view key, const Value& v) {
    if (sink_) throw std::logic_error("GGUF writer: metadata changed after begin");
    std::string bytes;
    put_u32(bytes, uint32_t(v.type));
    put_value(bytes, v);
    for (Kv& kv : kv_) {
        if (kv.key == key) {
            kv.bytes = std::move(bytes);
            return;
        }
    }
    kv_.push_back(Kv{std::string(key), std::move(bytes)});
}

void Writer::set_uint32(std::string_view key, uint32_t v) { set(key, make_uint(ValueType::UINT32, v)); }
void Writer::set_int32(std::string_view key, int32_t v) { set(key, make_int(ValueType::INT32, v)); }
void Writer::set_uint64(std::string_view key, uint64_t v) { set(key, make_uint(ValueType::UINT64, v)); }
void Writer::set_float32(std::string_view key, float v) { set(key, make_float(ValueType::FLOAT32, v)); }
void Writer::set_bool(std::string_view key, bool v) { set(key, make_bool(v)); }
void Writer::set_string(std::string_view key, std::string_view v) { set(key, make_string(v)); }

void Writer::set_string_array(std::string_view key, const std::vector<std::string>& v) {
    std::vector<Value> items;
    items.reserve(v.size());
    for (const std::string& s : v) items.push_back(make_string(s));
    set(key, make_array(ValueType::STRING, std::move(items)));
}

void Writer::set_float32_array(std::string_view key, const std::vector<float>& v) {
    std::vector<Value> items;
    items.reserve(v.size());
    for (float f : v) items.push_back(make_float(ValueType::FLOAT32, f));
    set(key, make_array(ValueType::FLOAT32, std::move(items)));
}

void Writer::set_int32_array(std::string_view key, const std::vector<int32_t>& v) {
    std::vector<Value> items;
    items.reserve(v.size());
    for (int32_t x : v) items.push_back(make_int(ValueType::INT32, x));
    set(key, make_array(ValueType::INT32, std::move(items)));
}

bool Writer::has(std::string_view key) const {
    return std::any_of(kv_.begin(), kv_.end(), [&](const Kv& kv) { return kv.key == key; });
}

void Writer::remove(std::string_view key) {
    std::erase_if(kv_, [&](const Kv& kv) { return kv.key == key; });
}

size_t Writer::copy_metadata(const File& src, std::string_view prefix) {
    size_t n = 0;
    for (const KeyValue& kv : src.metadata()) {
        if (kv.key.substr(0, prefix.size()) != prefix) continue;
        set(kv.key, kv.value);
        ++n;
    }
    return n;
}

void Writer::set_alignment(uint64_t alignment) {
    if (!tensors_.empty()) throw std::logic_error("GGUF writer: alignment set after tensors");
    if (alignment == 0 || (alignment & (alignment - 1)) != 0 || alignment > UINT32_MAX)
        throw std::invalid_argument("GGUF writer: alignment must be a power of two");
    alignment_ = alignment;
    if (alignment == kDefaultAlignment) {
        remove("general.alignment");
    } else {
        set_uint32("general.alignment", uint32_t(alignment));
    }
}

size_t Writer::add_tensor(std::string_view name, TensorType type, const std::vector<uint64_t>& dims) {
    if (sink_) throw std::logic_error("GGUF writer: tensor added after begin");
    const std::string who = "tensor '" + std::string(name) + "': ";
    if (dims.empty() || dims.size() > kMaxDims)
        throw std::invalid_argument(who + "needs 1 to 4 dimensions");
    for (const Tensor& t : tensors_)
        if (t.name == name) throw std::invalid_argument(who + "duplicate name");
    uint64_t block_elems = 0, block_bytes = 0;
    if (!tensor_type_layout(uint32_t(type), &block_elems, &block_bytes))
        throw std::invalid_argument(who + "unknown type");
    uint64_t n = 1;
    for (uint64_t d : dims) {
        if (d == 0) throw std::invalid_argument(who + "zero dimension");
        if (n > UINT64_MAX / d) throw std::invalid_argument(who + "element count overflows");
        n *= d;
    }
    if (dims[0] % block_elems != 0)
        throw std::invalid_argument(who + "row length is not a multiple of the block size");
    const uint64_t bytes = n / block_elems * block_bytes;
    tensors_.push_back(Tensor{std::string(name), type, dims, bytes, data_bytes_});
    data_bytes_ += align_up(bytes, alignment_);
    return tensors_.size() - 1;
}

uint64_t Writer::tensor_bytes(size_t i) const { return tensors_.at(i).bytes; }
uint64_t Writer::tensor_offset(size_t i) const { return tensors_.at(i).offset; }

std::string Writer::header() const {
    std::string h;
    h.append("GGUF", 4);
    put_u32(h, version_);
    put_u64(h, tensors_.size());
    put_u64(h, kv_.size());
    for (const Kv& kv : kv_) {
        put_string(h, kv.key);
        h.append(kv.bytes);
    }
    for (const Tensor& t : tensors_) {
        put_string(h, t.name);
        put_u32(h, uint32_t(t.dims.size()));
        for (uint64_t d : t.dims) put_u64(h, d);
        put_u32(h, uint32_t(t.type));
        put_u64(h, t.offset);
    }
    return h;
}

uint64_t Writer::data_offset() const { return align_up(header().size(), alignment_); }
uint64_t Writer::total_size() const { return data_offset() + data_bytes_; }

void Writer::emit(const void* data, size_t n) { sink_->write(data, n); }

void Writer::emit_zeros(uint64_t n) {
    static const uint8_t zeros[256] = {};
    while (n > 0) {
        const size_t k = size_t(std::min<uint64_t>(n, sizeof zeros));
        emit(zeros, k);
        n -= k;
    }
}

void Writer::begin_file(const std::string& path) {
    if (sink_) throw std::logic_error("GGUF writer: already begun");
    sink_ = std::make_unique<Sink>(path);
    const std::string h = header();
    emit(h.data(), h.size());
    emit_zeros(align_up(h.size(), alignment_) - h.size());
    cur_tensor_ = 0;
    cur_written_ = 0;
}

void Writer::begin_memory() {
    if (sink_) throw std::logic_error("GGUF writer: already begun");
    memory_.clear();
    const std::string h = header();
    memory_.reserve(size_t(align_up(h.size(), alignment_) + data_bytes_));
    sink_ = std::make_unique<Sink>(&memory_);
    emit(h.data(), h.size());
    emit_zeros(align_up(h.size(), alignment_) - h.size());
    cur_tensor_ = 0;
    cur_written_ = 0;
}

void Writer::write_data(const void* data, size_t n) {
    if (!sink_) throw std::logic_error("GGUF writer: write_data before begin");
    const auto* p = static_cast<const uint8_t*>(data);
    while (n > 0) {
        if (cur_tensor_ >= tensors_.size())
            throw std::logic_error("GGUF writer: more tensor data than the tensors hold");
        const Tensor& t = tensors_[cur_tensor_];
        const size_t k = size_t(std::min<uint64_t>(n, t.bytes - cur_written_));
        emit(p, k);
        p += k;
        n -= k;
        cur_written_ += k;
        if (cur_written_ == t.bytes) {
            emit_zeros(align_up(t.bytes, alignment_) - t.bytes);
            ++cur_tensor_;
            cur_written_ = 0;
        }
    }
}

void Writer::finish() {
    if (!sink_) throw std::logic_error("GGUF writer: finish before begin");
    if (cur_tensor_ != tensors_.size())
        throw std::logic_error("GGUF writer: tensor '" + tensors_[cur_tensor_].name +
                               "' not written in full");
    sink_->close();
    sink_.reset();
}

std::vector<uint8_t> Writer::take_memory() { return std::move(memory_); }

std::vector<uint8_t> Writer::to_memory(const std::function<void(size_t, uint8_t*, uint64_t)>& fill) {
    begin_memory();
    std::vector<uint8_t> buf;
    for (size_t i = 0; i < tensors_.size(); ++i) {
        buf.assign(size_t(tensors_[i].bytes), 0);
        if (fill) fill(i, buf.data(), buf.size());
        write_data(buf.data(), buf.size());
    }
    finish();
    return take_memory();
}

}  // namespace orcd::gguf
