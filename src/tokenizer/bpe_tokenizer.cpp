#include "tokenizer/bpe_tokenizer.h"

#include "common/error.h"

#include <algorithm>
#include <limits>
#include <queue>

namespace orcd {

namespace {

// GPT-2's byte-to-character map: printable Latin-1 bytes stand for
// themselves, the other 68 (controls, space, DEL, NBSP, soft hyphen) are
// moved to U+0100.. in byte order, so every byte is a visible character.
uint32_t byte_to_code_point(int b) {
    const auto self = [](int x) { return (x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174 && x <= 255); };
    if (self(b)) return static_cast<uint32_t>(b);
    int moved = 0;
    for (int x = 0; x < b; ++x) moved += !self(x);
    return 256u + static_cast<uint32_t>(moved);
}

constexpr uint32_t kMapEnd = 256 + 68;  // one past the largest mapped code point

std::string utf8_of(uint32_t cp) {
    std::string s;
    if (cp < 0x80) {
        s += static_cast<char>(cp);
    } else {  // the map never goes past U+0143
        s += static_cast<char>(0xC0 | (cp >> 6));
        s += static_cast<char>(0x80 | (cp & 0x3F));
    }
    return s;
}

// Tokens OpenAI's harmony format (GPT-OSS) needs in the output to tell its
// channels apart: rendered as text although they are control tokens, as
// llama.cpp renders them.
constexpr std::string_view kHarmonyMarkup[] = {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"};

// One symbol of a word being merged: a token id in a linked list.
struct Symbol {
    int32_t id;
    int prev;
    int next;
    bool alive;
};

struct Candidate {
    uint32_t rank;
    int left;
    int right;
    int32_t left_id;
    int32_t right_id;
};

// Lowest rank first; on equal ranks the leftmost pair.
struct CandidateOrder {
    bool operator()(const Candidate& a, const Candidate& b) const {
        return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
    }
};

}  // namespace

BpeTokenizer::BpeTokenizer(BpeVocab vocab) : v_(std::move(vocab)) {
    const size_t n = v_.tokens.size();
    check_vocabulary(n, v_.attrs.size(), v_.ids);
    spec_ = find_pre_tokenizer(v_.pre);
    if (!spec_)
        fail(ORCD_MODEL_LOAD_FAILED, "tokenizer: unsupported pre-tokenizer '" + v_.pre +
                                         "' (tokenizer.ggml.pre); supported: " + known_pre_tokenizers());
    splitter_ = std::make_unique<RegexSplitter>(spec_->regexes);
    add_bos_ = v_.add_bos.value_or(spec_->add_bos);
    if (add_bos_ && v_.ids.bos < 0)
        fail(ORCD_MODEL_LOAD_FAILED, "tokenizer: the vocabulary adds BOS but has no BOS token");
    if (v_.add_eos && v_.ids.eos < 0)
        fail(ORCD_MODEL_LOAD_FAILED, "tokenizer: add_eos_token is set but the vocabulary has no EOS token");

    ids_.reserve(n);
    for (size_t i = 0; i < n; ++i) ids_[v_.tokens[i]] = static_cast<int32_t>(i);  // a later duplicate wins

    // Byte spelling, and its inverse for rendering tokens as bytes.
    std::array<int, kMapEnd> byte_of{};
    byte_of.fill(-1);
    for (int b = 0; b < 256; ++b) {
        const uint32_t cp = byte_to_code_point(b);
        byte_of[cp] = b;
        byte_chars_[static_cast<size_t>(b)] = utf8_of(cp);
        byte_ids_[static_cast<size_t>(b)] = find(byte_chars_[static_cast<size_t>(b)]);
        if (byte_ids_[static_cast<size_t>(b)] < 0)
            fail(ORCD_MODEL_LOAD_FAILED, "tokenizer: the byte-level vocabulary has no token for byte " +
                                             std::to_string(b) + " ('" + byte_chars_[static_cast<size_t>(b)] + "')");
    }

    end_of_generation_ = end_of_generation_set(v_.tokens, v_.ids);
    const bool harmony = find("<|return|>") >= 0 && find("<|call|>") >= 0;
    pieces_.resize(n);
    for (size_t i = 0; i < n; ++i) {
        const std::string& text = v_.tokens[i];
        switch (v_.attrs[i]) {
            case TokenAttr::Normal: {
                std::string& out = pieces_[i];
                for (size_t pos = 0; pos < text.size();) {
                    const auto lead = static_cast<unsigned char>(text[pos]);
                    const size_t len = std::min<size_t>(lead < 0xC0 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4,
                                                        text.size() - pos);
                    uint32_t cp = len == 2 ? ((lead & 0x1Fu) << 6) | (static_cast<unsigned char>(text[pos + 1]) & 0x3Fu)
                                           : lead;
                    if ((len == 1 && lead >= 0x80) || len > 2) cp = kMapEnd;  // not a mapped character
                    // A character outside the map (no converter writes one)
                    // stands for its own UTF-8 bytes.
                    if (cp < kMapEnd && byte_of[cp] >= 0) out += static_cast<char>(byte_of[cp]);
                    else out.append(text, pos, len);
                    pos += len;
                }
                break;
            }
            case TokenAttr::UserDefined:
                pieces_[i] = text;  // stored as plain text, not byte-spelled
                break;
            case TokenAttr::Control:
                if (harmony && std::find(std::begin(kHarmonyMarkup), std::end(kHarmonyMarkup), text) !=
                                   std::end(kHarmonyMarkup))
                    pieces_[i] = text;
                break;
            case TokenAttr::Unknown:
            case TokenAttr::Unused:
            case TokenAttr::Byte:
                break;  // rendered as nothing, as llama.cpp does without "special" rendering
        }
    }

    merges_.reserve(v_.merges.size());
    for (size_t r = 0; r < v_.merges.size(); ++r) {
        const std::string& m = v_.merges[r];
        // The separator is the first space after the first character, so a
        // left part that is itself a space still parses.
        const size_t sp = m.find(' ', 1);
        if (sp == std::string::npos)
            fail(ORCD_MODEL_LOAD_FAILED, "tokenizer: tokenizer.ggml.merges[" + std::to_string(r) + "] = '" + m +
                                             "' is not two parts separated by a space");
        const int32_t left = find(std::string_view(m).substr(0, sp));
        const int32_t right = find(std::string_view(m).substr(sp + 1));
        const int32_t merged = find(std::string(m, 0, sp) + m.substr(sp + 1));
        // A merge of or into unknown tokens can never apply.
        if (left < 0 || right < 0 || merged < 0) continue;
        const uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
        merges_.emplace(key, Merge{static_cast<uint32_t>(r), merged});  // the first (lowest) rank wins
    }

    specials_.add_vocabulary(v_.tokens, v_.attrs, control_like(v_.ids, end_of_generation_));
}

int32_t BpeTokenizer::find(std::string_view text) const {
    const auto it = ids_.find(text);
    return it == ids_.end() ? -1 : it->second;
}


const BpeTokenizer::Merge* BpeTokenizer::merge_of(int32_t left, int32_t right) const {
    const uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
    const auto it = merges_.find(key);
    return it == merges_.end() ? nullptr : &it->second;
}

void BpeTokenizer::encode_word(std::string_view word, std::string& spelled, std::vector<int32_t>& out) const {
    if (spec_->ignore_merges) {
        spelled.clear();
        for (char c : word) spelled += byte_chars_[static_cast<unsigned char>(c)];
        const int32_t id = find(spelled);
        if (id >= 0 && v_.attrs[static_cast<size_t>(id)] == TokenAttr::Normal) {
            out.push_back(id);
            return;
        }
    }
    if (word.size() == 1) {
        out.push_back(byte_ids_[static_cast<unsigned char>(word[0])]);
        return;
    }

    std::vector<Symbol> syms;
    syms.reserve(word.size());
    for (size_t i = 0; i < word.size(); ++i) {
        const int idx = static_cast<int>(i);
        syms.push_back({byte_ids_[static_cast<unsigned char>(word[i])], idx - 1,
                        i + 1 == word.size() ? -1 : idx + 1, true});
    }
    std::vector<Candidate> storage;
    storage.reserve(word.size());
    std::priority_queue<Candidate, std::vector<Candidate>, CandidateOrder> queue(CandidateOrder{}, std::move(storage));
    const auto consider = [&](int left, int right) {
        if (left < 0 || right < 0) return;
        const int32_t a = syms[static_cast<size_t>(left)].id;
        const int32_t b = syms[static_cast<size_t>(right)].id;
        if (const Merge* m = merge_of(a, b)) queue.push({m->rank, left, right, a, b});
    };
    for (int i = 0; i + 1 < static_cast<int>(syms.size()); ++i) consider(i, i + 1);

    while (!queue.empty()) {
        const Candidate c = queue.top();
        queue.pop();
        Symbol& left = syms[static_cast<size_t>(c.left)];
        Symbol& right = syms[static_cast<size_t>(c.right)];
        // Stale: one side merged with something else since it was queued.
        if (!left.alive || !right.alive || left.next != c.right || left.id != c.left_id || right.id != c.right_id)
            continue;
        left.id = merge_of(c.left_id, c.right_id)->id;
        right.alive = false;
        left.next = right.next;
        if (right.next >= 0) syms[static_cast<size_t>(right.next)].prev = c.left;
        consider(left.prev, c.left);
        consider(c.left, left.next);
    }
    for (int i = 0; i >= 0; i = syms[static_cast<size_t>(i)].next) out.push_back(syms[static_cast<size_t>(i)].id);
}

std::vector<int32_t> BpeTokenizer::encode(std::string_view text, bool add_bos, bool parse_special) const {
    return encode_pieces(specials_.split(text, parse_special), add_bos, text.size());
}

std::vector<int32_t> BpeTokenizer::encode_segments(const std::vector<TextSegment>& segments, bool add_bos) const {
    // As one text, as the reference tokenizes a rendered chat template: a raw
    // run that continues across segments is pre-tokenized whole (the regex
    // may join the end of one with the start of the next).
    std::vector<std::string> joined;
    std::vector<int32_t> ids;  // per piece: the token, or -1 for joined[k]
    for (const SpecialTokens::Piece& p : specials_.split(segments)) {
        if (p.id < 0 && !ids.empty() && ids.back() < 0) {
            joined.back() += p.text;
        } else {
            ids.push_back(p.id);
            joined.emplace_back(p.id < 0 ? std::string(p.text) : std::string());
        }
    }
    std::vector<SpecialTokens::Piece> pieces;
    for (size_t k = 0; k < ids.size(); ++k) pieces.push_back({joined[k], ids[k]});
    return encode_pieces(pieces, add_bos, total_size(segments));
}

std::vector<int32_t> BpeTokenizer::encode_pieces(const std::vector<SpecialTokens::Piece>& pieces, bool add_bos,
                                                 size_t size_hint) const {
    std::vector<int32_t> out;
    if (add_bos && add_bos_) out.push_back(v_.ids.bos);
    out.reserve(out.size() + size_hint / 3 + 2);
    std::vector<std::string_view> words;
    std::string normalized;
    std::string spelled;
    for (const SpecialTokens::Piece& piece : pieces) {
        if (piece.id >= 0) {
            out.push_back(piece.id);
            continue;
        }
        std::string_view raw = piece.text;
        if (spec_->nfc) {
            normalized = nfc_normalize(raw);
            raw = normalized;
        }
        words.clear();
        splitter_->split(raw, words);
        for (std::string_view w : words) encode_word(w, spelled, out);
    }
    if (add_bos && v_.add_eos) out.push_back(v_.ids.eos);
    return out;
}

}  // namespace orcd
