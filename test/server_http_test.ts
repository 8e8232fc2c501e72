/**
 * A real server on 127.0.0.1 (port 0) with the fake engine, driven by the official `openai`
 * client and by raw sockets: streaming and not, usage, 429, client disconnect, shutdown.
 */
import assert from "node:assert/strict";
import OpenAI from "openai";
import { serve } from "../src/server/serve.ts";
import { FakeEngine } from "./helpers/fake-engine.ts";
import { silentLog, testConfig } from "./helpers/server.ts";
import type { Config } from "../src/config.ts";

function start(engine: FakeEngine, overrides: Partial<Config> = {}) {
  const server = serve({ config: testConfig(overrides), log: silentLog, engine });
  const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused", maxRetries: 0 });
  return { server, client };
}

Deno.test("server http: the openai client, non-streaming chat and completions", async () => {
  const engine = new FakeEngine();
  const { server, client } = start(engine);
  try {
    const chat = await client.chat.completions.create({
      model: "tiny-gsm",
      messages: [{ role: "user", content: "How many clips?" }],
      max_tokens: 20,
    });
    assert.equal(chat.object, "chat.completion");
    assert.equal(chat.choices[0].message.content, engine.expectedText(engine.requests[0]));
    assert.equal(chat.choices[0].finish_reason, "length");
    assert.equal(chat.usage?.completion_tokens, 20);
    const spec = (chat.usage as unknown as { speculative: Record<string, unknown> }).speculative;
    assert.equal(spec.strategy, "failfast");
    assert.equal(spec.rounds, 2);

    const cmpl = await client.completions.create({
      model: "tiny-gsm",
      prompt: "Once",
      max_tokens: 5,
      // Extension field: passed through the client's body unchanged.
      failfast: { strategy: "ar" },
    } as OpenAI.CompletionCreateParamsNonStreaming);
    assert.equal(cmpl.object, "text_completion");
    assert.equal(cmpl.choices[0].text, engine.expectedText(engine.requests[1]));
    assert.equal(engine.requests[1].strategy, "ar");
  } finally {
    await server.shutdown();
  }
});

Deno.test("server http: the openai client streams chat with the usage chunk", async () => {
  const engine = new FakeEngine({ roundDelayMs: 2 });
  const { server, client } = start(engine);
  try {
    const stream = await client.chat.completions.create({
      model: "tiny-gsm",
      messages: [{ role: "user", content: "stream please" }],
      max_tokens: 40,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let usage: OpenAI.CompletionUsage | null | undefined;
    let finish: string | null = null;
    const rounds: unknown[] = [];
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      if (choice) {
        text += choice.delta.content ?? "";
        finish = choice.finish_reason ?? finish;
        const ff = (choice as unknown as { failfast?: unknown }).failfast;
        if (ff) rounds.push(ff);
      }
      if (chunk.usage) usage = chunk.usage;
    }
    assert.equal(text, engine.expectedText(engine.requests[0]));
    assert.equal(finish, "length");
    assert.equal(usage?.completion_tokens, 40);
    assert.equal(rounds.length, 5);
    const spec = (usage as unknown as { speculative: { rounds: number } }).speculative;
    assert.equal(spec.rounds, 5);
  } finally {
    await server.shutdown();
  }
});

Deno.test("server http: 16 concurrent streaming clients each get their solo output", async () => {
  const engine = new FakeEngine({ roundDelayMs: 3 });
  const { server, client } = start(engine, { maxConcurrent: 4, maxQueue: 32 });
  try {
    const prompts = Array.from({ length: 16 }, (_, i) => `question number ${i}`);
    const run = async (prompt: string) => {
      const stream = await client.chat.completions.create({
        model: "tiny-gsm",
        messages: [{ role: "user", content: prompt }],
        max_tokens: 30,
        stream: true,
      });
      let text = "";
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
      return text;
    };
    const outputs = await Promise.all(prompts.map(run));
    outputs.forEach((text, i) => {
      const solo = engine.expectedText({
        messages: [{ role: "user", content: prompts[i] }],
        maxTokens: 30,
      });
      assert.equal(text, solo, `client ${i}`);
    });
    assert.equal(new Set(outputs).size > 1, true);
    assert.equal(engine.maxActive, 4);
  } finally {
    await server.shutdown();
  }
});

Deno.test("server http: the queue limit is a 429 RateLimitError for the client", async () => {
  const engine = new FakeEngine({ roundDelayMs: 20, naturalLength: 1000, contextLength: 1e6 });
  const { server, client } = start(engine, { maxConcurrent: 1, maxQueue: 0, maxTokens: 1000 });
  try {
    const held = await client.chat.completions.create({
      model: "tiny-gsm",
      messages: [{ role: "user", content: "long" }],
      max_tokens: 1000,
      stream: true,
    });
    await assert.rejects(
      client.chat.completions.create({
        model: "tiny-gsm",
        messages: [{ role: "user", content: "second" }],
      }),
      (e: unknown) => {
        assert.ok(e instanceof OpenAI.RateLimitError);
        assert.equal(e.status, 429);
        assert.ok(Number(e.headers?.get("retry-after")) >= 1);
        return true;
      },
    );
    held.controller.abort();
    await server.handle.idle();
    assert.equal(engine.cancelled, 1);
  } finally {
    await server.shutdown();
  }
});

Deno.test("server http: closing the socket mid-stream cancels the generation", async () => {
  const engine = new FakeEngine({ roundDelayMs: 10, naturalLength: 100000, contextLength: 1e6 });
  const { server } = start(engine, { maxTokens: 100000 });
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    const body = JSON.stringify({
      messages: [{ role: "user", content: "go" }],
      max_tokens: 100000,
      stream: true,
    });
    await conn.write(
      new TextEncoder().encode(
        `POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${
          new TextEncoder().encode(body).length
        }\r\n\r\n${body}`,
      ),
    );
    // Read until a few content chunks have arrived.
    const buf = new Uint8Array(65536);
    let seen = "";
    while ((seen.match(/"failfast"/g) ?? []).length < 3) {
      const n = await conn.read(buf);
      if (n === null) throw new Error("the server closed the connection");
      seen += new TextDecoder().decode(buf.subarray(0, n));
    }
    assert.match(seen, /^HTTP\/1.1 200/);
    assert.equal(engine.active, 1);
    conn.close();
    const t0 = performance.now();
    await server.handle.idle();
    assert.equal(engine.cancelled, 1);
    assert.equal(engine.completed, 0);
    assert.equal(engine.active, 0);
    assert.ok(performance.now() - t0 < 2000, "cancelled promptly");
    assert.equal(server.handle.limiter.active, 0);
  } finally {
    await server.shutdown();
  }
});

