// GGUF parsing and validation. Every read goes through Cursor, which checks
// the remaining length first, so a malformed file can only end in GgufError.
#include "common/fault_injection.h"
#include "gguf/gguf.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <unordered_set>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace orcd::gguf {

namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" little-endian
constexpr uint32_t kMaxDims = 4;
constexpr int kMaxArrayDepth = 8;

[[noreturn]] void error(ErrorKind k, const std::string& msg) {
    throw GgufError(k, std::string(error_kind_name(k)) + ": " + msg);
}

// Smallest encoded size of one value of a type: lets us reject counts the
// rest of the file could not possibly hold before allocating anything.
uint64_t min_encoded_size(ValueType t) {
    switch (t) {
        case ValueType::UINT8: case ValueType::INT8: case ValueType::BOOL: return 1;
        case ValueType::UINT16: case ValueType::INT16: return 2;
        case ValueType::UINT32: case ValueType::INT32: case ValueType::FLOAT32: return 4;
        case ValueType::UINT64: case ValueType::INT64: case ValueType::FLOAT64: return 8;
        case ValueType::STRING: return 8;
        case ValueType::ARRAY: return 12;
    }
    return 1;
}

bool valid_value_type(uint32_t t) { return t <= uint32_t(ValueType::FLOAT64); }

class Cursor {
public:
    Cursor(const uint8_t* base, size_t size, size_t pos) : base_(base), size_(size), pos_(pos) {}

    size_t pos() const { return pos_; }
    uint64_t remaining() const { return size_ - pos_; }

    template <typename T>
    T read(const char* what) {
        need(sizeof(T), what);
        T v;
        std::memcpy(&v, base_ + pos_, sizeof(T));
        pos_ += sizeof(T);
        return v;
    }

    std::string_view read_string(const char* what) {
        const uint64_t len = read<uint64_t>(what);
        if (len > remaining())
            error(len > size_ ? ErrorKind::CountTooLarge : ErrorKind::Truncated,
                  std::string(what) + ": string length " + std::to_string(len) + " exceeds the " +
                      std::to_string(remaining()) + " bytes left in the file");
        std::string_view s(reinterpret_cast<const char*>(base_ + pos_), size_t(len));
        pos_ += size_t(len);
        return s;
    }

    // Rejects `count` items of at least `min_size` bytes each that cannot fit.
    void check_count(uint64_t count, uint64_t min_size, const std::string& what) {
        if (min_size != 0 && count > remaining() / min_size)
            error(ErrorKind::CountTooLarge, what + " count " + std::to_string(count) +
                                                " cannot fit in the " + std::to_string(remaining()) +
                                                " bytes left in the file");
    }

private:
    void need(size_t n, const char* what) {
        if (n > remaining())
            error(ErrorKind::Truncated, std::string("file ends inside ") + what + " at offset " +
                                            std::to_string(pos_));
    }

    const uint8_t* base_;
    size_t size_;
    size_t pos_;
};

