// Splitting text on a vocabulary's special tokens before the model's own
// tokenizer sees it. Shared by every tokenizer kind.
//
// Two classes of special token:
//   - verbatim (user-defined) tokens are always cut out of the text;
//   - control tokens (and UNK) only when the caller asks for parse_special,
//     so a prompt typed by a user never turns into control tokens.
// Matching is leftmost-longest over all enabled tokens at once, as the
// Hugging Face tokenizers do (llama.cpp instead cuts the longest token out
// everywhere first; the two differ only when two special tokens overlap in
// the text). A token marked rstrip swallows the whitespace after it (the
// `rstrip` of a tokenizer.json added token), up to the next text or token,
// across segment boundaries too.
#pragma once

#include "tokenizer/tokenizer.h"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace orcd {

class SpecialTokens {
public:
    struct Piece {
        std::string_view text;  // raw text when id < 0, else the token's text
        int32_t id = -1;
        bool rstrip = false;    // a token that swallows the whitespace after it
    };

    // Registers a token; `always` for verbatim tokens, false for control
    // tokens. Empty texts are ignored. The text is copied.
    void add(int32_t id, std::string_view text, bool always, bool rstrip = false);
    // Registers every control, unknown and user-defined token of a
    // vocabulary and finishes. `control_like` marks tokens that count as
    // control even where the file types them user-defined: the special ids
    // (BOS/EOS/UNK/padding/EOT/EOM) and the end-of-generation tokens. A
    // prompt that merely contains their text must not end or restart a
    // turn, so they are matched only with parse_special, like every control
    // token (llama.cpp likewise retypes end-of-generation tokens as control).
    // `rstrip`: per token, or empty for none.
    void add_vocabulary(const std::vector<std::string>& tokens, const std::vector<TokenAttr>& attrs,
                        const std::vector<bool>& control_like, const std::vector<bool>& rstrip = {});
    // Must be called once after the last add() and before split().
    void finish();

    bool empty() const { return entries_.empty(); }
    // Cuts text into raw runs and matched tokens, in order; raw runs are
    // never empty, and the whitespace after an rstrip token is gone. The
    // views point into text and into this object.
    std::vector<Piece> split(std::string_view text, bool parse_special) const;
    // The same for the segments' concatenation, each segment matched with its
    // own parse_special; an rstrip token's whitespace is stripped across the
    // seams too.
    std::vector<Piece> split(const std::vector<TextSegment>& segments) const;

private:
    // Appends the pieces of text to out, nothing stripped yet.
    void split_into(std::string_view text, bool parse_special, std::vector<Piece>& out) const;
    // Removes the whitespace after every rstrip token from the raw runs that
    // follow it, dropping runs left empty.
    static void strip_after_tokens(std::vector<Piece>& pieces);

    struct Entry {
        std::string text;
        int32_t id;
        bool always;
        bool rstrip;
    };
    // The longest enabled entry that starts at text[pos], or nullptr.
    const Entry* match_at(std::string_view text, size_t pos, bool parse_special) const;

    std::vector<Entry> entries_;
    // Entries by first byte, longest first (indices into entries_).
    std::array<std::vector<uint32_t>, 256> by_first_{};
};

}  // namespace orcd
