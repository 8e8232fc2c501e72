/** Bad input through `app.request()`: every case is a 4xx OpenAI-style error naming the field. */
import assert from "node:assert/strict";
import { createServer } from "../src/server/app.ts";
import { FakeEngine } from "./helpers/fake-engine.ts";
import { postJson, silentLog, testConfig } from "./helpers/server.ts";

const user = [{ role: "user", content: "hi" }];
type Case = [name: string, path: string, body: unknown, status: number, param: string | null];
const CHAT = "/v1/chat/completions";
const CMPL = "/v1/completions";

const CASES: Case[] = [
  ["invalid JSON", CHAT, "{", 400, null],
  ["empty body", CHAT, "", 400, null],
  ["array body", CHAT, [1, 2], 400, null],
  ["model of wrong type", CHAT, { model: 5, messages: user }, 400, "model"],
  ["unknown model", CHAT, { model: "gpt-4", messages: user }, 404, "model"],
  ["messages missing", CHAT, { model: "tiny-gsm" }, 400, "messages"],
  ["messages a string", CHAT, { messages: "hi" }, 400, "messages"],
  ["messages empty", CHAT, { messages: [] }, 400, "messages"],
  ["message not an object", CHAT, { messages: ["hi"] }, 400, "messages[0]"],
  [
    "message role tool",
    CHAT,
    { messages: [{ role: "tool", content: "x" }] },
    400,
    "messages[0].role",
  ],
  [
    "content a number",
    CHAT,
    { messages: [{ role: "user", content: 5 }] },
    400,
    "messages[0].content",
  ],
  ["content missing", CHAT, { messages: [{ role: "user" }] }, 400, "messages[0].content"],
  [
    "image content part",
    CHAT,
    { messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "x" } }] }] },
    400,
    "messages[0].content[0].type",
  ],
  ["prompt on chat", CHAT, { messages: user, prompt: "x" }, 400, "prompt"],
  ["max_tokens a string", CHAT, { messages: user, max_tokens: "10" }, 400, "max_tokens"],
  ["max_tokens 0", CHAT, { messages: user, max_tokens: 0 }, 400, "max_tokens"],
  ["max_tokens fractional", CHAT, { messages: user, max_tokens: 1.5 }, 400, "max_tokens"],
  ["max_tokens over the limit", CHAT, { messages: user, max_tokens: 100000 }, 400, "max_tokens"],
  [
    "max_completion_tokens negative",
    CHAT,
    { messages: user, max_completion_tokens: -1 },
    400,
    "max_completion_tokens",
  ],
  ["temperature 3", CHAT, { messages: user, temperature: 3 }, 400, "temperature"],
  ["temperature a string", CHAT, { messages: user, temperature: "hot" }, 400, "temperature"],
  ["top_p 0", CHAT, { messages: user, top_p: 0 }, 400, "top_p"],
  ["top_k fractional", CHAT, { messages: user, top_k: 1.5 }, 400, "top_k"],
  ["seed a string", CHAT, { messages: user, seed: "x" }, 400, "seed"],
  ["stop a number", CHAT, { messages: user, stop: 5 }, 400, "stop"],
  ["stop item a number", CHAT, { messages: user, stop: [1] }, 400, "stop[0]"],
  ["stop item empty", CHAT, { messages: user, stop: ["a", ""] }, 400, "stop[1]"],
  ["n = 2", CHAT, { messages: user, n: 2 }, 400, "n"],
  ["n a string", CHAT, { messages: user, n: "1" }, 400, "n"],
  ["stream a string", CHAT, { messages: user, stream: "yes" }, 400, "stream"],
  [
    "stream_options without stream",
    CHAT,
    { messages: user, stream_options: { include_usage: true } },
    400,
    "stream_options",
  ],
  [
    "include_usage a string",
    CHAT,
    { messages: user, stream: true, stream_options: { include_usage: "y" } },
    400,
    "stream_options.include_usage",
  ],
  [
    "tools",
    CHAT,
    { messages: user, tools: [{ type: "function", function: { name: "f" } }] },
    400,
    "tools",
  ],
  ["logprobs", CHAT, { messages: user, logprobs: true }, 400, "logprobs"],
  [
    "response_format json",
    CHAT,
    { messages: user, response_format: { type: "json_object" } },
    400,
    "response_format",
  ],
  ["presence_penalty", CHAT, { messages: user, presence_penalty: 1 }, 400, "presence_penalty"],
  ["failfast a string", CHAT, { messages: user, failfast: "fast" }, 400, "failfast"],
  [
    "failfast unknown strategy",
    CHAT,
    { messages: user, failfast: { strategy: "magic" } },
    400,
    "failfast.strategy",
  ],
  ["failfast tau 2", CHAT, { messages: user, failfast: { tau: 2 } }, 400, "failfast.tau"],
  ["failfast n0 0", CHAT, { messages: user, failfast: { n0: 0 } }, 400, "failfast.n0"],
  ["failfast unknown key", CHAT, { messages: user, failfast: { bogus: 1 } }, 400, "failfast.bogus"],
  [
    "failfast n_max below n0",
    CHAT,
    { messages: user, failfast: { n0: 20, n_max: 10 } },
    400,
    "failfast.n_max",
  ],
  [
    "failfast sliding and aligned windows",
    CHAT,
    { messages: user, failfast: { align_windows: true, slide_sub_blocks: true } },
    400,
    "failfast.slide_sub_blocks",
  ],
  [
    "failfast draft_reuse a string",
    CHAT,
    { messages: user, failfast: { draft_reuse: "yes" } },
    400,
    "failfast.draft_reuse",
  ],
  ["prompt missing", CMPL, { model: "tiny-gsm" }, 400, "prompt"],
  ["prompt a number", CMPL, { prompt: 5 }, 400, "prompt"],
  ["prompt batch", CMPL, { prompt: ["a", "b"] }, 400, "prompt"],
  ["prompt token ids", CMPL, { prompt: [1, 2, 3] }, 400, "prompt"],
  ["messages on completions", CMPL, { prompt: "a", messages: user }, 400, "messages"],
  ["best_of 2", CMPL, { prompt: "a", best_of: 2 }, 400, "best_of"],
  ["echo", CMPL, { prompt: "a", echo: true }, 400, "echo"],
];

