// GGUF reader and writer: every malformed-input case ends in the right
// ErrorKind with a message that says what is wrong, and everything the
// writer produces reads back exactly.
#include "common/test_paths.h"
#include "gguf/gguf.h"
#include "gguf/gguf_writer.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace g = orcd::gguf;
using g::ErrorKind;
using g::ValueType;
using Bytes = std::vector<uint8_t>;

namespace {

Bytes to_bytes(const std::string& s) { return Bytes(s.begin(), s.end()); }

// Parses `b` expecting failure of `kind` with `substr` in the message.
void expect_error(const Bytes& b, ErrorKind kind, const std::string& substr) {
    try {
        g::File::from_memory(b.data(), b.size());
        ADD_FAILURE() << "parsed without error; expected " << g::error_kind_name(kind);
    } catch (const g::GgufError& e) {
        EXPECT_EQ(e.kind(), kind) << "got " << g::error_kind_name(e.kind()) << ": " << e.what();
        EXPECT_NE(std::string(e.what()).find(substr), std::string::npos)
            << "message '" << e.what() << "' lacks '" << substr << "'";
    }
}

std::string header(uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    std::string h = "GGUF";
    g::put_u32(h, version);
    g::put_u64(h, n_tensors);
    g::put_u64(h, n_kv);
    return h;
}

// A hand-made tensor info, so tests can state offsets and types the writer
// would refuse to produce.
struct RawTensor {
    std::string name;
    std::vector<uint64_t> dims;
    uint32_t type = 0;  // F32
    uint64_t offset = 0;
};

// Header + optional general.alignment (u32) + tensor infos, padded to
// `pad_to`, then `data_bytes` bytes of data.
Bytes tensor_file(const std::vector<RawTensor>& ts, uint64_t data_bytes,
                  std::optional<uint32_t> alignment_kv = std::nullopt, uint64_t pad_to = 32) {
    std::string b = header(3, ts.size(), alignment_kv ? 1 : 0);
    if (alignment_kv) {
        g::put_string(b, "general.alignment");
        g::put_u32(b, uint32_t(ValueType::UINT32));
        g::put_u32(b, *alignment_kv);
    }
    for (const RawTensor& t : ts) {
        g::put_string(b, t.name);
        g::put_u32(b, uint32_t(t.dims.size()));
        for (uint64_t d : t.dims) g::put_u64(b, d);
        g::put_u32(b, t.type);
        g::put_u64(b, t.offset);
    }
    b.resize((b.size() + pad_to - 1) / pad_to * pad_to, '\0');
    b.append(size_t(data_bytes), '\x5a');
    return to_bytes(b);
}

// One metadata pair of any type, hand-encoded: `payload` follows the type tag.
Bytes one_kv(uint32_t type, const std::string& payload) {
    std::string b = header(3, 0, 1);
    g::put_string(b, "k");
    g::put_u32(b, type);
    b += payload;
    return to_bytes(b);
}

// A small complete model, all of whose tensor bytes follow a known pattern.
uint8_t pattern(size_t tensor, uint64_t k) { return uint8_t(tensor * 37 + k * 7 + 1); }

g::Writer& small_model(g::Writer& w) {
    w.set_string("general.architecture", "llama");
    w.set_uint32("llama.block_count", 1);
    w.set_string_array("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>"});
    w.add_tensor("token_embd.weight", g::TensorType::F32, {8, 3});
    w.add_tensor("blk.0.attn_norm.weight", g::TensorType::F32, {8});
    w.add_tensor("blk.0.attn_q.weight", g::TensorType::F16, {8, 8});
    w.add_tensor("blk.0.ffn_up.weight", g::TensorType::Q8_0, {32, 3});
    return w;
}

Bytes small_model_bytes(uint32_t version = 3, uint64_t alignment = 32) {
    g::Writer w(version);
    w.set_alignment(alignment);
    return small_model(w).to_memory([](size_t i, uint8_t* dst, uint64_t n) {
        for (uint64_t k = 0; k < n; ++k) dst[k] = pattern(i, k);
    });
}

}  // namespace

// ---- header ------------------------------------------------------------------

TEST(GgufMalformed, WrongMagic) {
    Bytes b = small_model_bytes();
    b[3] = 'X';
    expect_error(b, ErrorKind::BadMagic, "not a GGUF file");
}

TEST(GgufMalformed, UnsupportedVersions) {
    for (uint32_t v : {0u, 1u, 4u, 0xFFFFFFFFu}) {
        SCOPED_TRACE(v);
        Bytes b = small_model_bytes();
        std::memcpy(&b[4], &v, 4);
        expect_error(b, ErrorKind::UnsupportedVersion, "GGUF version " + std::to_string(v));
    }
}

