/** The app through `app.request()` with the fake engine: shapes, SSE framing, limits, metrics. */
import assert from "node:assert/strict";
import { createServer } from "../src/server/app.ts";
import type { Engine } from "../src/engine/types.ts";
import { DEFAULT_ROUNDS, FakeEngine } from "./helpers/fake-engine.ts";
import { jsonEvents, postJson, readSse, silentLog, testConfig } from "./helpers/server.ts";

const CHAT = "/v1/chat/completions";
const CMPL = "/v1/completions";
const messages = [{ role: "user", content: "Natalia sold clips" }];

function setup(
  engine: Engine | Promise<Engine> = new FakeEngine(),
  config = testConfig(),
) {
  const handle = createServer({ config, log: silentLog, engine });
  return { handle, app: handle.app, request: handle.app.request };
}

Deno.test("server app: non-streaming chat completion in OpenAI's shape with speculative usage", async () => {
  const engine = new FakeEngine();
  const { request } = setup(engine);
  const res = await postJson(request, CHAT, { model: "tiny-gsm", messages, max_tokens: 29 });
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.match(body.id, /^chatcmpl-/);
  assert.equal(body.object, "chat.completion");
  assert.equal(body.model, "tiny-gsm");
  assert.equal(typeof body.created, "number");
  assert.equal(body.choices.length, 1);
  assert.equal(body.choices[0].message.role, "assistant");
  assert.equal(body.choices[0].message.content, engine.expectedText(engine.requests[0]));
  assert.equal(body.choices[0].finish_reason, "length");
  assert.equal(body.usage.completion_tokens, 29);
  assert.equal(body.usage.prompt_tokens, 6);
  assert.equal(body.usage.total_tokens, 35);
  const s = body.usage.speculative;
  assert.equal(s.strategy, "failfast");
  // Rounds emit 10, 15, 1 and 3 tokens.
  assert.equal(s.rounds, 4);
  assert.equal(s.mean_accepted_length, 7.25);
  assert.equal(s.accepted_tokens, 9 + 14 + 0 + 2);
  assert.equal(s.drafted_tokens, 50);
  assert.equal(s.acceptance_rate, 0.5);
  assert.equal(s.max_accepted, 14);
  assert.deepEqual(s.accepted_length_counts.slice(0, 16), [
    0,
    1,
    0,
    1,
    0,
    0,
    0,
    0,
    0,
    0,
    1,
    0,
    0,
    0,
    0,
    1,
  ]);
  assert.equal(res.headers.get("x-request-id"), body.id);
});

Deno.test("server app: non-streaming text completion", async () => {
  const engine = new FakeEngine({ naturalLength: 12 });
  const { request } = setup(engine);
  const res = await postJson(request, CMPL, { prompt: "Once upon", max_tokens: 100 });
  const body = await res.json();
  assert.equal(res.status, 200);
  assert.match(body.id, /^cmpl-/);
  assert.equal(body.object, "text_completion");
  assert.equal(body.choices[0].text, engine.expectedText(engine.requests[0]));
  assert.equal(body.choices[0].finish_reason, "stop");
  assert.equal(engine.requests[0].prompt, "Once upon");
});

Deno.test("server app: SSE framing of a chat stream, with per-round failfast fields", async () => {
  const engine = new FakeEngine();
  const { request } = setup(engine);
  const res = await postJson(request, CHAT, { messages, max_tokens: 25, stream: true });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type")!, /^text\/event-stream/);
  assert.equal(res.headers.get("cache-control"), "no-cache");
  const { raw, events } = await readSse(res);
  // Every event is exactly "data: <payload>\n\n"; the stream ends with [DONE].
  assert.match(raw, /^(data: [^\n]+\n\n)+$/);
  assert.ok(raw.endsWith("data: [DONE]\n\n"));
  assert.equal(events.at(-1), "[DONE]");
  const chunks = jsonEvents(events);
  const id = chunks[0].id;
  for (const c of chunks) {
    assert.equal(c.object, "chat.completion.chunk");
    assert.equal(c.id, id);
    assert.equal(c.model, "tiny-gsm");
    assert.equal("usage" in c, false, "no usage without include_usage");
  }
  assert.deepEqual(chunks[0].choices[0].delta, { role: "assistant", content: "" });
  const deltas = chunks.slice(1, -1);
  assert.equal(
    deltas.map((c) => c.choices[0].delta.content).join(""),
    engine.expectedText(engine.requests[0]),
  );
  assert.deepEqual(
    deltas.map((c) => c.choices[0].failfast),
    [
      { drafted: 10, accepted_draft: 9, accepted_lookup: 0, tokens: 10 },
      { drafted: 20, accepted_draft: 14, accepted_lookup: 0, tokens: 15 },
    ],
  );
  const last = chunks.at(-1)!;
  assert.deepEqual(last.choices[0].delta, {});
  assert.equal(last.choices[0].finish_reason, "length");
});

