/**
 * Server benchmark: streaming overhead of the HTTP server against the engine alone, on the same
 * prompts in one run (greedy, interleaved so drift hits both alike), and time to first token.
 * Target: the server costs at most 5% of the engine's tokens/s. Needs the real engine and models
 * (`src/engine/engine.ts`, `models/`); writes bench/results/server.{json,md}.
 *
 * The server runs as `deno task serve` would (src/cli/serve.ts, a subprocess with the same
 * configuration), so the measuring client does not share its event loop: a `fetch` client in the
 * engine's own process delayed the first token by about 300 ms in a trial.
 *
 * Each prompt runs `reps` times down both paths (5 by default; a single run of one prompt varies
 * by a third here), which goes first alternating.
 *
 *   deno task bench:server [--prompts N] [--reps N] [--max-tokens N] [--strategy NAME]
 */
import { parseArgs } from "node:util";
import { loadConfig, STRATEGIES, type Strategy } from "../src/config.ts";
import { Logger } from "../src/log.ts";
import type { GenerateRequest } from "../src/engine/types.ts";
import type { FailFastEngine } from "../src/engine/engine.ts";
import { createEngine } from "../src/platform/deno.ts";
import { startApiServer } from "../harness/processes.ts";
import { median, writeResults } from "./results.ts";

const QUESTIONS = [
  "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. How many clips did Natalia sell altogether in April and May?",
  "Weng earns $12 an hour for babysitting. Yesterday, she just did 50 minutes of babysitting. How much did she earn?",
  "Betty is saving money for a new wallet which costs $100. Betty has only half of the money she needs. Her parents decided to give her $15 for that purpose, and her grandparents twice as much as her parents. How much more money does Betty need to buy the wallet?",
  "Julie is reading a 120-page book. Yesterday, she was able to read 12 pages and today, she read twice as many pages as yesterday. If she wants to read half of the remaining pages tomorrow, how many pages should she read?",
  "James writes a 3-page letter to 2 different friends twice a week. How many pages does he write a year?",
  "Mark has a garden with flowers. He planted plants of three different colors in it. Ten of them are yellow, and there are 80% more of those in purple. There are only 25% as many green flowers as there are yellow and purple flowers. How many flowers does Mark have in his garden?",
  "Albert is wondering how much pizza he can eat in one day. He buys 2 large pizzas and 2 small pizzas. A large pizza has 16 slices and a small pizza has 8 slices. If he eats it all, how many pieces does he eat that day?",
  "Ken created a care package to send to his brother, who was away at boarding school. Ken placed a box on a scale, and then he poured into the box enough jelly beans to bring the weight to 2 pounds. How much did the box weigh?",
];

/** One measured run. */
interface Run {
  tokens: number;
  ms: number;
  ttftMs: number;
  text: string;
}

async function viaEngine(engine: FailFastEngine, request: GenerateRequest): Promise<Run> {
  const t0 = performance.now();
  let ttft = NaN;
  let text = "";
  let tokens = 0;
  for await (const ev of engine.generate(request)) {
    if (ev.type === "delta") {
      if (Number.isNaN(ttft)) ttft = performance.now() - t0;
      text += ev.text;
    } else tokens = ev.stats.completionTokens;
  }
  return { tokens, ms: performance.now() - t0, ttftMs: ttft, text };
}

async function viaServer(url: string, request: GenerateRequest): Promise<Run> {
  const t0 = performance.now();
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      messages: request.messages,
      max_tokens: request.maxTokens,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
      failfast: { strategy: request.strategy },
    }),
  });
  if (!res.ok) throw new Error(`server answered ${res.status}: ${await res.text()}`);
  let ttft = NaN;
  let text = "";
  let tokens = 0;
  let buf = "";
  for await (const piece of res.body!.pipeThrough(new TextDecoderStream())) {
    buf += piece;
    let cut;
    while ((cut = buf.indexOf("\n\n")) >= 0) {
      const data = buf.slice(6, cut);
      buf = buf.slice(cut + 2);
      if (data === "[DONE]") continue;
      const msg = JSON.parse(data);
      if (msg.error) throw new Error(msg.error.message);
      const content = msg.choices?.[0]?.delta?.content;
      if (content) {
        if (Number.isNaN(ttft)) ttft = performance.now() - t0;
        text += content;
      }
      if (msg.usage) tokens = msg.usage.completion_tokens;
    }
  }
  return { tokens, ms: performance.now() - t0, ttftMs: ttft, text };
}

