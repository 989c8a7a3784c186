#include "http_mutator.h"

#include <algorithm>
#include <cctype>

namespace orcd::httptest {
namespace {

const char* const kBytes = "\x00\xff\r\n :\"\\{}[],09-%\x7f\x80\xc3\t;=";
constexpr size_t kNumBytes = 22;

const std::vector<std::string> kNumbers = {
    "0", "-1", "1", "-0", "4294967296", "18446744073709551616", "18446744073709551615", "9223372036854775807",
    "-9223372036854775809", "1e309", "-1e309", "NaN", "Infinity", "0.0000001", "1e-400", "99999999999999999999999999",
    "0x10", "1.", ".5", "2049", "32769"};

// Words that mean something to the server: swapping one for another sends a
// body to the wrong endpoint, a header to the wrong meaning, and so on.
const std::vector<std::string> kWords = {
    "GET", "POST", "PUT", "HEAD", "OPTIONS", "/health", "/metrics", "/execute", "/cancel", "/nope",
    "HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "Content-Length", "Transfer-Encoding", "Content-Type", "Expect",
    "Connection", "X-Correlation-Id", "chunked", "close", "keep-alive", "100-continue", "application/json",
    "job_id", "prompt", "max_tokens", "temperature", "top_p", "top_k", "min_p", "repetition_penalty",
    "repetition_last_n", "stop", "seed", "null", "true", "false", "[]", "{}", "\"\""};

}  // namespace

HttpMutator::HttpMutator(std::vector<std::string> corpus, uint64_t seed) : corpus_(std::move(corpus)), rng_(seed) {}

std::string HttpMutator::next() {
    for (;;) {
        std::string s = corpus_[below(corpus_.size())];
        const size_t edits = 1 + below(4);
        for (size_t i = 0; i < edits; ++i) mutate_once(s);
        if (s.find("/shutdown") == std::string::npos) return s;
    }
}

void HttpMutator::mutate_once(std::string& s) {
    const size_t pos = below(s.size() + 1);
    switch (below(14)) {
        case 0:  // flip a bit
            if (!s.empty()) s[pos % s.size()] = static_cast<char>(s[pos % s.size()] ^ (1 << below(8)));
            break;
        case 1:  // a byte that means something to a parser
            if (!s.empty()) s[pos % s.size()] = kBytes[below(kNumBytes)];
            break;
        case 2: {  // a few random bytes
            std::string ins(1 + below(8), '\0');
            for (auto& c : ins) c = static_cast<char>(below(256));
            s.insert(pos, ins);
            break;
        }
        case 3:  // cut a range
            s.erase(pos, 1 + below(32));
            break;
        case 4: {  // copy a range elsewhere
            if (s.empty()) break;
            const size_t from = below(s.size());
            const std::string piece = s.substr(from, 1 + below(64));
            s.insert(below(s.size() + 1), piece);
            break;
        }
        case 5: {  // a long run: headers and values far over any limit
            const size_t n = below(3) == 0 ? 16000 + below(60000) : 1 + below(3000);
            s.insert(pos, std::string(n, s.empty() ? 'a' : s[pos % s.size()]));
            break;
        }
        case 6: {  // an absurd number in place of a number
            size_t at = pos;
            while (at < s.size() && !std::isdigit(static_cast<unsigned char>(s[at]))) ++at;
            if (at >= s.size()) break;
            size_t end = at;
            while (end < s.size() && (std::isdigit(static_cast<unsigned char>(s[end])) || s[end] == '.')) ++end;
            s.replace(at, end - at, kNumbers[below(kNumbers.size())]);
            break;
        }
        case 7: {  // one meaningful word for another
            const std::string& from = kWords[below(kWords.size())];
            const size_t at = s.find(from, below(s.size() + 1) / 2);
            if (at != std::string::npos) s.replace(at, from.size(), kWords[below(kWords.size())]);
            break;
        }
        case 8: {  // splice: this request's head, another's tail
            const std::string& other = corpus_[below(corpus_.size())];
            s = s.substr(0, pos) + other.substr(below(other.size() + 1));
            break;
        }
        case 9:  // truncate
            s.resize(pos);
            break;
        case 10: {  // duplicate a line (a header twice, a request line twice)
            const size_t start = s.rfind('\n', pos == 0 ? 0 : pos - 1);
            const size_t begin = start == std::string::npos ? 0 : start + 1;
            const size_t end = s.find('\n', begin);
            if (end == std::string::npos) break;
            s.insert(begin, s.substr(begin, end - begin + 1));
            break;
        }
        case 11: {  // change the case of a range
            const size_t end = std::min(s.size(), pos + 1 + below(16));
            for (size_t i = pos; i < end; ++i)
                s[i] = static_cast<char>(std::isupper(static_cast<unsigned char>(s[i])) ? std::tolower(s[i]) : std::toupper(s[i]));
            break;
        }
        case 12: {  // an extra header line
            static const std::vector<std::string> lines = {
                "\r\nContent-Length: 5", "\r\nTransfer-Encoding: chunked", "\r\nExpect: 100-continue",
                "\r\nConnection: keep-alive", "\r\nX-Correlation-Id: \x01", "\r\n: empty", "\r\nX:\r\n",
                "\r\nContent-Type: application/json", "\r\nContent-Length: 99999999999999999999"};
            const size_t at = s.find("\r\n", pos);
            if (at != std::string::npos) s.insert(at, lines[below(lines.size())]);
            break;
        }
        default: {  // move the end of the header: a body too short or too long for its length
            const size_t head_end = s.find("\r\n\r\n");
            if (head_end == std::string::npos) break;
            if (below(2)) s.erase(head_end + 4, 1 + below(16));
            else s.append(std::string(1 + below(16), 'x'));
            break;
        }
    }
}

}  // namespace orcd::httptest