Value read_value(Cursor& c, ValueType type, const std::string& key, int depth) {
    Value v;
    v.type = type;
    switch (type) {
        case ValueType::UINT8: v.u = c.read<uint8_t>("metadata value"); break;
        case ValueType::INT8: v.i = c.read<int8_t>("metadata value"); break;
        case ValueType::UINT16: v.u = c.read<uint16_t>("metadata value"); break;
        case ValueType::INT16: v.i = c.read<int16_t>("metadata value"); break;
        case ValueType::UINT32: v.u = c.read<uint32_t>("metadata value"); break;
        case ValueType::INT32: v.i = c.read<int32_t>("metadata value"); break;
        case ValueType::UINT64: v.u = c.read<uint64_t>("metadata value"); break;
        case ValueType::INT64: v.i = c.read<int64_t>("metadata value"); break;
        case ValueType::FLOAT32: v.f = c.read<float>("metadata value"); break;
        case ValueType::FLOAT64: v.f = c.read<double>("metadata value"); break;
        case ValueType::BOOL: {
            const uint8_t b = c.read<uint8_t>("metadata value");
            if (b > 1) error(ErrorKind::BadValueType, "key '" + key + "': bool value " + std::to_string(b));
            v.u = b;
            break;
        }
        case ValueType::STRING: v.str = c.read_string("metadata string"); break;
        case ValueType::ARRAY: {
            if (depth >= kMaxArrayDepth)
                error(ErrorKind::BadValueType, "key '" + key + "': arrays nested deeper than " +
                                                   std::to_string(kMaxArrayDepth));
            const uint32_t et = c.read<uint32_t>("array element type");
            if (!valid_value_type(et))
                error(ErrorKind::BadValueType, "key '" + key + "': unknown array element type " + std::to_string(et));
            v.elem_type = ValueType(et);
            const uint64_t n = c.read<uint64_t>("array length");
            c.check_count(n, min_encoded_size(v.elem_type), "key '" + key + "': array");
            v.arr.reserve(size_t(n));
            for (uint64_t k = 0; k < n; ++k) v.arr.push_back(read_value(c, v.elem_type, key, depth + 1));
            break;
        }
    }
    return v;
}

bool mul_overflows(uint64_t a, uint64_t b, uint64_t* out) { return __builtin_mul_overflow(a, b, out); }

}  // namespace

const char* value_type_name(ValueType t) {
    switch (t) {
        case ValueType::UINT8: return "uint8";
        case ValueType::INT8: return "int8";
        case ValueType::UINT16: return "uint16";
        case ValueType::INT16: return "int16";
        case ValueType::UINT32: return "uint32";
        case ValueType::INT32: return "int32";
        case ValueType::FLOAT32: return "float32";
        case ValueType::BOOL: return "bool";
        case ValueType::STRING: return "string";
        case ValueType::ARRAY: return "array";
        case ValueType::UINT64: return "uint64";
        case ValueType::INT64: return "int64";
        case ValueType::FLOAT64: return "float64";
    }
    return "?";
}

const char* tensor_type_name(TensorType t) {
    switch (t) {
        case TensorType::F32: return "F32";
        case TensorType::F16: return "F16";
        case TensorType::Q4_0: return "Q4_0";
        case TensorType::Q4_1: return "Q4_1";
        case TensorType::Q5_0: return "Q5_0";
        case TensorType::Q5_1: return "Q5_1";
        case TensorType::Q8_0: return "Q8_0";
        case TensorType::Q8_1: return "Q8_1";
        case TensorType::Q2_K: return "Q2_K";
        case TensorType::Q3_K: return "Q3_K";
        case TensorType::Q4_K: return "Q4_K";
        case TensorType::Q5_K: return "Q5_K";
        case TensorType::Q6_K: return "Q6_K";
        case TensorType::Q8_K: return "Q8_K";
        case TensorType::I8: return "I8";
        case TensorType::I16: return "I16";
        case TensorType::I32: return "I32";
        case TensorType::I64: return "I64";
        case TensorType::F64: return "F64";
        case TensorType::BF16: return "BF16";
        case TensorType::IQ2_XXS: return "IQ2_XXS";
        case TensorType::IQ2_XS: return "IQ2_XS";
        case TensorType::IQ3_XXS: return "IQ3_XXS";
        case TensorType::IQ1_S: return "IQ1_S";
        case TensorType::IQ4_NL: return "IQ4_NL";
        case TensorType::IQ3_S: return "IQ3_S";
        case TensorType::IQ2_S: return "IQ2_S";
        case TensorType::IQ4_XS: return "IQ4_XS";
        case TensorType::IQ1_M: return "IQ1_M";
        case TensorType::TQ1_0: return "TQ1_0";
        case TensorType::TQ2_0: return "TQ2_0";
        case TensorType::MXFP4: return "MXFP4";
    }
    return "?";
}

