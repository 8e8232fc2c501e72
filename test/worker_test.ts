/**
 * The edge deployment end to end: the worker under a real `wrangler dev` (workerd) on 127.0.0.1,
 * its forward passes and drafts on a real model-server process on 127.0.0.1, driven by the
 * official `openai` client and by raw HTTP.
 */
import assert from "node:assert/strict";
import OpenAI from "openai";
import { createEngine } from "../src/platform/deno.ts";
import type { FailFastEngine } from "../src/engine/engine.ts";
import { chat, collect } from "./helpers/engine.ts";
import { silentLog, testConfig } from "./helpers/server.ts";
import { liveSessions, type Process, startModelServer, startWorker } from "../harness/processes.ts";

const QUESTIONS = [
  "Tom has 3 apples and buys 5 more. How many apples does he have?",
  "A class has 12 boys and 15 girls. How many students are in the class?",
  "Sara reads 20 pages a day. How many pages does she read in 4 days?",
  "A pen costs $2. How much do 7 pens cost?",
  "There are 30 birds on a tree and 12 fly away. How many are left?",
  "John earns $15 an hour. How much does he earn in 8 hours?",
  "A box holds 6 eggs. How many eggs are in 9 boxes?",
  "Mia had 50 stickers and gave 18 to her friend. How many does she have now?",
  "A train travels 60 miles an hour for 3 hours. How far does it go?",
  "Ben has 4 bags with 11 marbles each. How many marbles does he have?",
];

/** A prompt the bundled verifier answers with 256 tokens (it loops), one pass per token under ar. */
const LOOPING_PROMPT = "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,";

/** Remote calls give up after this long in these tests. */
const REMOTE_TIMEOUT_MS = 3000;

let modelServer: Process | null = null;
let worker: Process | null = null;

async function start(): Promise<{ modelServer: Process; worker: Process }> {
  modelServer ??= await startModelServer();
  worker ??= await startWorker(modelServer.url, {
    FAILFAST_REMOTE_TIMEOUT_MS: String(REMOTE_TIMEOUT_MS),
  });
  return { modelServer, worker };
}

async function stopAll() {
  await worker?.stop();
  await modelServer?.stop();
  worker = modelServer = null;
}

const opts = { sanitizeOps: false, sanitizeResources: false };

/** A streamed completion of 256 plain steps, once its first chunk has come. */
async function longStream(worker: Process, signal?: AbortSignal) {
  const r = await fetch(`${worker.url}/v1/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      model: "tiny-gsm",
      prompt: LOOPING_PROMPT,
      max_tokens: 256,
      temperature: 0,
      stream: true,
      failfast: { strategy: "ar" },
    }),
    signal,
  });
  const reader = r.body!.getReader();
  await reader.read(); // the stream is under way
  return reader;
}

Deno.test({
  name: "worker: the openai client streams a chat completion with its usage chunk",
  ...opts,
  fn: async () => {
    const { worker } = await start();
    const client = new OpenAI({ baseURL: `${worker.url}/v1`, apiKey: "unused" });
    const stream = await client.chat.completions.create({
      model: "tiny-gsm",
      messages: [{ role: "user", content: QUESTIONS[0] }],
      max_tokens: 48,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let usage: Record<string, unknown> | null = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? "";
      if (chunk.usage) usage = chunk.usage as unknown as Record<string, unknown>;
    }
    assert.ok(text.length > 0);
    assert.ok(usage, "a usage chunk came");
    assert.ok((usage!.completion_tokens as number) > 0);
    assert.ok(usage!.speculative, "usage carries the speculative statistics");
  },
});

Deno.test({
  name: "worker: greedy outputs equal the local engine's, every strategy, 10 questions",
  ...opts,
  fn: async () => {
    const { worker } = await start();
    const local: FailFastEngine = await createEngine(testConfig({ costCache: "off" }), silentLog);
    try {
      for (const strategy of local.strategies) {
        for (const q of QUESTIONS) {
          const want = await collect(
            local.generate(chat(q, { maxTokens: 64, temperature: 0, strategy })),
          );
          const r = await fetch(`${worker.url}/v1/chat/completions`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({
              model: "tiny-gsm",
              messages: [{ role: "user", content: q }],
              max_tokens: 64,
              temperature: 0,
              failfast: { strategy },
            }),
          });
          const body = await r.json();
          assert.equal(r.status, 200, JSON.stringify(body));
          assert.equal(body.usage.speculative.strategy, strategy);
          assert.equal(body.choices[0].message.content, want.text, `${strategy}: ${q}`);
        }
      }
    } finally {
      await local.close();
    }
  },
});

Deno.test({
  name: "worker: a client that disconnects mid-stream leaves no session within one second",
  ...opts,
  fn: async () => {
    const { worker, modelServer } = await start();
    const ac = new AbortController();
    await longStream(worker, ac.signal);
    assert.ok(await liveSessions(modelServer.url) > 0, "the request holds sessions");
    ac.abort();
    const deadline = Date.now() + 1000;
    let live = await liveSessions(modelServer.url);
    while (live > 0 && Date.now() < deadline) {
      await new Promise((res) => setTimeout(res, 50));
      live = await liveSessions(modelServer.url);
    }
    assert.equal(live, 0, "sessions freed within one second of the disconnect");
  },
});

Deno.test({
  name:
    "worker: the model server killed mid-stream ends the stream with an error; then it recovers",
  ...opts,
  fn: async () => {
    const { worker, modelServer: ms } = await start();
    try {
      const reader = await longStream(worker);
      const killedAt = Date.now();
      await ms.stop("SIGKILL");
      let text = "";
      const decoder = new TextDecoder();
      while (true) {
        const { done, value } = await reader.read();
        if (done) break;
        text += decoder.decode(value);
      }
      const endedAfter = Date.now() - killedAt;
      assert.ok(endedAfter < REMOTE_TIMEOUT_MS + 1000, `the stream ended ${endedAfter} ms after`);
      assert.match(text, /"error"/, "the client received an error event");
      assert.match(text, /model server/);

      // back on the same port: the next request succeeds
      modelServer = await startModelServer({ port: ms.port });
      const again = await fetch(`${worker.url}/v1/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          model: "tiny-gsm",
          prompt: "Question: 2 + 2?\nAnswer:",
          max_tokens: 16,
        }),
      });
      const body = await again.json();
      assert.equal(again.status, 200, JSON.stringify(body));
      assert.ok(body.choices[0].text.length > 0);
    } finally {
      await stopAll();
    }
  },
});

Deno.test("worker: `wrangler deploy --dry-run` bundles it within the Workers size limit", async () => {
  const outdir = await Deno.makeTempDir();
  try {
    const out = await new Deno.Command(
      new URL("../node_modules/.bin/wrangler", import.meta.url).pathname,
      {
        args: ["deploy", "--dry-run", "--outdir", outdir],
        cwd: new URL("../", import.meta.url).pathname,
        env: { WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" },
        stdout: "piped",
        stderr: "piped",
      },
    ).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, text);
    const size = (await Deno.stat(`${outdir}/worker.js`)).size;
    assert.ok(size < 3 * 1024 * 1024, `worker.js is ${size} bytes`);
  } finally {
    await Deno.remove(outdir, { recursive: true });
  }
});