TEST(GgufMalformed, TruncatedHeader) {
    const std::string h = header(3, 0, 0);
    expect_error(to_bytes(h.substr(0, 2)), ErrorKind::Truncated, "magic");
    expect_error(to_bytes(h.substr(0, 6)), ErrorKind::Truncated, "version");
    expect_error(to_bytes(h.substr(0, 12)), ErrorKind::Truncated, "tensor count");
    expect_error(to_bytes(h.substr(0, 20)), ErrorKind::Truncated, "metadata count");
    expect_error(Bytes{}, ErrorKind::Truncated, "magic");
}

TEST(GgufMalformed, TruncatedMetadata) {
    std::string v;
    g::put_u32(v, 1234);
    expect_error(one_kv(uint32_t(ValueType::UINT32), v.substr(0, 2)), ErrorKind::Truncated,
                 "metadata value");
    // The key itself cut short: the length field promises more than is left.
    std::string b = header(3, 0, 1);
    g::put_u64(b, 30);
    b += std::string(20, 'k');
    expect_error(to_bytes(b), ErrorKind::Truncated, "metadata key");
    // The value type missing.
    b = header(3, 0, 1);
    g::put_string(b, "some.key");
    expect_error(to_bytes(b), ErrorKind::Truncated, "value type");
}

TEST(GgufMalformed, TruncatedTensorInfos) {
    const Bytes full = tensor_file({{"a_tensor_name_long_enough_to_pass_counts", {4, 4}, 0, 0}}, 64);
    // Cut inside the second dimension.
    const size_t name_end = 24 + 8 + std::strlen("a_tensor_name_long_enough_to_pass_counts");
    const Bytes cut(full.begin(), full.begin() + long(name_end + 4 + 8 + 3));
    expect_error(cut, ErrorKind::Truncated, "tensor dimensions");
    // Cut inside the offset.
    const Bytes cut2(full.begin(), full.begin() + long(name_end + 4 + 16 + 4 + 5));
    expect_error(cut2, ErrorKind::Truncated, "tensor offset");
}

TEST(GgufMalformed, TruncatedTensorData) {
    // A large alignment guarantees padding between the infos and the data.
    const Bytes full = small_model_bytes(3, 4096);
    const auto f = g::File::from_memory(full.data(), full.size());
    // Cut in the padding before the data section.
    const size_t infos_end = size_t(f->data_offset()) - 1;
    expect_error(Bytes(full.begin(), full.begin() + long(infos_end)), ErrorKind::Truncated,
                 "before its tensor data");
    // Cut inside the last tensor's data.
    const auto& last = f->tensors().back();
    const size_t in_last = size_t(f->data_offset() + last.offset + last.n_bytes / 2);
    expect_error(Bytes(full.begin(), full.begin() + long(in_last)), ErrorKind::TensorOutOfBounds,
                 "runs past the end");
}

TEST(GgufMalformed, EveryPrefixOfAValidFileIsRejected) {
    const Bytes full = small_model_bytes();
    const auto f = g::File::from_memory(full.data(), full.size());
    const auto& last = f->tensors().back();
    // The trailing padding of the last tensor is not data: a cut there still
    // holds every byte the file describes.
    const size_t described = size_t(f->data_offset() + last.offset + last.n_bytes);
    ASSERT_LT(described, full.size());
    EXPECT_NO_THROW(g::File::from_memory(full.data(), described));
    for (size_t n = 0; n < described; ++n) {
        try {
            g::File::from_memory(full.data(), n);
            ADD_FAILURE() << "prefix of " << n << " bytes parsed";
        } catch (const g::GgufError& e) {
            const ErrorKind k = e.kind();
            EXPECT_TRUE(k == ErrorKind::Truncated || k == ErrorKind::CountTooLarge ||
                        k == ErrorKind::TensorOutOfBounds)
                << n << ": " << e.what();
        }
    }
}

// ---- counts and lengths --------------------------------------------------------

TEST(GgufMalformed, CountsLargerThanTheFile) {
    expect_error(to_bytes(header(3, 0, uint64_t(1) << 60)), ErrorKind::CountTooLarge,
                 "metadata count");
    expect_error(to_bytes(header(3, uint64_t(1) << 60, 0)), ErrorKind::CountTooLarge,
                 "tensor count");
    // A count only slightly too large is caught the same way.
    std::string b = header(3, 0, 2);
    g::put_string(b, "k");
    g::put_u32(b, uint32_t(ValueType::UINT8));
    b += '\1';
    expect_error(to_bytes(b), ErrorKind::CountTooLarge, "metadata count");
}

TEST(GgufMalformed, StringLengthLargerThanTheFile) {
    std::string b = header(3, 0, 1);
    g::put_u64(b, uint64_t(1) << 62);
    b += "key and enough bytes to pass the count check";
    expect_error(to_bytes(b), ErrorKind::CountTooLarge, "string length 4611686018427387904");

    std::string v;
    // Longer than what is left, though not than the whole file: truncation.
    g::put_u64(v, 40);
    v += "short";
    expect_error(one_kv(uint32_t(ValueType::STRING), v), ErrorKind::Truncated, "string length 40");
}