Deno.test("server app: include_usage adds a final usage chunk before [DONE]", async () => {
  const { request } = setup();
  const res = await postJson(request, CHAT, {
    messages,
    max_tokens: 12,
    stream: true,
    stream_options: { include_usage: true },
  });
  const { events } = await readSse(res);
  assert.equal(events.at(-1), "[DONE]");
  const chunks = jsonEvents(events);
  const usageChunk = chunks.at(-1)!;
  assert.deepEqual(usageChunk.choices, []);
  assert.equal(usageChunk.usage.completion_tokens, 12);
  assert.equal(usageChunk.usage.total_tokens, 12 + 6);
  assert.equal(usageChunk.usage.speculative.strategy, "failfast");
  assert.equal(usageChunk.usage.speculative.rounds, 2);
  for (const c of chunks.slice(0, -1)) assert.equal(c.usage, null);
  assert.equal(chunks.at(-2)!.choices[0].finish_reason, "length");
});

Deno.test("server app: streaming text completion chunks", async () => {
  const engine = new FakeEngine();
  const { request } = setup(engine);
  const res = await postJson(request, CMPL, { prompt: "x y", max_tokens: 11, stream: true });
  const chunks = jsonEvents((await readSse(res)).events);
  for (const c of chunks) assert.equal(c.object, "text_completion");
  assert.equal(
    chunks.map((c) => c.choices[0].text).join(""),
    engine.expectedText(engine.requests[0]),
  );
  assert.equal(chunks.at(-1)!.choices[0].finish_reason, "length");
  assert.equal(chunks[0].choices[0].failfast.accepted_draft, 9);
});

Deno.test("server app: request fields and the failfast extension reach the engine", async () => {
  const engine = new FakeEngine();
  const { request } = setup(engine, testConfig({ strategy: "dllm-fixed" }));
  let res = await postJson(request, CHAT, {
    messages: [{ role: "developer", content: "be brief" }, {
      role: "user",
      content: [{ type: "text", text: "a " }, { type: "text", text: "b" }],
    }],
    max_tokens: 7,
    temperature: 0.7,
    top_p: 0.9,
    top_k: 40,
    seed: 123,
    stop: "gamma",
    failfast: {
      strategy: "ar",
      tau: 0.3,
      n0: 5,
      n_max: 20,
      draft_reuse: true,
      align_windows: false,
    },
  });
  const body = await res.json();
  assert.equal(res.status, 200);
  assert.deepEqual(engine.requests[0], {
    messages: [{ role: "system", content: "be brief" }, { role: "user", content: "a b" }],
    maxTokens: 7,
    temperature: 0.7,
    topP: 0.9,
    topK: 40,
    seed: 123,
    stop: ["gamma"],
    strategy: "ar",
    params: { tau: 0.3, n0: 5, nMax: 20, draftReuse: true, alignWindows: false },
  });
  assert.equal(body.usage.speculative.strategy, "ar");
  // Without the extension the configured strategy applies.
  res = await postJson(request, CMPL, { prompt: "p", max_tokens: 3 });
  await res.json();
  assert.equal(engine.requests[1].strategy, "dllm-fixed");
  assert.equal(engine.requests[1].params, undefined);
});

