#include "common/chat_model.h"

#include "common/test_paths.h"
#include "gguf/gguf.h"
#include "gguf/gguf_writer.h"

#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace orcd::test {

std::string write_with_metadata(const std::string& src, const std::string& dst,
                                const std::function<void(gguf::Writer&)>& edit) {
    const auto file = gguf::File::open(src);
    gguf::Writer w;
    w.copy_metadata(*file, "");
    edit(w);
    for (const gguf::TensorInfo& t : file->tensors())
        w.add_tensor(t.name, t.type, std::vector<uint64_t>(t.ne, t.ne + t.n_dims));
    const std::vector<uint8_t> bytes = w.to_memory([&](size_t i, uint8_t* out, uint64_t n) {
        std::memcpy(out, file->tensors()[i].data, n);
    });
    std::ofstream out(dst, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    if (!out) throw std::runtime_error("cannot write " + dst);
    return dst;
}

std::string write_with_chat_template(const std::string& src, const std::string& dst, const std::string& chat_template) {
    return write_with_metadata(src, dst, [&](gguf::Writer& w) { w.set_string("tokenizer.chat_template", chat_template); });
}

std::string chatml_template() {
    std::ifstream f(data_path("chat/templates/chatml.jinja"), std::ios::binary);
    if (!f) throw std::runtime_error("testdata/chat/templates/chatml.jinja is missing");
    std::ostringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

}  // namespace orcd::test
