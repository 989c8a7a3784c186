#include "tokenizer/special_tokens.h"

#include <algorithm>

namespace orcd {

void SpecialTokens::add(int32_t id, std::string_view text, bool always, bool rstrip) {
    if (text.empty()) return;
    entries_.push_back({std::string(text), id, always, rstrip});
}

void SpecialTokens::add_vocabulary(const std::vector<std::string>& tokens, const std::vector<TokenAttr>& attrs,
                                   const std::vector<bool>& control_like, const std::vector<bool>& rstrip) {
    for (size_t i = 0; i < tokens.size(); ++i) {
        const TokenAttr a = attrs[i];
        if (a != TokenAttr::Control && a != TokenAttr::Unknown && a != TokenAttr::UserDefined) continue;
        const bool verbatim = a == TokenAttr::UserDefined && !control_like[i];
        add(static_cast<int32_t>(i), tokens[i], verbatim, i < rstrip.size() && rstrip[i]);
    }
    finish();
}

void SpecialTokens::finish() {
    for (auto& bucket : by_first_) bucket.clear();
    for (uint32_t i = 0; i < entries_.size(); ++i)
        by_first_[static_cast<unsigned char>(entries_[i].text[0])].push_back(i);
    // Longest first; among equal lengths the lower id, so the choice never
    // depends on the order the vocabulary listed its tokens in twice.
    for (auto& bucket : by_first_)
        std::sort(bucket.begin(), bucket.end(), [this](uint32_t a, uint32_t b) {
            const Entry& x = entries_[a];
            const Entry& y = entries_[b];
            return x.text.size() != y.text.size() ? x.text.size() > y.text.size() : x.id < y.id;
        });
}

const SpecialTokens::Entry* SpecialTokens::match_at(std::string_view text, size_t pos, bool parse_special) const {
    const std::string_view rest = text.substr(pos);
    for (uint32_t i : by_first_[static_cast<unsigned char>(text[pos])]) {
        const Entry& e = entries_[i];
        if (!e.always && !parse_special) continue;
        if (rest.starts_with(e.text)) return &e;
    }
    return nullptr;
}

std::vector<SpecialTokens::Piece> SpecialTokens::split(std::string_view text, bool parse_special) const {
    std::vector<Piece> out;
    split_into(text, parse_special, out);
    strip_after_tokens(out);
    return out;
}

std::vector<SpecialTokens::Piece> SpecialTokens::split(const std::vector<TextSegment>& segments) const {
    std::vector<Piece> out;
    for (const TextSegment& seg : segments) split_into(seg.text, seg.parse_special, out);
    strip_after_tokens(out);
    return out;
}

void SpecialTokens::split_into(std::string_view text, bool parse_special, std::vector<Piece>& out) const {
    size_t raw_start = 0;
    size_t pos = 0;
    while (pos < text.size()) {
        const Entry* e = by_first_[static_cast<unsigned char>(text[pos])].empty() ? nullptr
                                                                                  : match_at(text, pos, parse_special);
        if (!e) {
            ++pos;
            continue;
        }
        if (pos > raw_start) out.push_back({text.substr(raw_start, pos - raw_start), -1});
        out.push_back({e->text, e->id, e->rstrip});
        pos += e->text.size();
        raw_start = pos;
    }
    if (raw_start < text.size()) out.push_back({text.substr(raw_start), -1});
}

void SpecialTokens::strip_after_tokens(std::vector<Piece>& pieces) {
    // The whitespace of C's isspace, as the reference implementations strip it.
    const auto space = [](char c) { return c == ' ' || (c >= '\t' && c <= '\r'); };
    bool stripping = false;
    size_t kept = 0;
    for (Piece& p : pieces) {
        if (p.id >= 0) {
            stripping = p.rstrip;
        } else if (stripping) {
            size_t n = 0;
            while (n < p.text.size() && space(p.text[n])) ++n;
            p.text.remove_prefix(n);
            if (p.text.empty()) continue;  // all whitespace: keep stripping into the next run
            stripping = false;
        }
        pieces[kept++] = p;
    }
    pieces.resize(kept);
}

}  // namespace orcd