Deno.test("server app: /v1/models, /health (503 until ready), GET / page", async () => {
  let resolve!: (e: Engine) => void;
  const pending = new Promise<Engine>((r) => resolve = r);
  const { handle, request } = setup(pending);
  let res = await request("/health");
  assert.equal(res.status, 503);
  assert.equal((await res.json()).status, "loading");
  res = await postJson(request, CHAT, { messages });
  assert.equal(res.status, 503);
  assert.equal((await res.json()).error.code, "model_loading");
  assert.equal(handle.ready, false);
  resolve(new FakeEngine());
  await pending;
  res = await request("/health");
  assert.equal(res.status, 200);
  const health = await res.json();
  assert.equal(health.status, "ok");
  assert.equal(health.context_length, 512);
  res = await request("/v1/models");
  const models = await res.json();
  assert.equal(models.object, "list");
  assert.equal(models.data[0].id, "tiny-gsm");
  assert.equal(models.data[0].object, "model");
  assert.equal((await request("/v1/models/tiny-gsm")).status, 200);
  const missing = await request("/v1/models/other");
  assert.equal(missing.status, 404);
  assert.equal((await missing.json()).error.code, "model_not_found");
  res = await request("/");
  assert.match(res.headers.get("content-type")!, /text\/html/);
  const html = await res.text();
  assert.match(html, /FailFast/);
  for (const s of ["failfast", "ar", "dllm-fixed", "ar-draft"]) {
    assert.ok(html.includes(`<option value="${s}"`), s);
  }
});

Deno.test("server app: /health reports a failed load with 503 and the reason", async () => {
  const failing = Promise.reject(new Error("verifier not found"));
  const { request } = setup(failing);
  await failing.catch(() => {});
  await new Promise((r) => setTimeout(r, 0));
  const res = await request("/health");
  assert.equal(res.status, 503);
  assert.deepEqual(await res.json(), { status: "failed", error: "verifier not found" });
  const gen = await postJson(request, CHAT, { messages });
  assert.equal((await gen.json()).error.code, "model_load_failed");
});

Deno.test("server app: /metrics exposes requests, tokens, drafted/accepted, histograms, queue", async () => {
  const { request } = setup();
  await (await postJson(request, CHAT, { messages, max_tokens: 29 })).json();
  await (await postJson(request, CHAT, { messages: "bad" })).json();
  const res = await request("/metrics");
  assert.match(res.headers.get("content-type")!, /^text\/plain; version=0.0.4/);
  const text = await res.text();
  const has = (line: string) => assert.ok(text.includes(line), `missing: ${line}\n${text}`);
  has('failfast_http_requests_total{code="200",route="/v1/chat/completions"} 1');
  has('failfast_http_requests_total{code="400",route="/v1/chat/completions"} 1');
  has('failfast_generations_total{finish_reason="length",strategy="failfast"} 1');
  has("failfast_completion_tokens_total 29");
  has('failfast_drafted_tokens_total{strategy="failfast"} 50');
  has('failfast_accepted_tokens_total{strategy="failfast"} 25');
  has('failfast_rounds_total{strategy="failfast"} 4');
  has('failfast_accepted_length_bucket{le="1",strategy="failfast"} 1');
  has('failfast_accepted_length_bucket{le="+Inf",strategy="failfast"} 4');
  has('failfast_request_duration_seconds_count{route="/v1/chat/completions"} 1');
  has("failfast_time_to_first_token_seconds_count 1");
  has("# TYPE failfast_queue_depth gauge");
  has("failfast_queue_depth 0");
  has("failfast_ready 1");
});

Deno.test("server app: /metrics also speaks vLLM's speculative-decoding counters", async () => {
  const { request } = setup();
  // rounds (drafted, accepted): (10, 9), (20, 14), (10, 0), (10, 2)
  const body = await (await postJson(request, CHAT, { messages, max_tokens: 29 })).json();
  assert.deepEqual(body.usage.speculative.accepted_by_draft_length, {
    10: [1, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0],
    20: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0],
  });
  const text = await (await request("/metrics")).text();
  const has = (line: string) => assert.ok(text.includes(line), `missing: ${line}\n${text}`);
  const labels = 'engine="0",model_name="tiny-gsm"';
  has(`vllm:spec_decode_num_drafts_total{${labels}} 4`);
  has(`vllm:spec_decode_num_draft_tokens_total{${labels}} 50`);
  has(`vllm:spec_decode_num_accepted_tokens_total{${labels}} 25`);
  has(`vllm:spec_decode_num_accepted_tokens_per_pos_total{${labels},position="0"} 3`);
  has(`vllm:spec_decode_num_accepted_tokens_per_pos_total{${labels},position="2"} 2`);
  has(`vllm:spec_decode_num_accepted_tokens_per_pos_total{${labels},position="13"} 1`);
  assert.ok(!text.includes('position="14"'), "no round accepted a 15th token");
});