TEST(GgufMalformed, ArrayLengthLargerThanTheFile) {
    std::string v;
    g::put_u32(v, uint32_t(ValueType::UINT32));
    g::put_u64(v, uint64_t(1) << 40);
    v += "1234";
    expect_error(one_kv(uint32_t(ValueType::ARRAY), v), ErrorKind::CountTooLarge, "array count");
    // Nested: an inner array claims more than the file has left.
    std::string n;
    g::put_u32(n, uint32_t(ValueType::ARRAY));
    g::put_u64(n, 1);
    g::put_u32(n, uint32_t(ValueType::STRING));
    g::put_u64(n, uint64_t(1) << 61);
    expect_error(one_kv(uint32_t(ValueType::ARRAY), n), ErrorKind::CountTooLarge, "array count");
}

// ---- value types ------------------------------------------------------------

TEST(GgufMalformed, BadValueTypes) {
    expect_error(one_kv(13, "x"), ErrorKind::BadValueType, "unknown value type 13");
    expect_error(one_kv(0xFFFFFFFFu, "x"), ErrorKind::BadValueType, "unknown value type");
    std::string v;
    g::put_u32(v, 99);
    g::put_u64(v, 1);
    v += "x";
    expect_error(one_kv(uint32_t(ValueType::ARRAY), v), ErrorKind::BadValueType,
                 "unknown array element type 99");
    expect_error(one_kv(uint32_t(ValueType::BOOL), "\x02"), ErrorKind::BadValueType, "bool value 2");
}

TEST(GgufMalformed, ArraysNestedTooDeep) {
    // 64 levels of one-element arrays: a stack-exhaustion attempt the reader
    // must refuse rather than recurse into.
    std::string v;
    for (int d = 0; d < 64; ++d) {
        g::put_u32(v, uint32_t(ValueType::ARRAY));
        g::put_u64(v, 1);
    }
    g::put_u32(v, uint32_t(ValueType::UINT8));
    g::put_u64(v, 1);
    v += '\7';
    expect_error(one_kv(uint32_t(ValueType::ARRAY), v), ErrorKind::BadValueType,
                 "nested deeper");
}

TEST(GgufRoundTrip, NestedArrays) {
    g::Writer w;
    w.set("nested",
          g::make_array(ValueType::ARRAY,
                        {g::make_array(ValueType::ARRAY,
                                       {g::make_array(ValueType::INT16, {g::make_int(ValueType::INT16, -5),
                                                                         g::make_int(ValueType::INT16, 9)}),
                                        g::make_array(ValueType::INT16, {})}),
                         g::make_array(ValueType::ARRAY, {g::make_array(ValueType::STRING,
                                                                        {g::make_string("deep")})})}));
    const Bytes b = w.to_memory();
    const auto f = g::File::from_memory(b.data(), b.size());
    const g::Value& top = f->get_array("nested");
    ASSERT_EQ(top.elem_type, ValueType::ARRAY);
    ASSERT_EQ(top.arr.size(), 2u);
    ASSERT_EQ(top.arr[0].arr.size(), 2u);
    const g::Value& ints = top.arr[0].arr[0];
    EXPECT_EQ(ints.elem_type, ValueType::INT16);
    ASSERT_EQ(ints.arr.size(), 2u);
    EXPECT_EQ(ints.arr[0].i, -5);
    EXPECT_EQ(ints.arr[1].i, 9);
    EXPECT_EQ(top.arr[0].arr[1].elem_type, ValueType::INT16);
    EXPECT_TRUE(top.arr[0].arr[1].arr.empty());
    ASSERT_EQ(top.arr[1].arr.size(), 1u);
    ASSERT_EQ(top.arr[1].arr[0].arr.size(), 1u);
    EXPECT_EQ(top.arr[1].arr[0].arr[0].str, "deep");
}

// ---- tensor infos -------------------------------------------------------------

TEST(GgufMalformed, TensorDataOutOfBounds) {
    // 16 floats = 64 bytes, but only 32 bytes of data follow.
    expect_error(tensor_file({{"t", {16}, 0, 0}}, 32), ErrorKind::TensorOutOfBounds, "'t'");
    // An offset beyond the end, and one whose sum with the size wraps.
    expect_error(tensor_file({{"t", {4}, 0, 1024}}, 64), ErrorKind::TensorOutOfBounds, "runs past");
    expect_error(tensor_file({{"t", {4}, 0, ~uint64_t(31)}}, 64), ErrorKind::TensorOutOfBounds,
                 "runs past");
}

