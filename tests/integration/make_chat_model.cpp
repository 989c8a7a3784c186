// orcd-make-chat-model SRC DST [TEMPLATE_FILE]: writes a copy of the GGUF
// model SRC with a chat template (default: the ChatML one of testdata/chat),
// for test drivers outside C++ (the OpenAI client suite).
#include "common/chat_model.h"

#include <cstdio>
#include <exception>
#include <fstream>
#include <sstream>

int main(int argc, char** argv) {
    if (argc < 3 || argc > 4) {
        std::fprintf(stderr, "usage: orcd-make-chat-model SRC DST [TEMPLATE_FILE]\n");
        return 2;
    }
    try {
        std::string tmpl = orcd::test::chatml_template();
        if (argc == 4) {
            std::ifstream f(argv[3], std::ios::binary);
            std::ostringstream ss;
            ss << f.rdbuf();
            tmpl = ss.str();
        }
        orcd::test::write_with_chat_template(argv[1], argv[2], tmpl);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "orcd-make-chat-model: %s\n", e.what());
        return 1;
    }
    return 0;
}
