/**
 * `deno task bench:edge`: the edge deployment against the all-in-one server, with round-trip
 * latency added between the worker and the model server.
 *
 * Processes: a model server, the worker under `wrangler dev` (workerd) whose FAILFAST_REMOTE_URL
 * is a delaying proxy in this process, and the all-in-one Deno server. The proxy holds every
 * call for the configured round trip (half before forwarding, half after) and counts calls and
 * bytes. For each added latency (0, 5, 20, 50 ms) and strategy (ar, failfast), the same GSM8K
 * questions run through the worker and through the all-in-one server, interleaved; reported:
 * tokens/s, round trips per generated token, and bytes per token on the worker-to-model-server
 * link. The cross-request lookup history is off in both, so that asking the same questions at
 * every latency does not speed up the later ones. Bounded: it stops after --deadline-s.
 *
 *   deno task bench:edge [--count 8] [--max-tokens 128] [--latencies 0,5,20,50] [--deadline-s 900]
 */
import { parseArgs } from "node:util";
import { exists, GSM8K_TEST, ownQuestions, readQuestions } from "../harness/questions.ts";
import { writeResults } from "./results.ts";
import {
  freePort,
  type Process,
  startApiServer,
  startModelServer,
  startWorker,
} from "../harness/processes.ts";

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    count: { type: "string", default: "8" },
    "max-tokens": { type: "string", default: "128" },
    latencies: { type: "string", default: "0,5,20,50" },
    "deadline-s": { type: "string", default: "900" },
  },
});
const count = Number(args.count);
const maxTokens = Number(args["max-tokens"]);
const latencies = args.latencies!.split(",").map(Number);
const deadline = Date.now() + Number(args["deadline-s"]) * 1000;
const STRATEGIES = ["ar", "failfast"] as const;

const questions = await exists(GSM8K_TEST)
  ? await readQuestions(GSM8K_TEST, count)
  : ownQuestions(count);

/** A delaying, counting HTTP proxy to the model server. */
function delayingProxy(target: string) {
  const state = { rttMs: 0, calls: 0, bytes: 0 };
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: freePort(), onListen: () => {} },
    async (req) => {
      const url = new URL(req.url);
      const body = req.method === "GET" || req.method === "HEAD"
        ? undefined
        : new Uint8Array(await req.arrayBuffer());
      const counted = url.pathname.startsWith("/v1/");
      if (counted) {
        state.calls++;
        state.bytes += body?.length ?? 0;
      }
      await sleep(state.rttMs / 2);
      const headers = new Headers();
      for (const h of ["authorization", "content-type"]) {
        const v = req.headers.get(h);
        if (v) headers.set(h, v);
      }
      const r = await fetch(`${target}${url.pathname}`, { method: req.method, headers, body });
      const bytes = new Uint8Array(await r.arrayBuffer());
      if (counted) state.bytes += bytes.length;
      await sleep(state.rttMs / 2);
      return new Response(r.status === 204 ? null : bytes, {
        status: r.status,
        headers: { "content-type": r.headers.get("content-type") ?? "application/octet-stream" },
      });
    },
  );
  return { state, url: `http://127.0.0.1:${server.addr.port}`, stop: () => server.shutdown() };
}

interface Run {
  target: "worker" | "all-in-one";
  strategy: string;
  latencyMs: number;
  questions: number;
  tokens: number;
  seconds: number;
  tokensPerSecond: number;
  roundTripsPerToken: number | null;
  bytesPerToken: number | null;
  meanAcceptedLength: number;
}

