#include "tokenizer/spm_tokenizer.h"

#include "common/error.h"
#include "common/hex.h"

#include <algorithm>
#include <limits>
#include <queue>
#include <utility>

namespace orcd {

namespace {

constexpr std::string_view kSpace = "\xE2\x96\x81";  // U+2581, SentencePiece's escaped space

std::string unescape_spaces(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    size_t pos = 0;
    while (pos < text.size()) {
        if (text.compare(pos, kSpace.size(), kSpace) == 0) {
            out += ' ';
            pos += kSpace.size();
        } else {
            out += text[pos++];
        }
    }
    return out;
}

// The byte a "<0xNN>" token stands for, or -1 when the text has another form.
int parse_byte_token(std::string_view text) {
    if (text.size() != 6 || text.substr(0, 3) != "<0x" || text[5] != '>') return -1;
    return hex_byte(text[3], text[4]);
}

// Bytes llama.cpp takes as one character: it looks only at the lead byte's
// high nibble, so malformed input splits the same way it does there.
size_t char_len(unsigned char lead) {
    static constexpr unsigned char kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return kLen[lead >> 4];
}

struct Symbol {
    int prev;
    int next;
    size_t start;
    size_t n;  // 0 once merged into its left neighbour
};

struct Bigram {
    float score;
    int left;
    int right;
    size_t size;
};

// Highest score first; on equal scores the leftmost pair.
struct BigramOrder {
    bool operator()(const Bigram& a, const Bigram& b) const {
        return a.score < b.score || (a.score == b.score && a.left > b.left);
    }
};

}  // namespace

SpmTokenizer::SpmTokenizer(SpmVocab vocab) : v_(std::move(vocab)) {
    const size_t n = v_.tokens.size();
    check_vocabulary(n, v_.attrs.size(), v_.ids);
    if (v_.scores.size() != n)
        fail(ORCD_MODEL_LOAD_FAILED,
             "tokenizer: " + std::to_string(n) + " tokens but " + std::to_string(v_.scores.size()) + " scores");
    if (v_.add_bos && v_.ids.bos < 0)
        fail(ORCD_MODEL_LOAD_FAILED, "tokenizer: add_bos_token is set but the vocabulary has no BOS token");

    byte_ids_.fill(-1);
    pieces_.resize(n);
    ids_.reserve(n);
    for (size_t i = 0; i < n; ++i) {
        const auto id = static_cast<int32_t>(i);
        const std::string& text = v_.tokens[i];
        // A later duplicate wins, as in llama.cpp's token_to_id map.
        ids_[text] = id;
        max_token_len_ = std::max(max_token_len_, text.size());
        switch (v_.attrs[i]) {
            case TokenAttr::Normal:
                pieces_[i] = unescape_spaces(text);
                break;
            case TokenAttr::Byte: {
                const int b = parse_byte_token(text);
                if (b < 0)
                    fail(ORCD_MODEL_LOAD_FAILED, "tokenizer: byte token " + std::to_string(i) + " reads '" + text +
                                                     "', not <0xNN>");
                pieces_[i] = std::string(1, static_cast<char>(b));
                break;
            }
            case TokenAttr::UserDefined:
                pieces_[i] = text;
                break;
            case TokenAttr::Control:
            case TokenAttr::Unknown:
            case TokenAttr::Unused:
                break;  // rendered as nothing, as llama.cpp does without "special" rendering
        }
    }
    // Byte fallback looks tokens up by text, so a duplicate <0xNN> resolves
    // to the same id the merge loop would find.
    for (int b = 0; b < 256; ++b) {
        static constexpr char kHex[] = "0123456789ABCDEF";
        const char name[] = {'<', '0', 'x', kHex[b >> 4], kHex[b & 15], '>'};
        int32_t id = find(std::string_view(name, sizeof name));
        const char raw = static_cast<char>(b);
        if (id < 0) id = find(std::string_view(&raw, 1));
        byte_ids_[static_cast<size_t>(b)] = id;
    }
    end_of_generation_ = end_of_generation_set(v_.tokens, v_.ids);
    specials_.add_vocabulary(v_.tokens, v_.attrs, control_like(v_.ids, end_of_generation_), v_.rstrip);
}

int32_t SpmTokenizer::find(std::string_view text) const {
    const auto it = ids_.find(text);
    return it == ids_.end() ? -1 : it->second;
}


std::vector<int32_t> SpmTokenizer::encode(std::string_view text, bool add_bos, bool parse_special) const {
    return encode_pieces(specials_.split(text, parse_special), add_bos, text.size());
}

std::vector<int32_t> SpmTokenizer::encode_segments(const std::vector<TextSegment>& segments, bool add_bos) const {
    return encode_pieces(specials_.split(segments), add_bos, total_size(segments));
}

std::vector<int32_t> SpmTokenizer::encode_pieces(const std::vector<SpecialTokens::Piece>& pieces, bool add_bos,
                                                 size_t size_hint) const {
    std::vector<int32_t> out;
    if (add_bos && v_.add_bos) out.push_back(v_.ids.bos);
    if (size_hint == 0) return out;
    out.reserve(out.size() + size_hint / 2 + 1);

    // The leading-space rule: SentencePiece models were trained on text that
    // starts with a space, so one is added in front of the text and after
    // every verbatim token.
    bool after_token = true;
    std::string escaped;
    const auto flush = [&] {
        if (escaped.empty()) return;
        encode_escaped(escaped, out);
        escaped.clear();
        after_token = false;
    };
    for (const SpecialTokens::Piece& f : pieces) {
        if (f.id >= 0) {
            flush();
            out.push_back(f.id);
            after_token = true;
            continue;
        }
        if (f.text.empty()) continue;
        if (escaped.empty() && v_.add_space_prefix && after_token) escaped += kSpace;
        for (char c : f.text) {
            if (c == ' ') escaped += kSpace;
            else escaped += c;
        }
    }
    flush();
    return out;
}

void SpmTokenizer::append_bytes(std::string_view piece, std::vector<int32_t>& out) const {
    for (char c : piece) {
        const int32_t id = byte_ids_[static_cast<unsigned char>(c)];
        if (id >= 0) out.push_back(id);
        else if (v_.ids.unk >= 0) out.push_back(v_.ids.unk);
        else fail(ORCD_INVALID_REQUEST, "the text holds a character the vocabulary cannot spell (no byte or UNK token)");
    }
}

void SpmTokenizer::encode_escaped(std::string_view text, std::vector<int32_t>& out) const {
    std::vector<Symbol> syms;
    syms.reserve(text.size());
    for (size_t off = 0; off < text.size();) {
        const size_t n = std::min(char_len(static_cast<unsigned char>(text[off])), text.size() - off);
        const int idx = static_cast<int>(syms.size());
        syms.push_back({idx - 1, off + n == text.size() ? -1 : idx + 1, off, n});
        off += n;
    }

    std::vector<Bigram> storage;
    storage.reserve(syms.size());
    std::priority_queue<Bigram, std::vector<Bigram>, BigramOrder> queue(BigramOrder{}, std::move(storage));
    const auto try_add = [&](int left, int right) {
        if (left < 0 || right < 0) return;
        const size_t size = syms[static_cast<size_t>(left)].n + syms[static_cast<size_t>(right)].n;
        if (size > max_token_len_) return;
        const int32_t id = find(text.substr(syms[static_cast<size_t>(left)].start, size));
        if (id < 0) return;
        queue.push({v_.scores[static_cast<size_t>(id)], left, right, size});
    };
    for (int i = 1; i < static_cast<int>(syms.size()); ++i) try_add(i - 1, i);

    while (!queue.empty()) {
        const Bigram b = queue.top();
        queue.pop();
        Symbol& left = syms[static_cast<size_t>(b.left)];
        Symbol& right = syms[static_cast<size_t>(b.right)];
        // Stale entry: one side has merged since this pair was queued.
        if (left.n == 0 || right.n == 0 || left.n + right.n != b.size) continue;
        left.n += right.n;
        right.n = 0;
        left.next = right.next;
        if (right.next >= 0) syms[static_cast<size_t>(right.next)].prev = b.left;
        try_add(left.prev, b.left);
        try_add(b.left, left.next);
    }

    // Every merged symbol is a vocabulary entry by construction; only single
    // characters can be missing, and those fall back to their bytes.
    for (int i = syms.empty() ? -1 : 0; i >= 0; i = syms[static_cast<size_t>(i)].next) {
        const Symbol& s = syms[static_cast<size_t>(i)];
        const std::string_view piece = text.substr(s.start, s.n);
        const int32_t id = find(piece);
        if (id >= 0) out.push_back(id);
        else append_bytes(piece, out);
    }
}

}  // namespace orcd