bool tensor_type_layout(uint32_t type, uint64_t* block_elems, uint64_t* block_bytes) {
    uint64_t be = 1, bb = 0;
    switch (TensorType(type)) {
        case TensorType::F32: bb = 4; break;
        case TensorType::F16: bb = 2; break;
        case TensorType::BF16: bb = 2; break;
        case TensorType::F64: bb = 8; break;
        case TensorType::I8: bb = 1; break;
        case TensorType::I16: bb = 2; break;
        case TensorType::I32: bb = 4; break;
        case TensorType::I64: bb = 8; break;
        case TensorType::Q4_0: be = 32; bb = 18; break;
        case TensorType::Q4_1: be = 32; bb = 20; break;
        case TensorType::Q5_0: be = 32; bb = 22; break;
        case TensorType::Q5_1: be = 32; bb = 24; break;
        case TensorType::Q8_0: be = 32; bb = 34; break;
        case TensorType::Q8_1: be = 32; bb = 36; break;
        case TensorType::Q2_K: be = 256; bb = 84; break;
        case TensorType::Q3_K: be = 256; bb = 110; break;
        case TensorType::Q4_K: be = 256; bb = 144; break;
        case TensorType::Q5_K: be = 256; bb = 176; break;
        case TensorType::Q6_K: be = 256; bb = 210; break;
        case TensorType::Q8_K: be = 256; bb = 292; break;
        case TensorType::IQ2_XXS: be = 256; bb = 66; break;
        case TensorType::IQ2_XS: be = 256; bb = 74; break;
        case TensorType::IQ3_XXS: be = 256; bb = 98; break;
        case TensorType::IQ1_S: be = 256; bb = 50; break;
        case TensorType::IQ4_NL: be = 32; bb = 18; break;
        case TensorType::IQ3_S: be = 256; bb = 110; break;
        case TensorType::IQ2_S: be = 256; bb = 82; break;
        case TensorType::IQ4_XS: be = 256; bb = 136; break;
        case TensorType::IQ1_M: be = 256; bb = 56; break;
        case TensorType::TQ1_0: be = 256; bb = 54; break;
        case TensorType::TQ2_0: be = 256; bb = 66; break;
        case TensorType::MXFP4: be = 32; bb = 17; break;
        default: return false;
    }
    *block_elems = be;
    *block_bytes = bb;
    return true;
}

const char* error_kind_name(ErrorKind k) {
    switch (k) {
        case ErrorKind::Io: return "io error";
        case ErrorKind::BadMagic: return "bad magic";
        case ErrorKind::UnsupportedVersion: return "unsupported version";
        case ErrorKind::Truncated: return "truncated";
        case ErrorKind::CountTooLarge: return "count too large";
        case ErrorKind::BadValueType: return "bad value type";
        case ErrorKind::BadTensor: return "bad tensor";
        case ErrorKind::UnknownTensorType: return "unknown tensor type";
        case ErrorKind::DimensionOverflow: return "dimension overflow";
        case ErrorKind::TensorOutOfBounds: return "tensor out of bounds";
        case ErrorKind::TensorOverlap: return "tensor overlap";
        case ErrorKind::MissingKey: return "missing key";
        case ErrorKind::WrongKeyType: return "wrong key type";
        case ErrorKind::DuplicateKey: return "duplicate key";
    }
    return "?";
}

bool Value::is_integer() const {
    switch (type) {
        case ValueType::UINT8: case ValueType::INT8: case ValueType::UINT16: case ValueType::INT16:
        case ValueType::UINT32: case ValueType::INT32: case ValueType::UINT64: case ValueType::INT64:
        case ValueType::BOOL:
            return true;
        default:
            return false;
    }
}