TEST(GgufMalformed, OverlappingTensors) {
    expect_error(tensor_file({{"a", {16}, 0, 0}, {"b", {16}, 0, 32}}, 128), ErrorKind::TensorOverlap,
                 "'a' and 'b' overlap");
    // Listed out of order: the overlap is found by offset, not by position.
    expect_error(tensor_file({{"late", {8}, 0, 64}, {"early", {32}, 0, 0}}, 256),
                 ErrorKind::TensorOverlap, "overlap");
    // Same offset.
    expect_error(tensor_file({{"a", {4}, 0, 0}, {"b", {4}, 0, 0}}, 64), ErrorKind::TensorOverlap,
                 "overlap");
}

TEST(GgufMalformed, UnknownTensorType) {
    for (uint32_t type : {4u, 5u, 31u, 0xFFFFFFFFu}) {
        SCOPED_TRACE(type);
        expect_error(tensor_file({{"t", {32}, type, 0}}, 256), ErrorKind::UnknownTensorType,
                     "unknown type " + std::to_string(type));
    }
}

TEST(GgufMalformed, DimensionProductOverflows) {
    expect_error(tensor_file({{"t", {uint64_t(1) << 32, uint64_t(1) << 32}, 0, 0}}, 64),
                 ErrorKind::DimensionOverflow, "'t'");
    expect_error(tensor_file({{"t", {~uint64_t(0), 2}, 0, 0}}, 64), ErrorKind::DimensionOverflow,
                 "overflows");
    // 2^62 F64 elements: the count is representable, the byte size is not.
    expect_error(tensor_file({{"t", {uint64_t(1) << 31, uint64_t(1) << 31}, uint32_t(g::TensorType::F64), 0}}, 64),
                 ErrorKind::DimensionOverflow, "overflows");
}

TEST(GgufMalformed, ZeroOrTooManyDims) {
    expect_error(tensor_file({{"t", {}, 0, 0}}, 64), ErrorKind::BadTensor, "0 dimensions");
    expect_error(tensor_file({{"t", {1, 1, 1, 1, 1}, 0, 0}}, 64), ErrorKind::BadTensor, "5 dimensions");
    expect_error(tensor_file({{"t", {4, 0}, 0, 0}}, 64), ErrorKind::BadTensor, "zero dimension");
}

TEST(GgufMalformed, BadAlignment) {
    expect_error(tensor_file({{"t", {4}, 0, 0}}, 64, 0u), ErrorKind::BadTensor,
                 "alignment 0 is not a power of two");
    expect_error(tensor_file({{"t", {4}, 0, 0}}, 64, 3u), ErrorKind::BadTensor,
                 "alignment 3 is not a power of two");
    expect_error(tensor_file({{"t", {4}, 0, 0}}, 64, 96u), ErrorKind::BadTensor, "power of two");
    // A valid alignment the offsets do not honour.
    expect_error(tensor_file({{"a", {4}, 0, 0}, {"b", {4}, 0, 16}}, 128, 64u, 64), ErrorKind::BadTensor,
                 "not a multiple of the alignment 64");
}

TEST(GgufMalformed, AlignmentOfTheWrongType) {
    g::Writer w;
    w.set_string("general.alignment", "32");
    const Bytes b = w.to_memory();
    expect_error(b, ErrorKind::WrongKeyType, "general.alignment");
}

TEST(GgufMalformed, DuplicateTensorNames) {
    expect_error(tensor_file({{"same", {4}, 0, 0}, {"same", {4}, 0, 32}}, 64), ErrorKind::BadTensor,
                 "duplicate tensor name 'same'");
}

TEST(GgufMalformed, DuplicateMetadataKeys) {
    std::string b = header(3, 0, 2);
    for (uint32_t v : {1u, 2u}) {
        g::put_string(b, "llama.block_count");
        g::put_u32(b, uint32_t(ValueType::UINT32));
        g::put_u32(b, v);
    }
    expect_error(to_bytes(b), ErrorKind::DuplicateKey, "duplicate metadata key 'llama.block_count'");
}

// A dimension or count stored as uint64 reads as 32 bits only when it fits:
// 2^32 + 5 is refused naming its key, never wrapped to 5.
TEST(GgufMalformed, ThirtyTwoBitGettersRefuseLargerValues) {
    for (const uint64_t v : {uint64_t(UINT32_MAX), (uint64_t(1) << 32) + 5}) {
        std::string payload;
        g::put_u64(payload, v);
        const Bytes b = one_kv(uint32_t(ValueType::UINT64), payload);
        const auto f = g::File::from_memory(b.data(), b.size());
        EXPECT_EQ(f->get_uint("k"), v);
        if (v <= UINT32_MAX) {
            EXPECT_EQ(f->get_u32("k"), uint32_t(v));
            EXPECT_EQ(f->try_u32("k"), std::optional<uint32_t>(uint32_t(v)));
            continue;
        }
        for (const bool optional : {false, true}) {
            try {
                if (optional) (void)f->try_u32("k");
                else (void)f->get_u32("k");
                ADD_FAILURE() << "read " << v << " as 32 bits";
            } catch (const g::GgufError& e) {
                EXPECT_EQ(e.kind(), ErrorKind::WrongKeyType);
                EXPECT_NE(std::string(e.what()).find("key 'k' is 4294967301, above 2^32 - 1"), std::string::npos)
                    << e.what();
            }
        }
    }
    const Bytes b = one_kv(uint32_t(ValueType::UINT32), std::string(4, '\0'));
    EXPECT_FALSE(g::File::from_memory(b.data(), b.size())->try_u32("absent").has_value());
}

