// The official `openai` npm client against the real worker-orcd binary (CPU
// backend, stories260K with a ChatML chat template added). Run by CTest as
// OpenAiClient.Suite: node --test client.test.mjs, with ORCD_BIN_DIR (the
// build's bin/) and ORCD_DATA_DIR (testdata/) in the environment.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import OpenAI from "openai";

const binDir = process.env.ORCD_BIN_DIR;
const dataDir = process.env.ORCD_DATA_DIR;
assert.ok(binDir && dataDir, "ORCD_BIN_DIR and ORCD_DATA_DIR must be set (CTest sets them)");

const PROMPT = "Once upon a time";
let worker;
let workerLog = "";
let baseURL;
let client;
let tmp;

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function waitForLog(needle, ms) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const poll = setInterval(() => {
      if (workerLog.includes(needle)) {
        clearInterval(poll);
        resolve();
      } else if (Date.now() - started > ms || worker.exitCode !== null) {
        clearInterval(poll);
        reject(new Error(`worker did not log ${needle}:\n${workerLog}`));
      }
    }, 20);
  });
}

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), "orcd-openai-"));
  const model = join(tmp, "stories260K-chatml.gguf");
  const made = spawnSync(join(binDir, "orcd-make-chat-model"), [join(dataDir, "models", "stories260K.gguf"), model],
                         { encoding: "utf8", env: { ...process.env, ORCD_DATA_DIR: dataDir } });
  assert.equal(made.status, 0, made.stderr);
  const port = await freePort();
  worker = spawn(join(binDir, "worker-orcd"), ["--model", model, "--port", String(port), "--device", "cpu"],
                 { stdio: ["ignore", "pipe", "pipe"] });
  worker.stdout.on("data", (d) => { workerLog += d; });
  worker.stderr.on("data", (d) => { workerLog += d; });
  await waitForLog('"event":"ready"', 20000);
  baseURL = `http://127.0.0.1:${port}/v1`;
  client = new OpenAI({ apiKey: "unused", baseURL, maxRetries: 0, timeout: 30000 });
});

after(async () => {
  if (worker && worker.exitCode === null) {
    const exited = new Promise((resolve) => worker.once("exit", resolve));
    worker.kill("SIGTERM");
    await exited;
  }
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const chatArgs = (extra = {}) => ({
  model: "stories260K",
  messages: [{ role: "system", content: "You tell stories." }, { role: "user", content: PROMPT }],
  max_tokens: 24,
  temperature: 0,
  ...extra,
});
const completionArgs = (extra = {}) => ({ model: "stories260K", prompt: PROMPT, max_tokens: 24, temperature: 0, ...extra });

async function collect(stream) {
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  return chunks;
}

test("models.list names the loaded model with its context length", async () => {
  const page = await client.models.list();
  assert.equal(page.data.length, 1);
  assert.equal(page.data[0].object, "model");
  assert.equal(page.data[0].context_length, 2048);
  assert.equal(page.data[0].chat_template, "chatml");
  // models.retrieve: the same entry by its id; another id is a 404.
  const one = await client.models.retrieve(page.data[0].id);
  assert.deepEqual(one, page.data[0]);
  await assert.rejects(client.models.retrieve("no-such-model"), (e) => e instanceof OpenAI.NotFoundError);
});

test("chat, not streaming: message, finish_reason, usage, id and fingerprint", async () => {
  const r = await client.chat.completions.create(chatArgs());
  assert.match(r.id, /^chatcmpl-[0-9a-f]{32}$/);
  assert.equal(r.object, "chat.completion");
  assert.ok(Number.isInteger(r.created) && r.created > 1.7e9);
  assert.match(r.system_fingerprint, /^orcd-[0-9a-f]{12}(-dirty)?-F32$/);
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0].message.role, "assistant");
  assert.ok(r.choices[0].message.content.length > 0);
  assert.equal(r.choices[0].finish_reason, "length");
  assert.equal(r.usage.completion_tokens, 24);
  assert.ok(r.usage.prompt_tokens > 10);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + 24);
});

test("chat, streaming: role first, the same text as without streaming, usage when asked", async () => {
  const whole = await client.chat.completions.create(chatArgs());
  const chunks = await collect(await client.chat.completions.create(
    chatArgs({ stream: true, stream_options: { include_usage: true } })));
  assert.equal(chunks[0].choices[0].delta.role, "assistant");
  assert.ok(chunks.every((c) => c.object === "chat.completion.chunk" && c.id === chunks[0].id));
  const text = chunks.map((c) => c.choices[0]?.delta?.content ?? "").join("");
  assert.equal(text, whole.choices[0].message.content);
  const finishes = chunks.map((c) => c.choices[0]?.finish_reason).filter(Boolean);
  assert.deepEqual(finishes, ["length"]);
  const usage = chunks.at(-1);
  assert.deepEqual(usage.choices, []);
  assert.deepEqual(usage.usage, whole.usage);
});

test("completions, streaming and not, give the same text", async () => {
  const whole = await client.completions.create(completionArgs());
  assert.equal(whole.object, "text_completion");
  assert.match(whole.id, /^cmpl-/);
  assert.ok(whole.choices[0].text.length > 0);
  assert.equal(whole.choices[0].finish_reason, "length");
  assert.equal(whole.usage.completion_tokens, 24);
  const chunks = await collect(await client.completions.create(completionArgs({ stream: true })));
  assert.equal(chunks.map((c) => c.choices[0].text).join(""), whole.choices[0].text);
  assert.equal(chunks.at(-1).choices[0].finish_reason, "length");
});