int64_t Value::as_int(std::string_view key) const {
    switch (type) {
        case ValueType::UINT8: case ValueType::UINT16: case ValueType::UINT32: case ValueType::UINT64:
        case ValueType::BOOL:
            return int64_t(u);
        case ValueType::INT8: case ValueType::INT16: case ValueType::INT32: case ValueType::INT64:
            return i;
        default:
            error(ErrorKind::WrongKeyType, "key '" + std::string(key) + "' is " + value_type_name(type) +
                                               ", expected an integer");
    }
}

double Value::as_float(std::string_view key) const {
    if (type == ValueType::FLOAT32 || type == ValueType::FLOAT64) return f;
    if (is_integer()) return double(as_int(key));
    error(ErrorKind::WrongKeyType, "key '" + std::string(key) + "' is " + value_type_name(type) +
                                       ", expected a number");
}

std::unique_ptr<File> File::open(const std::string& path) {
    if (fault::should_fail(fault::Point::FileRead))
        error(ErrorKind::Io, "cannot read '" + path + "': injected read failure");
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) error(ErrorKind::Io, "cannot open '" + path + "': " + std::strerror(errno));
    struct stat st {};
    if (fstat(fd, &st) != 0) {
        const int e = errno;
        ::close(fd);
        error(ErrorKind::Io, "cannot stat '" + path + "': " + std::strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {  // errno says nothing here: it may be stale
        ::close(fd);
        error(ErrorKind::Io, "'" + path + "' is not a regular file");
    }
    const size_t size = size_t(st.st_size);
    if (size == 0) {
        ::close(fd);
        error(ErrorKind::Truncated, "'" + path + "' is empty");
    }
    void* map = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    const int map_errno = errno;
    ::close(fd);
    if (map == MAP_FAILED) error(ErrorKind::Io, "cannot map '" + path + "': " + std::strerror(map_errno));
    std::unique_ptr<File> f(new File());
    f->mapping_ = map;
    f->base_ = static_cast<const uint8_t*>(map);
    f->size_ = size;
    f->parse();
    return f;
}

std::unique_ptr<File> File::from_memory(const uint8_t* data, size_t size) {
    std::unique_ptr<File> f(new File());
    f->base_ = data;
    f->size_ = size;
    f->parse();
    return f;
}

File::~File() {
    if (mapping_) munmap(mapping_, size_);
}

void File::parse() {
    Cursor c(base_, size_, 0);
    const uint32_t magic = c.read<uint32_t>("the magic number");
    if (magic != kMagic) error(ErrorKind::BadMagic, "not a GGUF file (magic 0x" + [&] {
        char buf[16];
        std::snprintf(buf, sizeof buf, "%08x", magic);
        return std::string(buf);
    }() + ", expected 0x46554747 \"GGUF\")");
    version_ = c.read<uint32_t>("the version");
    if (version_ != 2 && version_ != 3)
        error(ErrorKind::UnsupportedVersion, "GGUF version " + std::to_string(version_) + " (supported: 2, 3)");
    const uint64_t n_tensors = c.read<uint64_t>("the tensor count");
    const uint64_t n_kv = c.read<uint64_t>("the metadata count");
    // A key-value pair takes at least 8 (key length) + 4 (type) + 1 bytes; a
    // tensor info at least 8 + 4 + 8 + 4 + 8.
    c.check_count(n_kv, 13, "metadata");
    c.check_count(n_tensors, 32, "tensor");

    kv_.reserve(size_t(n_kv));
    // A key given twice would be read as its first value by one reader and
    // its last by another: refused, as duplicate tensor names are.
    std::unordered_set<std::string_view> keys;
    for (uint64_t k = 0; k < n_kv; ++k) {
        KeyValue kv;
        kv.key = c.read_string("a metadata key");
        if (!keys.insert(kv.key).second) error(ErrorKind::DuplicateKey, "duplicate metadata key '" + std::string(kv.key) + "'");
        const uint32_t t = c.read<uint32_t>("a metadata value type");
        if (!valid_value_type(t))
            error(ErrorKind::BadValueType, "key '" + std::string(kv.key) + "': unknown value type " + std::to_string(t));
        kv.value = read_value(c, ValueType(t), std::string(kv.key), 0);
        kv_.push_back(std::move(kv));
    }

    if (const Value* a = find("general.alignment")) {
        if (a->type != ValueType::UINT32)
            error(ErrorKind::WrongKeyType, std::string("general.alignment is ") + value_type_name(a->type) + ", expected uint32");
        if (a->u == 0 || (a->u & (a->u - 1)) != 0)
            error(ErrorKind::BadTensor, "general.alignment " + std::to_string(a->u) + " is not a power of two");
        alignment_ = a->u;
    }

    tensors_.reserve(size_t(n_tensors));
    std::unordered_set<std::string_view> names;
    for (uint64_t k = 0; k < n_tensors; ++k) {
        TensorInfo t;
        t.name = c.read_string("a tensor name");
        const std::string name(t.name);
        if (!names.insert(t.name).second) error(ErrorKind::BadTensor, "duplicate tensor name '" + name + "'");
        t.n_dims = c.read<uint32_t>("tensor dimensions");
        if (t.n_dims == 0 || t.n_dims > kMaxDims)
            error(ErrorKind::BadTensor, "tensor '" + name + "' has " + std::to_string(t.n_dims) + " dimensions (1..4 allowed)");
        uint64_t n_el = 1;
        for (uint32_t d = 0; d < t.n_dims; ++d) {
            t.ne[d] = c.read<uint64_t>("tensor dimensions");
            if (t.ne[d] == 0) error(ErrorKind::BadTensor, "tensor '" + name + "' has a zero dimension");
            if (mul_overflows(n_el, t.ne[d], &n_el) || n_el > (uint64_t(1) << 62))
                error(ErrorKind::DimensionOverflow, "tensor '" + name + "': the product of its dimensions overflows");
        }
        const uint32_t type = c.read<uint32_t>("a tensor type");
        uint64_t be = 0, bb = 0;
        if (!tensor_type_layout(type, &be, &bb))
            error(ErrorKind::UnknownTensorType, "tensor '" + name + "' has unknown type " + std::to_string(type));
        t.type = TensorType(type);
        if (t.ne[0] % be != 0)
            error(ErrorKind::BadTensor, "tensor '" + name + "': row length " + std::to_string(t.ne[0]) +
                                            " is not a multiple of the " + tensor_type_name(t.type) + " block size " + std::to_string(be));
        t.n_elements = n_el;
        if (mul_overflows(n_el / be, bb, &t.n_bytes))
            error(ErrorKind::DimensionOverflow, "tensor '" + name + "': byte size overflows");
        t.offset = c.read<uint64_t>("a tensor offset");
        if (t.offset % alignment_ != 0)
            error(ErrorKind::BadTensor, "tensor '" + name + "': offset " + std::to_string(t.offset) +
                                            " is not a multiple of the alignment " + std::to_string(alignment_));
        tensors_.push_back(t);
    }

    // The data section starts at the next multiple of the alignment.
    const uint64_t end_of_infos = c.pos();
    data_offset_ = (end_of_infos + alignment_ - 1) / alignment_ * alignment_;
    if (!tensors_.empty() && data_offset_ > size_)
        error(ErrorKind::Truncated, "file ends before its tensor data section (offset " + std::to_string(data_offset_) + ")");

    for (TensorInfo& t : tensors_) {
        const uint64_t avail = size_ - data_offset_;
        if (t.offset > avail || t.n_bytes > avail - t.offset)
            error(ErrorKind::TensorOutOfBounds, "tensor '" + std::string(t.name) + "' data [" + std::to_string(t.offset) + ", +" +
                                                    std::to_string(t.n_bytes) + ") runs past the end of the file (" +
                                                    std::to_string(avail) + " data bytes)");
        t.data = base_ + data_offset_ + t.offset;
    }
    std::vector<const TensorInfo*> by_offset;
    by_offset.reserve(tensors_.size());
    for (const TensorInfo& t : tensors_) by_offset.push_back(&t);
    std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
    for (size_t k = 1; k < by_offset.size(); ++k) {
        const TensorInfo* prev = by_offset[k - 1];
        if (prev->offset + prev->n_bytes > by_offset[k]->offset)
            error(ErrorKind::TensorOverlap, "tensors '" + std::string(prev->name) + "' and '" +
                                                std::string(by_offset[k]->name) + "' overlap");
    }
}

const Value* File::find(std::string_view key) const {
    for (const KeyValue& kv : kv_)
        if (kv.key == key) return &kv.value;
    return nullptr;
}

const TensorInfo* File::find_tensor(std::string_view name) const {
    for (const TensorInfo& t : tensors_)
        if (t.name == name) return &t;
    return nullptr;
}

static const Value& require(const File& f, std::string_view key) {
    const Value* v = f.find(key);
    if (!v) error(ErrorKind::MissingKey, "required key '" + std::string(key) + "' is missing");
    return *v;
}

std::string_view File::get_string(std::string_view key) const {
    const Value& v = require(*this, key);
    if (v.type != ValueType::STRING)
        error(ErrorKind::WrongKeyType, "key '" + std::string(key) + "' is " + value_type_name(v.type) + ", expected string");
    return v.str;
}

uint64_t File::get_uint(std::string_view key) const {
    const Value& v = require(*this, key);
    if (v.type == ValueType::UINT8 || v.type == ValueType::UINT16 || v.type == ValueType::UINT32 ||
        v.type == ValueType::UINT64)
        return v.u;  // the full unsigned range, including >= 2^63
    const int64_t x = v.as_int(key);
    if (x < 0) error(ErrorKind::WrongKeyType, "key '" + std::string(key) + "' is negative");
    return uint64_t(x);
}

double File::get_float(std::string_view key) const { return require(*this, key).as_float(key); }

std::optional<std::string_view> File::try_string(std::string_view key) const {
    if (!find(key)) return std::nullopt;
    return get_string(key);
}

std::optional<uint64_t> File::try_uint(std::string_view key) const {
    if (!find(key)) return std::nullopt;
    return get_uint(key);
}

std::optional<double> File::try_float(std::string_view key) const {
    if (!find(key)) return std::nullopt;
    return get_float(key);
}

uint32_t File::get_u32(std::string_view key) const {
    const uint64_t v = get_uint(key);
    if (v > UINT32_MAX)
        error(ErrorKind::WrongKeyType, "key '" + std::string(key) + "' is " + std::to_string(v) + ", above 2^32 - 1");
    return uint32_t(v);
}

std::optional<uint32_t> File::try_u32(std::string_view key) const {
    if (!find(key)) return std::nullopt;
    return get_u32(key);
}

std::optional<bool> File::try_bool(std::string_view key) const {
    const Value* v = find(key);
    if (!v) return std::nullopt;
    if (v->type != ValueType::BOOL)
        error(ErrorKind::WrongKeyType, "key '" + std::string(key) + "' is " + value_type_name(v->type) + ", expected bool");
    return v->u != 0;
}

const Value& File::get_array(std::string_view key) const {
    const Value& v = require(*this, key);
    if (v.type != ValueType::ARRAY)
        error(ErrorKind::WrongKeyType, "key '" + std::string(key) + "' is " + value_type_name(v.type) + ", expected array");
    return v;
}

const TensorInfo& File::get_tensor(std::string_view name) const {
    const TensorInfo* t = find_tensor(name);
    if (!t) error(ErrorKind::MissingKey, "required tensor '" + std::string(name) + "' is missing");
    return *t;
}

}  // namespace orcd::gguf