TEST(GgufMalformed, RowNotAMultipleOfTheBlock) {
    expect_error(tensor_file({{"q", {16, 2}, uint32_t(g::TensorType::Q8_0), 0}}, 256), ErrorKind::BadTensor,
                 "block size 32");
}

TEST(GgufMalformed, HeaderBitFlipsNeverEscapeAsOtherErrors) {
    const Bytes full = small_model_bytes();
    const auto f = g::File::from_memory(full.data(), full.size());
    size_t rejected = 0;
    for (size_t pos = 0; pos < f->data_offset(); ++pos) {
        for (uint8_t mask : {uint8_t(0x01), uint8_t(0x80), uint8_t(0xFF)}) {
            Bytes m = full;
            m[pos] ^= mask;
            try {
                g::File::from_memory(m.data(), m.size());
            } catch (const g::GgufError&) {
                ++rejected;
            }
        }
    }
    // Flips in the magic alone are three per byte; most structural flips fail.
    EXPECT_GE(rejected, 12u);
}

TEST(GgufMalformed, MissingFile) {
    try {
        g::File::open("/nonexistent/dir/model.gguf");
        ADD_FAILURE() << "opened a missing file";
    } catch (const g::GgufError& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Io);
        EXPECT_NE(std::string(e.what()).find("/nonexistent/dir/model.gguf"), std::string::npos) << e.what();
    }
}

TEST(GgufMalformed, ADirectoryIsNotARegularFile) {
    errno = ENOMEM;  // a stale errno must not reach the message
    try {
        g::File::open("/tmp");
        ADD_FAILURE() << "opened a directory";
    } catch (const g::GgufError& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Io);
        EXPECT_EQ(std::string(e.what()), "io error: '/tmp' is not a regular file");
    }
}

TEST(GgufMalformed, GettersReportMissingAndWrongTypes) {
    const Bytes b = small_model_bytes();
    const auto f = g::File::from_memory(b.data(), b.size());
    try {
        f->get_uint("llama.nope");
        ADD_FAILURE();
    } catch (const g::GgufError& e) {
        EXPECT_EQ(e.kind(), ErrorKind::MissingKey);
        EXPECT_NE(std::string(e.what()).find("llama.nope"), std::string::npos);
    }
    try {
        f->get_uint("general.architecture");
        ADD_FAILURE();
    } catch (const g::GgufError& e) {
        EXPECT_EQ(e.kind(), ErrorKind::WrongKeyType);
        EXPECT_NE(std::string(e.what()).find("general.architecture"), std::string::npos);
    }
    EXPECT_THROW(f->get_tensor("output.weight"), g::GgufError);
    EXPECT_FALSE(f->try_uint("absent").has_value());
}

// ---- round trips ------------------------------------------------------------

class GgufVersions : public ::testing::TestWithParam<uint32_t> {};

