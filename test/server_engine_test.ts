/**
 * The server and the CLI on the real engine and the bundled models (skipped until
 * `models/tiny-gsm-verifier/config.json` and `src/engine/engine.ts` exist): greedy outputs through
 * the server equal the engine's own, 16 concurrent streaming clients equal their solo runs,
 * disconnect frees the slot, `generate` prints the engine's text, `serve` stops on SIGTERM.
 */
import assert from "node:assert/strict";
import OpenAI from "openai";
import { loadConfig } from "../src/config.ts";
import type { GenerateRequest } from "../src/engine/types.ts";
import type { FailFastEngine } from "../src/engine/engine.ts";
import { createEngine } from "../src/platform/deno.ts";
import { serve } from "../src/server/serve.ts";
import { silentLog } from "./helpers/server.ts";

const ROOT = new URL("../", import.meta.url);

/** The configuration from the environment (FAILFAST_*_DIR may point elsewhere), quiet, port 0. */
function testConfig() {
  return { ...loadConfig(), host: "127.0.0.1", port: 0, logLevel: "silent" as const };
}

const exists = (path: string | URL) => {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
};
const ignore = !exists(`${testConfig().verifierDir}/config.json`) ||
  !exists(new URL("src/engine/engine.ts", ROOT));
if (ignore) {
  console.error(
    "server engine: skipped (needs models/tiny-gsm-verifier/config.json, or FAILFAST_VERIFIER_DIR, and src/engine/engine.ts)",
  );
}

const QUESTIONS = [
  "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. How many clips did Natalia sell altogether in April and May?",
  "Weng earns $12 an hour for babysitting. Yesterday, she just did 50 minutes of babysitting. How much did she earn?",
  "Betty is saving money for a new wallet which costs $100. Betty has only half of the money she needs. How much more money does Betty need?",
  "James writes a 3-page letter to 2 different friends twice a week. How many pages does he write a year?",
];
const MAX_TOKENS = 32;

let shared: Promise<FailFastEngine> | null = null;
function engineOnce(): Promise<FailFastEngine> {
  shared ??= createEngine(testConfig(), silentLog);
  return shared;
}

async function engineText(engine: FailFastEngine, request: GenerateRequest): Promise<string> {
  let text = "";
  for await (const ev of engine.generate(request)) if (ev.type === "delta") text += ev.text;
  return text;
}

const opts = { ignore, sanitizeResources: false, sanitizeOps: false };

Deno.test({
  ...opts,
  name: "server engine: greedy outputs through the server equal the engine's (streaming and not)",
  fn: async () => {
    const engine = await engineOnce();
    const config = testConfig();
    const server = serve({ config, log: silentLog, engine });
    const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "x", maxRetries: 0 });
    try {
      for (const q of QUESTIONS.slice(0, 1)) {
        const messages = [{ role: "user" as const, content: q }];
        const direct = await engineText(engine, {
          messages,
          maxTokens: MAX_TOKENS,
          temperature: 0,
          strategy: config.strategy,
        });
        assert.ok(direct.length > 0);
        const chat = await client.chat.completions.create({
          model: config.modelName,
          messages,
          max_tokens: MAX_TOKENS,
          temperature: 0,
        });
        assert.equal(chat.choices[0].message.content, direct, q);
        const stream = await client.chat.completions.create({
          model: config.modelName,
          messages,
          max_tokens: MAX_TOKENS,
          temperature: 0,
          stream: true,
          stream_options: { include_usage: true },
        });
        let streamed = "";
        let usage: OpenAI.CompletionUsage | undefined | null;
        for await (const c of stream) {
          streamed += c.choices[0]?.delta.content ?? "";
          usage = c.usage ?? usage;
        }
        assert.equal(streamed, direct, q);
        assert.equal(usage?.completion_tokens, chat.usage?.completion_tokens);
        // Every strategy is lossless: the same greedy text.
        for (const strategy of ["ar", "dllm-fixed"]) {
          const r = await client.chat.completions.create({
            model: config.modelName,
            messages,
            max_tokens: MAX_TOKENS,
            temperature: 0,
            failfast: { strategy },
          } as OpenAI.ChatCompletionCreateParamsNonStreaming);
          assert.equal(r.choices[0].message.content, direct, `${strategy}: ${q}`);
        }
      }
      const prompt = "Question: " + QUESTIONS[2] + "\nAnswer:";
      const direct = await engineText(engine, { prompt, maxTokens: MAX_TOKENS, temperature: 0 });
      const cmpl = await client.completions.create({
        model: config.modelName,
        prompt,
        max_tokens: MAX_TOKENS,
        temperature: 0,
      });
      assert.equal(cmpl.choices[0].text, direct);
    } finally {
      await server.shutdown();
    }
  },
});

