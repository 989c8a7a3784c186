// Hand-made GGUF files with metadata only, and the load errors they give,
// for tests of vocabulary loading.
#pragma once

#include "common/error.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace orcd::test {

// Builds a GGUF v3 file with metadata only.
class GgufBuilder {
public:
    GgufBuilder& str(const std::string& key, const std::string& value) {
        begin(key, gguf::ValueType::STRING);
        put_str(value);
        return *this;
    }
    GgufBuilder& u32(const std::string& key, uint32_t value) {
        begin(key, gguf::ValueType::UINT32);
        put(value);
        return *this;
    }
    GgufBuilder& boolean(const std::string& key, bool value) {
        begin(key, gguf::ValueType::BOOL);
        put(static_cast<uint8_t>(value));
        return *this;
    }
    GgufBuilder& strings(const std::string& key, const std::vector<std::string>& values) {
        begin_array(key, gguf::ValueType::STRING, values.size());
        for (const auto& v : values) put_str(v);
        return *this;
    }
    GgufBuilder& floats(const std::string& key, const std::vector<float>& values) {
        begin_array(key, gguf::ValueType::FLOAT32, values.size());
        for (float v : values) put(v);
        return *this;
    }
    GgufBuilder& ints(const std::string& key, const std::vector<int32_t>& values) {
        begin_array(key, gguf::ValueType::INT32, values.size());
        for (int32_t v : values) put(v);
        return *this;
    }
    std::vector<uint8_t> bytes() const {
        std::vector<uint8_t> out;
        const auto put_to = [&out](const auto& v) {
            const auto* p = reinterpret_cast<const uint8_t*>(&v);
            out.insert(out.end(), p, p + sizeof v);
        };
        out.insert(out.end(), {'G', 'G', 'U', 'F'});
        put_to(uint32_t{3});
        put_to(uint64_t{0});
        put_to(n_kv_);
        out.insert(out.end(), body_.begin(), body_.end());
        while (out.size() % 32) out.push_back(0);
        return out;
    }

private:
    template <typename T>
    void put(T v) {
        const auto* p = reinterpret_cast<const uint8_t*>(&v);
        body_.insert(body_.end(), p, p + sizeof v);
    }
    void put_str(const std::string& s) {
        put(static_cast<uint64_t>(s.size()));
        body_.insert(body_.end(), s.begin(), s.end());
    }
    void begin(const std::string& key, gguf::ValueType t) {
        ++n_kv_;
        put_str(key);
        put(static_cast<uint32_t>(t));
    }
    void begin_array(const std::string& key, gguf::ValueType elem, size_t n) {
        begin(key, gguf::ValueType::ARRAY);
        put(static_cast<uint32_t>(elem));
        put(static_cast<uint64_t>(n));
    }
    std::vector<uint8_t> body_;
    uint64_t n_kv_ = 0;
};

// The load error of a file, or "" when it loads.
inline std::pair<orcd_status, std::string> load_error(const GgufBuilder& b) {
    const auto data = b.bytes();
    auto file = gguf::File::from_memory(data.data(), data.size());
    try {
        Tokenizer::from_gguf(*file);
    } catch (const Error& e) {
        return {e.code(), e.what()};
    }
    return {ORCD_OK, ""};
}

inline void expect_load_failure(const GgufBuilder& b, const std::string& fragment) {
    const auto [code, msg] = load_error(b);
    EXPECT_EQ(code, ORCD_MODEL_LOAD_FAILED) << msg;
    EXPECT_NE(msg.find(fragment), std::string::npos) << "message: " << msg;
}

}  // namespace orcd::test