/** Runs the benchmark and writes its results. */
export async function runServerBench(
  options: { prompts?: number; reps?: number; maxTokens?: number; strategy?: Strategy } = {},
): Promise<{ overheadPct: number }> {
  const config = { ...loadConfig(), host: "127.0.0.1", port: 0 };
  const log = new Logger("warn");
  const strategy = options.strategy ?? config.strategy;
  const maxTokens = options.maxTokens ?? 128;
  const prompts = QUESTIONS.slice(0, options.prompts ?? QUESTIONS.length);
  const reps = options.reps ?? 5;
  const engine = await createEngine(config, log, {
    onProgress: (m) => console.error(`loading: ${m}`),
  });
  const server = await startApiServer();
  const rows: { prompt: number; engine: Run; server: Run }[] = [];
  try {
    const warm: GenerateRequest = {
      messages: [{ role: "user", content: prompts[0] }],
      maxTokens: 16,
      temperature: 0,
      strategy,
    };
    await viaEngine(engine, warm);
    await viaServer(server.url, warm);
    for (let rep = 0; rep < reps; rep++) {
      for (let i = 0; i < prompts.length; i++) {
        const request: GenerateRequest = {
          messages: [{ role: "user", content: prompts[i] }],
          maxTokens,
          temperature: 0,
          strategy,
        };
        // Alternate which goes first.
        let e: Run, s: Run;
        if ((i + rep) % 2 === 0) {
          e = await viaEngine(engine, request);
          s = await viaServer(server.url, request);
        } else {
          s = await viaServer(server.url, request);
          e = await viaEngine(engine, request);
        }
        if (e.text !== s.text) {
          throw new Error(`prompt ${i}: the server's text differs from the engine's`);
        }
        rows.push({ prompt: i, engine: e, server: s });
        console.error(
          `rep ${rep}, prompt ${i}: ${e.tokens} tokens, engine ${
            (e.tokens / e.ms * 1000).toFixed(1)
          } tok/s, server ${(s.tokens / s.ms * 1000).toFixed(1)} tok/s`,
        );
      }
    }
  } finally {
    await server.stop();
    await engine.close();
  }
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const tps = (runs: Run[]) => sum(runs.map((r) => r.tokens)) / (sum(runs.map((r) => r.ms)) / 1000);
  const engineTps = tps(rows.map((r) => r.engine));
  const serverTps = tps(rows.map((r) => r.server));
  const overheadPct = 100 * (engineTps - serverTps) / engineTps;
  const ttftEngine = median(rows.map((r) => r.engine.ttftMs));
  const ttftServer = median(rows.map((r) => r.server.ttftMs));
  const md = [
    `Server streaming overhead (${strategy}, ${prompts.length} prompts x ${reps} runs each way, max ${maxTokens} tokens, greedy; the engine alone in this process, the server in a child process, both on the same cores).`,
    "",
    "| path | tokens/s | median time to first token (ms) |",
    "| --- | --- | --- |",
    `| engine alone | ${engineTps.toFixed(1)} | ${ttftEngine.toFixed(1)} |`,
    `| through the server (SSE, localhost) | ${serverTps.toFixed(1)} | ${ttftServer.toFixed(1)} |`,
    "",
    `Overhead: ${overheadPct.toFixed(2)}% of tokens/s (target: at most 5%).`,
  ].join("\n");
  console.log(md);
  await writeResults("server", {
    strategy,
    maxTokens,
    prompts: prompts.length,
    reps,
    engineTokensPerSecond: engineTps,
    serverTokensPerSecond: serverTps,
    overheadPct,
    ttftMsMedian: { engine: ttftEngine, server: ttftServer },
    runs: rows.map((r) => ({
      prompt: r.prompt,
      tokens: r.engine.tokens,
      engine: { ms: r.engine.ms, ttftMs: r.engine.ttftMs },
      server: { ms: r.server.ms, ttftMs: r.server.ttftMs },
    })),
  }, md);
  return { overheadPct };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      prompts: { type: "string" },
      reps: { type: "string" },
      "max-tokens": { type: "string" },
      strategy: { type: "string" },
    },
  });
  if (values.strategy && !(STRATEGIES as readonly string[]).includes(values.strategy)) {
    console.error(`--strategy: expected one of ${STRATEGIES.join(", ")}`);
    Deno.exit(2);
  }
  const count = (name: "prompts" | "reps" | "max-tokens", max: number): number | undefined => {
    const raw = values[name];
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1 || n > max) {
      console.error(`--${name}: expected an integer from 1 to ${max}, got ${JSON.stringify(raw)}`);
      Deno.exit(2);
    }
    return n;
  };
  const { overheadPct } = await runServerBench({
    prompts: count("prompts", QUESTIONS.length),
    reps: count("reps", 100),
    maxTokens: count("max-tokens", 4096),
    strategy: values.strategy as Strategy | undefined,
  });
  Deno.exit(overheadPct <= 5 ? 0 : 1);
}