test("the same seed gives the same text; another seed another text", async () => {
  const sampled = (seed) => client.completions.create(completionArgs({ temperature: 1.0, seed, max_tokens: 32 }));
  const [a, b, c] = [await sampled(42), await sampled(42), await sampled(43)];
  assert.equal(a.choices[0].text, b.choices[0].text);
  assert.notEqual(a.choices[0].text, c.choices[0].text);
  const chatA = await client.chat.completions.create(chatArgs({ temperature: 0.8, seed: 7 }));
  const chatB = await client.chat.completions.create(chatArgs({ temperature: 0.8, seed: 7, stream: false }));
  assert.equal(chatA.choices[0].message.content, chatB.choices[0].message.content);
});

test("a stop list ends the text before the first match, finish_reason stop", async () => {
  const free = (await client.completions.create(completionArgs({ max_tokens: 40 }))).choices[0].text;
  const word = free.trim().split(/\s+/)[2];  // a word the model does say
  assert.ok(word, free);
  const cut = free.slice(0, free.indexOf(word));
  const r = await client.completions.create(completionArgs({ max_tokens: 40, stop: ["never-said-xyz", word] }));
  assert.equal(r.choices[0].text, cut);
  assert.equal(r.choices[0].finish_reason, "stop");
  const single = await client.completions.create(completionArgs({ max_tokens: 40, stop: word }));
  assert.equal(single.choices[0].text, cut);
  const streamed = await collect(await client.completions.create(completionArgs({ max_tokens: 40, stop: [word], stream: true })));
  assert.equal(streamed.map((c) => c.choices[0].text).join(""), cut);
  assert.equal(streamed.at(-1).choices[0].finish_reason, "stop");
});

test("max_tokens and max_completion_tokens end with finish_reason length", async () => {
  const r = await client.chat.completions.create(chatArgs({ max_tokens: undefined, max_completion_tokens: 5 }));
  assert.equal(r.choices[0].finish_reason, "length");
  assert.equal(r.usage.completion_tokens, 5);
  const c = await client.completions.create(completionArgs({ max_tokens: 3 }));
  assert.equal(c.usage.completion_tokens, 3);
  assert.equal(c.choices[0].finish_reason, "length");
});

test("logprobs: the chosen token and top_logprobs alternatives, best first", async () => {
  const r = await client.chat.completions.create(chatArgs({ max_tokens: 6, logprobs: true, top_logprobs: 3 }));
  const content = r.choices[0].logprobs.content;
  assert.equal(content.length, 6);
  assert.equal(content.map((t) => t.token).join(""), r.choices[0].message.content);
  for (const t of content) {
    assert.ok(t.logprob <= 0);
    assert.equal(t.top_logprobs.length, 3);
    // Greedy: the chosen token is the most likely one.
    assert.equal(t.top_logprobs[0].token, t.token);
    assert.equal(t.top_logprobs[0].logprob, t.logprob);
    assert.ok(t.top_logprobs[0].logprob >= t.top_logprobs[1].logprob);
    assert.deepEqual(t.bytes, [...Buffer.from(t.token)]);
  }
  const c = await client.completions.create(completionArgs({ max_tokens: 4, logprobs: 2 }));
  assert.equal(c.choices[0].logprobs.tokens.length, 4);
  assert.equal(c.choices[0].logprobs.tokens.join(""), c.choices[0].text);
  assert.equal(Object.keys(c.choices[0].logprobs.top_logprobs[0]).length, 2);
});

test("presence and frequency penalties change greedy text", async () => {
  const plain = await client.completions.create(completionArgs({ max_tokens: 48 }));
  const penalised = await client.completions.create(completionArgs({ max_tokens: 48, frequency_penalty: 2, presence_penalty: 2 }));
  assert.notEqual(penalised.choices[0].text, plain.choices[0].text);
});

test("a malformed request raises BadRequestError carrying the worker's message and code", async () => {
  await assert.rejects(client.chat.completions.create(chatArgs({ messages: [] })), (e) => {
    assert.ok(e instanceof OpenAI.BadRequestError, String(e));
    assert.equal(e.status, 400);
    assert.equal(e.code, "INVALID_REQUEST");
    assert.equal(e.param, "messages");
    assert.match(e.message, /messages must hold at least one message/);
    return true;
  });
  await assert.rejects(client.completions.create(completionArgs({ n: 2 })), (e) => {
    assert.ok(e instanceof OpenAI.BadRequestError);
    assert.match(e.message, /n must be 1/);
    return true;
  });
  await assert.rejects(client.chat.completions.create(chatArgs({ temperature: 7 })), (e) => {
    assert.ok(e instanceof OpenAI.BadRequestError);
    assert.equal(e.param, "temperature");
    return true;
  });
});

test("busy: 429 with Retry-After, which the client's retry logic survives; a disconnect frees the worker", async () => {
  // A long job on its own connection.
  const hold = new AbortController();
  const long = await fetch(`${baseURL}/completions`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(completionArgs({ max_tokens: 2000, stream: true })),
    signal: hold.signal,
  });
  assert.equal(long.status, 200);
  const reader = long.body.getReader();
  await reader.read();  // the job is running

  const statuses = [];
  const retryAfter = [];
  const retrying = new OpenAI({
    apiKey: "unused",
    baseURL,
    maxRetries: 4,
    fetch: async (url, init) => {
      const res = await fetch(url, init);
      statuses.push(res.status);
      if (res.status === 429) {
        retryAfter.push(res.headers.get("retry-after"));
        hold.abort();  // the long job's client goes away: the worker aborts it
      }
      return res;
    },
  });
  const r = await retrying.completions.create(completionArgs({ max_tokens: 4 }));
  assert.equal(statuses[0], 429);
  assert.equal(retryAfter[0], "1");
  assert.equal(statuses.at(-1), 200);
  assert.equal(r.usage.completion_tokens, 4);
  await waitForLog('"outcome":"client_gone"', 5000);
});