Deno.test("server app: beyond the concurrency and queue limits the answer is 429 with Retry-After", async () => {
  const engine = new FakeEngine({ roundDelayMs: 20, naturalLength: 1000, contextLength: 1e6 });
  const { handle, request } = setup(
    engine,
    testConfig({ maxConcurrent: 1, maxQueue: 1, maxTokens: 1000 }),
  );
  const body = { messages, stream: true, max_tokens: 1000 };
  const first = await postJson(request, CHAT, body); // holds the only slot
  const second = postJson(request, CHAT, body); // waits in the queue
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(handle.limiter.active, 1);
  assert.equal(handle.limiter.queued, 1);
  assert.match(await (await request("/metrics")).text(), /failfast_queue_depth 1/);
  const third = await postJson(request, CHAT, body);
  assert.equal(third.status, 429);
  assert.ok(Number(third.headers.get("retry-after")) >= 1);
  const err = (await third.json()).error;
  assert.equal(err.code, "overloaded");
  assert.equal(err.type, "rate_limit_error");
  // Freeing the slot admits the queued request.
  await first.body!.cancel();
  const res2 = await second;
  assert.equal(res2.status, 200);
  await res2.body!.cancel();
  await handle.idle();
  assert.equal(engine.maxActive, 1);
  assert.equal(engine.cancelled, 2);
});

Deno.test("server app: cancelling the response body aborts the generation", async () => {
  const engine = new FakeEngine({ roundDelayMs: 10, naturalLength: 10000, contextLength: 1e6 });
  const { handle, request } = setup(engine, testConfig({ maxTokens: 10000 }));
  const res = await postJson(request, CHAT, { messages, stream: true, max_tokens: 10000 });
  const reader = res.body!.getReader();
  await reader.read();
  await reader.read();
  await reader.cancel();
  await handle.idle();
  assert.equal(engine.cancelled, 1);
  assert.equal(engine.completed, 0);
  assert.equal(handle.inFlight, 0);
  assert.equal(handle.limiter.active, 0);
});

Deno.test("server app: the request timeout cancels generations (408 or an error event)", async () => {
  const engine = new FakeEngine({ roundDelayMs: 40, naturalLength: 10000, contextLength: 1e6 });
  const { handle, request } = setup(
    engine,
    testConfig({ requestTimeoutMs: 100, maxTokens: 10000 }),
  );
  let res = await postJson(request, CHAT, { messages, max_tokens: 10000 });
  assert.equal(res.status, 408);
  assert.equal((await res.json()).error.code, "timeout");
  res = await postJson(request, CHAT, { messages, max_tokens: 10000, stream: true });
  assert.equal(res.status, 200);
  const { events } = await readSse(res);
  assert.notEqual(events.at(-1), "[DONE]");
  assert.equal(JSON.parse(events.at(-1)!).error.code, "timeout");
  assert.equal(engine.cancelled, 2);
  assert.equal(handle.inFlight, 0);
});

Deno.test("server app: an engine failure mid-stream is an error event; the server keeps serving", async () => {
  const engine = new FakeEngine({ failAfterRounds: 2 });
  const { handle, request } = setup(engine);
  const res = await postJson(request, CHAT, { messages, stream: true });
  const { events } = await readSse(res);
  const last = JSON.parse(events.at(-1)!);
  assert.equal(last.error.type, "server_error");
  assert.match(last.error.message, /fake engine failure/);
  const res2 = await postJson(request, CHAT, { messages });
  assert.equal(res2.status, 500);
  assert.equal((await res2.json()).error.type, "server_error");
  assert.equal(handle.inFlight, 0);
  assert.equal(handle.limiter.active, 0);
  assert.equal((await request("/health")).status, 200);
});

Deno.test("server app: bearer auth guards /v1 when an API key is configured", async () => {
  const { request } = setup(new FakeEngine(), testConfig({ apiKey: "sekret" }));
  let res = await postJson(request, CHAT, { messages, max_tokens: 2 });
  assert.equal(res.status, 401);
  assert.equal(res.headers.get("www-authenticate"), "Bearer");
  assert.equal((await res.json()).error.code, "invalid_api_key");
  res = await postJson(request, CHAT, { messages, max_tokens: 2 }, {
    authorization: "Bearer nope",
  });
  assert.equal(res.status, 401);
  await res.body?.cancel();
  res = await postJson(request, CHAT, { messages, max_tokens: 2 }, {
    authorization: "Bearer sekret",
  });
  assert.equal(res.status, 200);
  await res.json();
  assert.equal((await request("/v1/models")).status, 401);
  assert.equal((await request("/health")).status, 200);
  assert.equal((await request("/")).status, 200);
});