TEST_P(GgufVersions, EveryValueTypeRoundTrips) {
    const std::string with_nul("a\0b", 3);
    g::Writer w(GetParam());
    w.set("u8", g::make_uint(ValueType::UINT8, 255));
    w.set("i8", g::make_int(ValueType::INT8, -128));
    w.set("u16", g::make_uint(ValueType::UINT16, 65535));
    w.set("i16", g::make_int(ValueType::INT16, -32768));
    w.set("u32", g::make_uint(ValueType::UINT32, 4000000000u));
    w.set("i32", g::make_int(ValueType::INT32, std::numeric_limits<int32_t>::min()));
    w.set("u64", g::make_uint(ValueType::UINT64, std::numeric_limits<uint64_t>::max()));
    w.set("i64", g::make_int(ValueType::INT64, std::numeric_limits<int64_t>::min()));
    w.set("f32", g::make_float(ValueType::FLOAT32, 1.0e-5));
    w.set("f64", g::make_float(ValueType::FLOAT64, 3.141592653589793));
    w.set("bool_t", g::make_bool(true));
    w.set("bool_f", g::make_bool(false));
    w.set("str", g::make_string("h\xC3\xA9llo \xE2\x96\x81world"));
    w.set("str_nul", g::make_string(with_nul));
    w.set("str_empty", g::make_string(""));
    w.set_float32_array("arr_f32", {0.5f, -2.0f});
    w.set_int32_array("arr_i32", {});
    w.set_string_array("arr_str", {"x", "", "zz"});
    w.set("arr_u64", g::make_array(ValueType::UINT64, {g::make_uint(ValueType::UINT64, 1),
                                                       g::make_uint(ValueType::UINT64, uint64_t(1) << 63)}));
    w.set("arr_bool", g::make_array(ValueType::BOOL, {g::make_bool(true), g::make_bool(false)}));
    const Bytes b = w.to_memory();
    const auto f = g::File::from_memory(b.data(), b.size());

    EXPECT_EQ(f->version(), GetParam());
    ASSERT_EQ(f->metadata().size(), w.n_metadata());
    EXPECT_EQ(f->metadata()[0].key, "u8");  // insertion order kept
    auto type_of = [&](const char* k) { return f->find(k)->type; };
    EXPECT_EQ(type_of("u8"), ValueType::UINT8);
    EXPECT_EQ(f->find("u8")->u, 255u);
    EXPECT_EQ(type_of("i8"), ValueType::INT8);
    EXPECT_EQ(f->find("i8")->i, -128);
    EXPECT_EQ(type_of("u16"), ValueType::UINT16);
    EXPECT_EQ(f->find("u16")->u, 65535u);
    EXPECT_EQ(type_of("i16"), ValueType::INT16);
    EXPECT_EQ(f->find("i16")->i, -32768);
    EXPECT_EQ(type_of("u32"), ValueType::UINT32);
    EXPECT_EQ(f->get_uint("u32"), 4000000000u);
    EXPECT_EQ(type_of("i32"), ValueType::INT32);
    EXPECT_EQ(f->find("i32")->i, std::numeric_limits<int32_t>::min());
    EXPECT_EQ(type_of("u64"), ValueType::UINT64);
    EXPECT_EQ(f->find("u64")->u, std::numeric_limits<uint64_t>::max());
    EXPECT_EQ(type_of("i64"), ValueType::INT64);
    EXPECT_EQ(f->find("i64")->i, std::numeric_limits<int64_t>::min());
    EXPECT_EQ(type_of("f32"), ValueType::FLOAT32);
    EXPECT_EQ(f->get_float("f32"), double(1.0e-5f));
    EXPECT_EQ(type_of("f64"), ValueType::FLOAT64);
    EXPECT_EQ(f->get_float("f64"), 3.141592653589793);
    EXPECT_EQ(f->try_bool("bool_t"), std::optional<bool>(true));
    EXPECT_EQ(f->try_bool("bool_f"), std::optional<bool>(false));
    EXPECT_EQ(f->get_string("str"), "h\xC3\xA9llo \xE2\x96\x81world");
    EXPECT_EQ(f->get_string("str_nul"), with_nul);
    EXPECT_EQ(f->get_string("str_empty"), "");

    const g::Value& af = f->get_array("arr_f32");
    EXPECT_EQ(af.elem_type, ValueType::FLOAT32);
    ASSERT_EQ(af.arr.size(), 2u);
    EXPECT_EQ(af.arr[0].f, 0.5);
    EXPECT_EQ(af.arr[1].f, -2.0);
    EXPECT_EQ(f->get_array("arr_i32").elem_type, ValueType::INT32);
    EXPECT_TRUE(f->get_array("arr_i32").arr.empty());
    const g::Value& as = f->get_array("arr_str");
    ASSERT_EQ(as.arr.size(), 3u);
    EXPECT_EQ(as.arr[0].str, "x");
    EXPECT_EQ(as.arr[1].str, "");
    EXPECT_EQ(as.arr[2].str, "zz");
    const g::Value& au = f->get_array("arr_u64");
    ASSERT_EQ(au.arr.size(), 2u);
    EXPECT_EQ(au.arr[1].u, uint64_t(1) << 63);
    const g::Value& ab = f->get_array("arr_bool");
    ASSERT_EQ(ab.arr.size(), 2u);
    EXPECT_EQ(ab.arr[0].u, 1u);
    EXPECT_EQ(ab.arr[1].u, 0u);
}

TEST_P(GgufVersions, TensorsRoundTrip) {
    const Bytes b = small_model_bytes(GetParam());
    const auto f = g::File::from_memory(b.data(), b.size());
    EXPECT_EQ(f->version(), GetParam());
    ASSERT_EQ(f->tensors().size(), 4u);
    const g::TensorInfo& q = f->get_tensor("blk.0.attn_q.weight");
    EXPECT_EQ(q.type, g::TensorType::F16);
    EXPECT_EQ(q.n_dims, 2u);
    EXPECT_EQ(q.ne[0], 8u);
    EXPECT_EQ(q.ne[1], 8u);
    EXPECT_EQ(q.n_bytes, 128u);
    const g::TensorInfo& q8 = f->get_tensor("blk.0.ffn_up.weight");
    EXPECT_EQ(q8.type, g::TensorType::Q8_0);
    EXPECT_EQ(q8.n_elements, 96u);
    EXPECT_EQ(q8.n_bytes, 3u * 34u);
    for (size_t i = 0; i < f->tensors().size(); ++i) {
        const g::TensorInfo& t = f->tensors()[i];
        for (uint64_t k = 0; k < t.n_bytes; ++k)
            ASSERT_EQ(t.data[k], pattern(i, k)) << t.name << " byte " << k;
    }
    EXPECT_EQ(f->file_size(), b.size());
}