async function ask(base: string, strategy: string, q: string) {
  const r = await fetch(`${base}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      model: "tiny-gsm",
      messages: [{ role: "user", content: q }],
      max_tokens: maxTokens,
      temperature: 0,
      failfast: { strategy },
    }),
    signal: AbortSignal.timeout(120_000),
  });
  const body = await r.json();
  if (r.status !== 200) throw new Error(`${base}: ${r.status} ${JSON.stringify(body)}`);
  return {
    tokens: body.usage.completion_tokens as number,
    accepted: body.usage.speculative.mean_accepted_length as number,
  };
}

async function measure(
  target: Run["target"],
  base: string,
  strategy: string,
  latencyMs: number,
  proxy: ReturnType<typeof delayingProxy> | null,
): Promise<Run> {
  const calls0 = proxy?.state.calls ?? 0, bytes0 = proxy?.state.bytes ?? 0;
  let tokens = 0, accepted = 0, n = 0;
  const t0 = performance.now();
  for (const q of questions) {
    if (Date.now() > deadline) break;
    const r = await ask(base, strategy, q);
    tokens += r.tokens;
    accepted += r.accepted;
    n++;
  }
  const seconds = (performance.now() - t0) / 1000;
  const perToken = (x: number) => proxy && tokens ? x / tokens : null;
  return {
    target,
    strategy,
    latencyMs,
    questions: n,
    tokens,
    seconds,
    tokensPerSecond: tokens / seconds,
    roundTripsPerToken: perToken((proxy?.state.calls ?? 0) - calls0),
    bytesPerToken: perToken((proxy?.state.bytes ?? 0) - bytes0),
    meanAcceptedLength: n ? accepted / n : 0,
  };
}

const noHistory = { FAILFAST_LOOKUP_HISTORY_TOKENS: "0" };
let modelServer: Process | null = null;
let worker: Process | null = null;
let allInOne: Process | null = null;
let proxy: ReturnType<typeof delayingProxy> | null = null;
const runs: Run[] = [];
let coldStartMs: number | null = null;
try {
  modelServer = await startModelServer({ env: noHistory });
  proxy = delayingProxy(modelServer.url);
  worker = await startWorker(proxy.url, { ...noHistory, FAILFAST_LOG_LEVEL: "info" });
  allInOne = await startApiServer(noHistory);
  const cold = /"cold_start_ms":(\d+)/.exec(worker.output());
  coldStartMs = cold ? Number(cold[1]) : null;
  for (const s of STRATEGIES) { // warm both paths
    await ask(worker.url, s, questions[0]);
    await ask(allInOne.url, s, questions[0]);
  }
  for (const latency of latencies) {
    proxy.state.rttMs = latency;
    for (const s of STRATEGIES) {
      if (Date.now() > deadline) break;
      const w = await measure("worker", worker.url, s, latency, proxy);
      const a = await measure("all-in-one", allInOne.url, s, latency, null);
      runs.push(w, a);
      console.error(
        `rtt ${latency} ms ${s}: worker ${w.tokensPerSecond.toFixed(1)} tok/s ` +
          `(${w.roundTripsPerToken?.toFixed(2)} round trips, ${
            w.bytesPerToken?.toFixed(0)
          } B per token), ` +
          `all-in-one ${a.tokensPerSecond.toFixed(1)} tok/s`,
      );
    }
  }
} finally {
  await worker?.stop();
  await allInOne?.stop();
  await proxy?.stop();
  await modelServer?.stop();
}

const find = (target: string, s: string, l: number) =>
  runs.find((r) => r.target === target && r.strategy === s && r.latencyMs === l);
const rows = latencies.filter((l) => find("worker", "ar", l) && find("worker", "failfast", l)).map(
  (l) => {
    const ar = find("worker", "ar", l)!, ff = find("worker", "failfast", l)!;
    const localAr = find("all-in-one", "ar", l)!, localFf = find("all-in-one", "failfast", l)!;
    return `| ${l} | ${ar.tokensPerSecond.toFixed(1)} | ${ff.tokensPerSecond.toFixed(1)} | ` +
      `${(ff.tokensPerSecond / ar.tokensPerSecond).toFixed(2)}x | ` +
      `${ar.roundTripsPerToken!.toFixed(2)} / ${ff.roundTripsPerToken!.toFixed(2)} | ` +
      `${ar.bytesPerToken!.toFixed(0)} / ${ff.bytesPerToken!.toFixed(0)} | ` +
      `${localAr.tokensPerSecond.toFixed(1)} / ${localFf.tokensPerSecond.toFixed(1)} |`;
  },
);
const md = [
  "# Edge deployment: worker (wrangler dev) + model server, latency added between them",
  "",
  `\`deno task bench:edge\`: ${questions.length} GSM8K test questions, greedy, at most ${maxTokens} ` +
  "tokens, lookup history off. Worker cold start (config and tokenizer from the model server, " +
  `pass costs): ${coldStartMs ?? "?"} ms.`,
  "",
  "| added RTT (ms) | worker ar tok/s | worker failfast tok/s | failfast / ar | round trips per token (ar / failfast) | bytes per token (ar / failfast) | all-in-one tok/s (ar / failfast) |",
  "|---|---|---|---|---|---|---|",
  ...rows,
].join("\n");
await writeResults("edge", { questions: questions.length, maxTokens, coldStartMs, runs }, md);
console.log(md);
Deno.exit(0);