Deno.test("server http: a non-streaming client that disconnects cancels too", async () => {
  const engine = new FakeEngine({ roundDelayMs: 10, naturalLength: 100000, contextLength: 1e6 });
  const { server } = start(engine, { maxTokens: 100000 });
  try {
    const ac = new AbortController();
    const pending = fetch(`${server.url}/v1/chat/completions`, {
      method: "POST",
      body: JSON.stringify({ messages: [{ role: "user", content: "go" }], max_tokens: 100000 }),
      signal: ac.signal,
    });
    while (engine.active === 0) await new Promise((r) => setTimeout(r, 5));
    ac.abort();
    await assert.rejects(pending);
    await server.handle.idle();
    assert.equal(engine.cancelled, 1);
  } finally {
    await server.shutdown();
  }
});

Deno.test("server http: shutdown lets short streams finish and cancels long ones after the grace", async () => {
  const engine = new FakeEngine({ roundDelayMs: 10, naturalLength: 100000, contextLength: 1e6 });
  const { server, client } = start(engine, { maxTokens: 100000 });
  const stream = await client.chat.completions.create({
    model: "tiny-gsm",
    messages: [{ role: "user", content: "go" }],
    max_tokens: 100000,
    stream: true,
  });
  const consumed = (async () => {
    let text = "";
    try {
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
      return { text, error: null };
    } catch (e) {
      return { text, error: e as Error };
    }
  })();
  await server.shutdown(50);
  await server.finished;
  const { text, error } = await consumed;
  assert.ok(text.length > 0);
  assert.match(String(error?.message), /shutting down/);
  assert.equal(engine.cancelled, 1);
  // Malformed input never takes the process down: the test runner is still here.
});

Deno.test("server http: invalid JSON over the wire is a 400, and the server keeps serving", async () => {
  const engine = new FakeEngine();
  const { server } = start(engine);
  try {
    let res = await fetch(`${server.url}/v1/chat/completions`, { method: "POST", body: "{]" });
    assert.equal(res.status, 400);
    assert.equal((await res.json()).error.code, "invalid_json");
    res = await fetch(`${server.url}/health`);
    assert.equal(res.status, 200);
    await res.body?.cancel();
  } finally {
    await server.shutdown();
  }
});