INSTANTIATE_TEST_SUITE_P(V2AndV3, GgufVersions, ::testing::Values(2u, 3u));

TEST(GgufRoundTrip, AlignmentHonoured) {
    for (uint64_t a : {uint64_t(1), uint64_t(8), uint64_t(32), uint64_t(64), uint64_t(4096)}) {
        SCOPED_TRACE(a);
        g::Writer w;
        w.set_alignment(a);
        w.set_string("general.name", "odd-length-name");
        w.add_tensor("a", g::TensorType::F16, {3});  // 6 bytes: the next offset must round up
        w.add_tensor("b", g::TensorType::F32, {5});
        w.add_tensor("c", g::TensorType::I8, {7});
        const Bytes b = w.to_memory([](size_t i, uint8_t* dst, uint64_t n) {
            for (uint64_t k = 0; k < n; ++k) dst[k] = pattern(i, k);
        });
        const auto f = g::File::from_memory(b.data(), b.size());
        EXPECT_EQ(f->alignment(), a);
        EXPECT_EQ(f->data_offset() % a, 0u);
        EXPECT_EQ(f->data_offset(), w.data_offset());
        EXPECT_EQ(f->find("general.alignment") != nullptr, a != 32);
        for (size_t i = 0; i < f->tensors().size(); ++i) {
            const g::TensorInfo& t = f->tensors()[i];
            EXPECT_EQ(t.offset % a, 0u) << t.name;
            EXPECT_EQ(t.offset, w.tensor_offset(i));
            EXPECT_EQ(size_t(t.data - b.data()) % a, 0u) << t.name;
            EXPECT_EQ(t.data[t.n_bytes - 1], pattern(i, t.n_bytes - 1));
        }
        EXPECT_EQ(b.size(), w.total_size());
    }
}

TEST(GgufWriter, RejectsInvalidInput) {
    g::Writer w;
    EXPECT_THROW(g::Writer(1), std::invalid_argument);
    EXPECT_THROW(g::Writer(4), std::invalid_argument);
    EXPECT_THROW(w.set_alignment(0), std::invalid_argument);
    EXPECT_THROW(w.set_alignment(48), std::invalid_argument);
    EXPECT_THROW(w.add_tensor("t", g::TensorType::F32, {}), std::invalid_argument);
    EXPECT_THROW(w.add_tensor("t", g::TensorType::F32, {1, 1, 1, 1, 1}), std::invalid_argument);
    EXPECT_THROW(w.add_tensor("t", g::TensorType::F32, {4, 0}), std::invalid_argument);
    EXPECT_THROW(w.add_tensor("t", g::TensorType(4), {32}), std::invalid_argument);
    EXPECT_THROW(w.add_tensor("t", g::TensorType::Q4_0, {16}), std::invalid_argument);
    EXPECT_THROW(w.add_tensor("t", g::TensorType::F32, {uint64_t(1) << 40, uint64_t(1) << 40}),
                 std::invalid_argument);
    w.add_tensor("t", g::TensorType::F32, {4});
    EXPECT_THROW(w.add_tensor("t", g::TensorType::F32, {4}), std::invalid_argument);
    EXPECT_THROW(w.set("bad", g::make_array(ValueType::UINT8, {g::make_string("x")})), std::invalid_argument);
    EXPECT_THROW(g::make_uint(ValueType::INT8, 1), std::invalid_argument);
}

TEST(GgufWriter, SetReplacesAndRemoves) {
    g::Writer w;
    w.set_uint32("a", 1);
    w.set_string("b", "x");
    w.set_uint32("a", 2);
    EXPECT_EQ(w.n_metadata(), 2u);
    w.remove("b");
    EXPECT_FALSE(w.has("b"));
    const Bytes bytes = w.to_memory();
    const auto f = g::File::from_memory(bytes.data(), bytes.size());
    ASSERT_EQ(f->metadata().size(), 1u);
    EXPECT_EQ(f->get_uint("a"), 2u);
}

