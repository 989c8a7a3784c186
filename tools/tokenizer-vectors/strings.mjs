// The texts every family's conformance vectors encode: the kinds of text a
// byte-level BPE tokenizer gets wrong first. Families add texts built from
// their own special tokens (see make_vectors.mjs).
export const texts = [
  // English
  "Hello world", "Hello, World! How are you today?", "The quick brown fox jumps over the lazy dog.",
  "ALL CAPS SHOUTING HERE", "camelCaseIdentifier and PascalCaseName", "HTTPServerError XMLHttpRequest iPhone",
  "a", "A", "I", "ok.", "Mr. O'Neil's dog; don't panic...",
  // contractions in several cases
  "I'm you're he'll she'd we've it's don't", "I'M YOU'RE HE'LL SHE'D WE'VE IT'S DON'T",
  "I'm You'Re hE'lL sHe'D wE'Ve", "'s 't 're 've 'm 'll 'd", "'S 'T 'RE 'VE 'M 'LL 'D", "rock 'n' roll",
  "isn\u2019t it (a curly apostrophe)", "it'ſ the long s", "''quoted'' 'single' \"double\"",
  // numbers of every length
  "1", "12", "123", "1234", "12345", "123456", "1234567", "12345678", "123456789012345678901234567890",
  "3.14159", "1,000,000 and 1 000 000", "-42 +7 1e-9 6.02e23", "0x1F 0b1010 0o777", "2024-11-28T14:45:58.476Z",
  "v1.2.3-rc.4", "\u0661\u0662\u0663\u0664\u0665 Arabic-Indic digits", "\uff11\uff12\uff13 fullwidth digits",
  "\u00bd \u2153 \u00b2 \u00b3 \u216b", "route 66, 7th street, 101st floor",
  // whitespace runs, tabs, CR, LF
  "a  b   c    d     e", " ", "  ", "   leading", "trailing   ", "\t", "\t\ttab\tseparated\t", "line1\nline2",
  "line1\r\nline2\r\n", "\n", "\n\n\n", " \n \n ", "\r", "\r\r\n\n", "mixed \t\n \r\n\tend", "word\n\n\n\nword",
  "\u00a0no-break\u00a0space", "ideographic\u3000space", "thin\u2009space", "next\u0085line", "mongolian\u180evowel",
  "line\u2028separator\u2029paragraph", "\u000b\u000c vertical tab and form feed",
  // code
  "def foo(bar):\n    return bar * 2\n", "for (int i = 0; i < n; ++i) {\n\tsum += a[i];\n}",
  "const x = {a: 1, b: [2, 3]};", "<div class=\"x\">&amp;</div>", "SELECT * FROM users WHERE id = 42;",
  "#include <stdio.h>\nint main(){printf(\"hi\\n\");}", "a/b/c.txt ../../etc/passwd C:\\Windows\\System32",
  "https://example.com/path?q=1&r=2#frag", "$ ls -la | grep foo > out.txt 2>&1",
  "if x==1:\n\tpass\n\n\n    # comment", "x+=1;y-=2;z*=3;w/=4;", "}}}{{{ ))) ((( ]]] [[[", "@decorator\n@@ -1,3 +1,4 @@",
  // mixed scripts
  "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440!", "\u4f60\u597d\uff0c\u4e16\u754c",
  "\u3053\u3093\u306b\u3061\u306f\u4e16\u754c\u3001\u30ab\u30bf\u30ab\u30ca", "\uc548\ub155\ud558\uc138\uc694",
  "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645", "\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd",
  "\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e", "\u0395\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03ac and English mixed",
  "Ti\u1ebfng Vi\u1ec7t c\u00f3 d\u1ea5u", "\u0e44\u0e17\u0e22 \u0e20\u0e32\u0e29\u0e32", "\u0130stanbul \u0131\u015f\u0131k",
  "\u03a3\u0391\u03a3 \u03c3\u03b1\u03c2", "Stra\u00dfe STRASSE \u1e9e", "\u1f00\u1f10\u1f20 polytonic",
  // emoji and ZWJ sequences
  "\ud83d\ude00", "\ud83d\udc4d\ud83c\udffd thumbs", "\ud83d\udc68\u200d\ud83d\udc69\u200d\ud83d\udc67\u200d\ud83d\udc66 family",
  "\ud83c\udff3\ufe0f\u200d\ud83c\udf08 flag", "\ud83c\uddfa\ud83c\uddf8\ud83c\uddef\ud83c\uddf5", "I \u2764\ufe0f NY",
  "emoji\ud83d\ude42inside\ud83d\ude43words", "\ud83e\uddd1\ud83c\udffe\u200d\ud83d\udcbb coder",
  // combining marks (several are not in NFC)
  "e\u0301", "caf\u00e9 vs cafe\u0301", "n\u0303o", "\u00c5 vs A\u030a vs \u212b", "\u2126 ohm vs \u03a9 omega",
  "Z\u0351\u0362a\u0334l\u0336g\u0337o", "\u0301 leading combining mark", "\ufb01 ligature", "\u1100\u1161\u11a8 jamo",
  "q\u0307\u0323 dot above and below",
  // strings that look like special tokens
  "<|endoftext|>", "<|im_start|>user\nhi<|im_end|>", "<|begin_of_text|>hello", "<s> and </s>", "<unk>",
  "<|start|>assistant<|channel|>final<|message|>hi<|return|>", "<think>reasoning</think>", "[INST] hi [/INST]",
  "<|reserved_special_token_5|>", "<|endoftext|><|endoftext|>", "a<|im_end|>b", "<|im_start", "im_end|>",
  "<|fim_prefix|>def f():<|fim_suffix|>\n<|fim_middle|>", "<tool_call>{}</tool_call>", "< |endoftext| >",
  // odd characters
  "\u0000 nul", "\ufeff byte order mark", "zero\u200bwidth", "soft\u00adhyphen", "\u007f del", "\u00ff\u00fe",
  "\ud800\udc00 linear b", "\ud83d\ude00".repeat(8), "a".repeat(64), " ".repeat(33) + "x", "9".repeat(17),
];
