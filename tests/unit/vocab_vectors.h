// Reading tokenizer conformance vectors and printing ids, shared by the
// SentencePiece and BPE tests.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace orcd::test {

std::string read_file(const std::string& path);
// The .inp format of llama.cpp's test-tokenizer-0: strings separated by
// "\n__ggml_vocab_test__\n", the file ending with one more separator.
std::vector<std::string> read_inputs(const std::string& path);
// The matching .out: one line of space-separated ids per string.
std::vector<std::vector<int32_t>> read_outputs(const std::string& path);
// "[1 2 3]"
std::string ids_str(const std::vector<int32_t>& ids);
// The text in quotes with \n, \t, \r spelled out.
std::string escaped(const std::string& s);

}  // namespace orcd::test