Deno.test("server app: each API key is a lookup-cache scope of its own", async () => {
  const engine = new FakeEngine();
  const { request } = setup(engine, testConfig({ apiKey: "first, second" }));
  for (const key of ["second", "first", "second"]) {
    const res = await postJson(request, CHAT, { messages, max_tokens: 2 }, {
      authorization: `Bearer ${key}`,
    });
    assert.equal(res.status, 200);
    await res.json();
  }
  assert.deepEqual(engine.requests.map((r) => r.cacheScope), ["key 1", "key 0", "key 1"]);
});

Deno.test("server app: CORS headers from config, preflight answered before auth", async () => {
  const { request } = setup(
    new FakeEngine(),
    testConfig({ corsOrigin: "https://example.com", apiKey: "k" }),
  );
  const pre = await request(CHAT, {
    method: "OPTIONS",
    headers: {
      origin: "https://example.com",
      "access-control-request-method": "POST",
      "access-control-request-headers": "authorization, content-type",
    },
  });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers.get("access-control-allow-origin"), "https://example.com");
  assert.match(pre.headers.get("access-control-allow-headers")!, /Authorization/);
  const res = await postJson(request, CHAT, { messages, max_tokens: 2 }, {
    origin: "https://example.com",
    authorization: "Bearer k",
  });
  assert.equal(res.headers.get("access-control-allow-origin"), "https://example.com");
  await res.json();
  const denied = await postJson(request, CHAT, { messages }, { origin: "https://example.com" });
  assert.equal(denied.status, 401);
  assert.equal(denied.headers.get("access-control-allow-origin"), "https://example.com");
  await denied.body?.cancel();
  // Without corsOrigin no CORS headers are sent.
  const plain = setup();
  const r = await plain.request("/health", { headers: { origin: "https://example.com" } });
  assert.equal(r.headers.get("access-control-allow-origin"), null);
  await r.body?.cancel();
});

Deno.test("server app: draining refuses new generations and cancelAll ends running ones", async () => {
  const engine = new FakeEngine({ roundDelayMs: 10, naturalLength: 10000, contextLength: 1e6 });
  const { handle, request } = setup(engine, testConfig({ maxTokens: 10000 }));
  const running = await postJson(request, CHAT, { messages, stream: true, max_tokens: 10000 });
  handle.drain();
  const refused = await postJson(request, CHAT, { messages });
  assert.equal(refused.status, 503);
  assert.equal((await refused.json()).error.code, "server_shutting_down");
  assert.equal((await request("/health")).status, 503);
  handle.cancelAll();
  const { events } = await readSse(running);
  assert.equal(JSON.parse(events.at(-1)!).error.code, "server_shutting_down");
  await handle.idle();
  assert.equal(engine.cancelled, 1);
});

Deno.test("server app: the fake engine's default rounds are what the expectations assume", () => {
  // Guard against accidental edits of the script the expectations above rely on.
  assert.deepEqual(DEFAULT_ROUNDS.map((r) => r.accepted + 1), [10, 15, 1, 3, 31]);
});

Deno.test("server app: the benchmark figures are served and linked from the page", async () => {
  const figs: Record<string, string> = {
    "modelled.svg": '<svg xmlns="http://www.w3.org/2000/svg"/>',
  };
  const handle = createServer({
    config: testConfig(),
    log: silentLog,
    engine: new FakeEngine(),
    figures: {
      list: () => Promise.resolve(Object.keys(figs)),
      read: (n) => Promise.resolve(figs[n] ?? null),
    },
  });
  const ok = await handle.app.request("/figures/modelled.svg");
  assert.equal(ok.status, 200);
  assert.match(ok.headers.get("content-type")!, /^image\/svg\+xml/);
  assert.equal(await ok.text(), figs["modelled.svg"]);
  for (const path of ["/figures/missing.svg", "/figures/..%2Fsecret.svg", "/figures/x.png"]) {
    const r = await handle.app.request(path);
    assert.equal(r.status, 404, path);
    assert.equal((await r.json()).error.code, "not_found");
  }
  assert.match(await (await handle.app.request("/")).text(), /href="\/figures\/modelled.svg"/);
  // without figures the page has no such links
  assert.doesNotMatch(await (await setup().request("/")).text(), /\/figures\//);
});