Deno.test({
  ...opts,
  name: "server engine: 16 concurrent streaming clients equal their solo runs",
  fn: async () => {
    const engine = await engineOnce();
    const config = { ...testConfig(), maxConcurrent: 16, maxQueue: 16 };
    const server = serve({ config, log: silentLog, engine });
    const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "x", maxRetries: 0 });
    try {
      const prompts = Array.from({ length: 16 }, (_, i) => QUESTIONS[i % 4] + ` (${i})`);
      const solo: string[] = [];
      for (const p of prompts) {
        solo.push(
          await engineText(engine, {
            messages: [{ role: "user", content: p }],
            maxTokens: 16,
            temperature: 0,
          }),
        );
      }
      const outputs = await Promise.all(prompts.map(async (p) => {
        const stream = await client.chat.completions.create({
          model: config.modelName,
          messages: [{ role: "user", content: p }],
          max_tokens: 16,
          temperature: 0,
          stream: true,
        });
        let text = "";
        for await (const c of stream) text += c.choices[0]?.delta.content ?? "";
        return text;
      }));
      outputs.forEach((text, i) => assert.equal(text, solo[i], `client ${i}`));
    } finally {
      await server.shutdown();
    }
  },
});

Deno.test({
  ...opts,
  name: "server engine: a disconnecting client frees its slot",
  fn: async () => {
    const engine = await engineOnce();
    const config = { ...testConfig(), maxConcurrent: 1 };
    const server = serve({ config, log: silentLog, engine });
    try {
      const ac = new AbortController();
      const res = await fetch(`${server.url}/v1/chat/completions`, {
        method: "POST",
        body: JSON.stringify({
          messages: [{ role: "user", content: QUESTIONS[3] }],
          max_tokens: config.maxTokens,
          stream: true,
        }),
        signal: ac.signal,
      });
      const reader = res.body!.getReader();
      await reader.read();
      ac.abort();
      await reader.cancel().catch(() => {});
      await server.handle.idle();
      assert.equal(server.handle.limiter.active, 0);
    } finally {
      await server.shutdown();
      // The last test on the shared engine.
      await (await engineOnce()).close();
    }
  },
});

Deno.test({
  ...opts,
  name: "cli engine: generate prints the engine's greedy text; serve stops on SIGTERM",
  fn: async () => {
    const question = QUESTIONS[0];
    const gen = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "src/cli/generate.ts",
        "--chat",
        "--max-tokens",
        "24",
        "--stats",
        question,
      ],
      cwd: ROOT,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(gen.stderr);
    assert.equal(gen.code, 0, stderr);
    const engine = await createEngine(testConfig(), silentLog);
    try {
      const direct = await engineText(engine, {
        messages: [{ role: "user", content: question }],
        maxTokens: 24,
      });
      assert.equal(new TextDecoder().decode(gen.stdout), direct + "\n");
      assert.match(stderr, /mean accepted length/);
    } finally {
      await engine.close();
    }

    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "src/cli/serve.ts"],
      cwd: ROOT,
      env: { NO_COLOR: "1", PORT: "0" },
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const lines = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    let url = "";
    while (!url) {
      const { done, value } = await lines.read();
      if (done) throw new Error(`serve exited early: ${buf}`);
      buf += value;
      url = /"url":"(http:[^"]+)"/.exec(buf)?.[1] ?? "";
    }
    let status = 0;
    for (let i = 0; i < 600 && status !== 200; i++) {
      const r = await fetch(`${url}/health`);
      status = r.status;
      await r.body?.cancel();
      if (status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 200);
    child.kill("SIGTERM");
    const drain = (async () => {
      while (!(await lines.read()).done) { /* drain */ }
    })();
    const { code } = await child.status;
    await drain;
    assert.equal(code, 0);
  },
});