TEST(GgufWriter, StreamsToFileInArbitraryChunks) {
    const std::string dir = orcd::test::temp_dir();
    const std::string path = dir + "/streamed.gguf";
    g::Writer w;
    small_model(w);
    uint64_t total = 0;
    for (size_t i = 0; i < w.n_tensors(); ++i) total += w.tensor_bytes(i);
    std::vector<uint8_t> all;
    for (size_t i = 0; i < w.n_tensors(); ++i)
        for (uint64_t k = 0; k < w.tensor_bytes(i); ++k) all.push_back(pattern(i, k));
    ASSERT_EQ(all.size(), total);

    w.begin_file(path);
    EXPECT_TRUE(std::filesystem::exists(path + ".partial"));
    EXPECT_FALSE(std::filesystem::exists(path));
    // Chunks of 7 bytes straddle every tensor boundary.
    for (size_t off = 0; off < all.size(); off += 7)
        w.write_data(all.data() + off, std::min<size_t>(7, all.size() - off));
    EXPECT_THROW(w.write_data(all.data(), 1), std::logic_error);
    w.finish();
    EXPECT_FALSE(std::filesystem::exists(path + ".partial"));

    const auto f = g::File::open(path);
    EXPECT_EQ(f->file_size(), w.total_size());
    for (size_t i = 0; i < f->tensors().size(); ++i) {
        const g::TensorInfo& t = f->tensors()[i];
        for (uint64_t k = 0; k < t.n_bytes; ++k) ASSERT_EQ(t.data[k], pattern(i, k)) << t.name;
    }
    std::filesystem::remove_all(dir);
}

TEST(GgufWriter, UnfinishedFileLeavesNothingBehind) {
    const std::string dir = orcd::test::temp_dir();
    const std::string path = dir + "/unfinished.gguf";
    {
        g::Writer w;
        small_model(w);
        w.begin_file(path);
        const uint8_t some[5] = {};
        w.write_data(some, sizeof some);
        EXPECT_THROW(w.finish(), std::logic_error);
    }
    EXPECT_FALSE(std::filesystem::exists(path));
    EXPECT_FALSE(std::filesystem::exists(path + ".partial"));
    std::filesystem::remove_all(dir);
}

TEST(GgufWriter, CopiesTokenizerMetadata) {
    const auto vocab = g::File::open(orcd::test::data_path("tokenizer/ggml-vocab-llama-spm.gguf"));
    size_t expected = 0;
    for (const auto& kv : vocab->metadata()) expected += kv.key.starts_with("tokenizer.") ? 1 : 0;
    ASSERT_GT(expected, 0u);

    g::Writer w;
    w.set_string("general.name", "mine");
    EXPECT_EQ(w.copy_metadata(*vocab, "tokenizer."), expected);
    const Bytes b = w.to_memory();
    const auto f = g::File::from_memory(b.data(), b.size());
    EXPECT_EQ(f->metadata().size(), expected + 1);
    EXPECT_EQ(f->get_string("general.name"), "mine");
    const g::Value& src = vocab->get_array("tokenizer.ggml.tokens");
    const g::Value& dst = f->get_array("tokenizer.ggml.tokens");
    ASSERT_EQ(dst.arr.size(), src.arr.size());
    for (size_t i = 0; i < src.arr.size(); ++i) ASSERT_EQ(dst.arr[i].str, src.arr[i].str) << i;
    const g::Value& scores = f->get_array("tokenizer.ggml.scores");
    const g::Value& src_scores = vocab->get_array("tokenizer.ggml.scores");
    ASSERT_EQ(scores.arr.size(), src_scores.arr.size());
    for (size_t i = 0; i < scores.arr.size(); ++i) ASSERT_EQ(scores.arr[i].f, src_scores.arr[i].f) << i;
    EXPECT_EQ(f->get_uint("tokenizer.ggml.bos_token_id"), vocab->get_uint("tokenizer.ggml.bos_token_id"));
}

// ---- the real model ---------------------------------------------------------

TEST(GgufRealFile, Stories260KParses) {
    const auto f = g::File::open(orcd::test::stories_model());
    EXPECT_EQ(f->version(), 3u);
    // dim 64, 5 layers, vocab 512 (testdata/README.md): 9 tensors per layer,
    // plus token_embd, output_norm and output.
    EXPECT_EQ(f->tensors().size(), 5u * 9u + 3u);
    EXPECT_EQ(f->get_string("general.architecture"), "llama");
    EXPECT_EQ(f->get_uint("llama.block_count"), 5u);
    EXPECT_EQ(f->get_array("tokenizer.ggml.tokens").arr.size(), 512u);
    const g::TensorInfo& emb = f->get_tensor("token_embd.weight");
    EXPECT_EQ(emb.type, g::TensorType::F32);
    EXPECT_EQ(emb.ne[0], 64u);
    EXPECT_EQ(emb.ne[1], 512u);
    const g::TensorInfo& k = f->get_tensor("blk.4.attn_k.weight");
    EXPECT_EQ(k.ne[0], 64u);
    EXPECT_EQ(k.ne[1], 32u);  // 4 KV heads x head_dim 8
    uint64_t data = 0;
    for (const auto& t : f->tensors()) data += t.n_bytes;
    EXPECT_LE(f->data_offset() + data, f->file_size());
    for (const auto& t : f->tensors()) EXPECT_EQ(t.offset % f->alignment(), 0u) << t.name;
}