Deno.test("server errors: each bad input is a 4xx error naming the parameter", async () => {
  const engine = new FakeEngine();
  const { app } = createServer({ config: testConfig(), log: silentLog, engine });
  for (const [name, path, body, status, param] of CASES) {
    const res = await postJson(app.request, path, body);
    const json = await res.json();
    assert.equal(res.status, status, `${name}: status (${JSON.stringify(json)})`);
    assert.equal(json.error.param, param, `${name}: param`);
    assert.equal(json.error.type, "invalid_request_error", name);
    assert.ok(json.error.message.length > 5, name);
    assert.ok(json.error.code, `${name}: code`);
    assert.match(res.headers.get("content-type") ?? "", /application\/json/);
  }
  assert.equal(engine.requests.length, 0, "no bad request reached the engine");
  // The server still answers.
  const ok = await postJson(app.request, CHAT, { messages: user, max_tokens: 3 });
  assert.equal(ok.status, 200);
  await ok.body?.cancel();
});

Deno.test("server errors: error codes for invalid JSON, unknown model and n", async () => {
  const { app } = createServer({ config: testConfig(), log: silentLog, engine: new FakeEngine() });
  const codeOf = async (body: unknown) =>
    (await (await postJson(app.request, CHAT, body)).json()).error.code;
  assert.equal(await codeOf("{nope"), "invalid_json");
  assert.equal(await codeOf({ model: "gpt-4", messages: user }), "model_not_found");
  assert.equal(await codeOf({ messages: user, n: 3 }), "unsupported_parameter");
  assert.equal(await codeOf({ messages: user, temperature: "x" }), "invalid_type");
});

Deno.test("server errors: body size limit (declared and streamed) is 413", async () => {
  const { app } = createServer({
    config: testConfig({ maxBodyBytes: 1024 }),
    log: silentLog,
    engine: new FakeEngine(),
  });
  const big = JSON.stringify({ messages: [{ role: "user", content: "x".repeat(2000) }] });
  const res = await postJson(app.request, CHAT, big);
  assert.equal(res.status, 413);
  assert.equal((await res.json()).error.code, "request_too_large");
  // Without content-length: a streamed body is counted as it arrives.
  const bytes = new TextEncoder().encode(big);
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      for (let i = 0; i < bytes.length; i += 256) c.enqueue(bytes.slice(i, i + 256));
      c.close();
    },
  });
  const res2 = await app.request(CHAT, { method: "POST", body: stream });
  assert.equal(res2.status, 413);
  await res2.body?.cancel();
});

Deno.test("server errors: prompt longer than the context window, max_tokens beyond it", async () => {
  const engine = new FakeEngine({ contextLength: 20 });
  const { app } = createServer({ config: testConfig(), log: silentLog, engine });
  const long = Array.from({ length: 30 }, (_, i) => `w${i}`).join(" ");
  let res = await postJson(app.request, CMPL, { prompt: long });
  let json = await res.json();
  assert.equal(res.status, 400);
  assert.equal(json.error.param, "prompt");
  assert.equal(json.error.code, "context_length_exceeded");
  res = await postJson(app.request, CHAT, { messages: [{ role: "user", content: long }] });
  assert.equal((await res.json()).error.param, "messages");
  const ten = Array.from({ length: 10 }, (_, i) => `w${i}`).join(" ");
  res = await postJson(app.request, CMPL, { prompt: ten, max_tokens: 15 });
  json = await res.json();
  assert.equal(res.status, 400);
  assert.equal(json.error.param, "max_tokens");
  // Without max_tokens the default is clamped to what the window leaves.
  res = await postJson(app.request, CMPL, { prompt: ten });
  assert.equal(res.status, 200);
  await res.json();
  assert.equal(engine.requests.at(-1)?.maxTokens, 10);
});

Deno.test("server errors: wrong method is 405, unknown route 404, both JSON", async () => {
  const { app } = createServer({ config: testConfig(), log: silentLog, engine: new FakeEngine() });
  let res = await app.request(CHAT);
  assert.equal(res.status, 405);
  assert.equal((await res.json()).error.code, "method_not_allowed");
  res = await app.request("/v2/nothing");
  assert.equal(res.status, 404);
  assert.equal((await res.json()).error.code, "not_found");
});
