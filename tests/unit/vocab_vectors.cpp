#include "vocab_vectors.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace orcd::test {

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::vector<std::string> read_inputs(const std::string& path) {
    const std::string text = read_file(path);
    const std::string sep = "\n__ggml_vocab_test__\n";
    std::vector<std::string> out;
    size_t pos = 0;
    for (size_t hit = text.find(sep); hit != std::string::npos; hit = text.find(sep, pos)) {
        out.push_back(text.substr(pos, hit - pos));
        pos = hit + sep.size();
    }
    if (pos != text.size()) throw std::runtime_error(path + " does not end with a separator line");
    return out;
}

std::vector<std::vector<int32_t>> read_outputs(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot read " + path);
    std::vector<std::vector<int32_t>> out;
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream ls(line);
        std::vector<int32_t> ids;
        for (int32_t id; ls >> id;) ids.push_back(id);
        out.push_back(std::move(ids));
    }
    return out;
}

std::string ids_str(const std::vector<int32_t>& ids) {
    std::string s = "[";
    for (size_t i = 0; i < ids.size(); ++i) s += (i ? " " : "") + std::to_string(ids[i]);
    return s + "]";
}

std::string escaped(const std::string& s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        if (c == '\n') out += "\\n";
        else if (c == '\t') out += "\\t";
        else if (c == '\r') out += "\\r";
        else out += static_cast<char>(c);
    }
    return out + "\"";
}

}  // namespace orcd::test
