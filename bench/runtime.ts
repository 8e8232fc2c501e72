/**
 * Forward-pass latency per backend (medians in one run): verifier decode step, 16- and 64-row
 * verify passes, a drafter denoising pass over a 32-token block window (all rows, and the 8
 * rows of one sub-block as the engine asks; and over a 16-token window, as a drafter whose
 * windows end with the sub-block feeds for a block's second sub-block), an AR-drafter step and a
 * 256-token prefill (all rows, and the last row as the engine asks), the drafters' passes again
 * with int8 weight matrices (FAILFAST_DRAFTER_QUANTIZE=int8), each split into
 * onnxruntime's run and the TypeScript work around it. On ort-node, also each model's pass right
 * after the other's, with the drafter's pool spinning, sleeping or on one thread, and both passes
 * started together: onnxruntime-node runs a pass synchronously on the JavaScript thread, so two
 * sessions' passes in one process take as long as one after the other, and a drafter cannot work
 * while the verifier verifies without a worker thread of its own (whose core the verifier would
 * lose: a last row times the verifier on one thread).
 * Writes bench/results/runtime.{json,md}.
 *
 *   deno task bench:runtime [--backends ort-node,ort-web-wasm,ort-web-webgpu] [--reps 30]
 */

import { parseArgs } from "node:util";
import { loadConfig } from "../src/config.ts";
import { loadModelDir } from "../src/model/model-dir.ts";
import { openModel, type RuntimeOptions } from "../src/runtime/create.ts";
import type { ModelSession } from "../src/runtime/types.ts";
import { median, writeResults } from "./results.ts";

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    reps: { type: "string", default: "30" },
    backends: { type: "string", default: "ort-node,ort-web-wasm" },
  },
});
const reps = Number(args.reps);
const backends = args.backends!.split(",") as RuntimeOptions["backend"][];
const config = loadConfig();
const verifierDir = await loadModelDir(config.verifierDir, "ar");
const drafterDir = await loadModelDir(config.drafterDir, "dllm");
const arDrafterDir = await loadModelDir(config.arDrafterDir, "ar");

/** Deterministic pseudo-text: ids in the vocabulary, away from the special tokens. */
const ids = (n: number, seed: number) =>
  Array.from({ length: n }, (_, i) => (seed * 7919 + i * 104729) % 4000);

interface Case {
  name: string;
  /** NaN for wall-time rows of two passes. */
  runMs: number;
  tsMs: number;
  totalMs: number;
}

/**
 * Median timing of `tokens` run after a prefix of `past` positions (cache restored each rep);
 * `before` runs ahead of each rep, untimed.
 */
async function time(
  s: ModelSession,
  past: number,
  tokens: number,
  commit: boolean,
  lastRows?: number,
  before?: (rep: number) => Promise<unknown>,
): Promise<Omit<Case, "name">> {
  const cache = s.createCache();
  if (past > 0) await s.forward(cache, ids(past, 1), { commit: true });
  const run: number[] = [], total: number[] = [];
  for (let i = 0; i < reps + 3; i++) {
    await before?.(i);
    const r = await s.forward(cache, ids(tokens, i + 2), { commit, lastRows });
    if (commit) s.truncate(cache, past);
    if (i < 3) continue; // warm-up
    run.push(r.timing.runMs);
    total.push(r.timing.totalMs);
  }
  s.release(cache);
  const runMs = median(run), totalMs = median(total);
  return { runMs, totalMs, tsMs: totalMs - runMs };
}

/**
 * A pass of `s` over `tokens` after a cached prefix of 128 (not committed, or committed and cut
 * back), to run ahead of each rep of another session's timing as the other half of a round does;
 * `done` releases its cache.
 */
async function otherHalf(s: ModelSession, tokens: number, commit: boolean, lastRows?: number) {
  const cache = s.createCache();
  await s.forward(cache, ids(128, 1), { commit: true });
  return {
    run: async (i: number) => {
      await s.forward(cache, ids(tokens, i + 2), { commit, lastRows });
      if (commit) s.truncate(cache, 128);
    },
    done: () => s.release(cache),
  };
}

/**
 * A 5-row verify pass (past 128) right after a drafter denoising pass, as in a FailFast round:
 * shows what the drafter's idle thread pool costs the verifier.
 */
async function verifyAfterDrafter(v: ModelSession, d: ModelSession) {
  const denoise = await otherHalf(d, 32, false, 8);
  const timing = await time(v, 128, 5, true, undefined, denoise.run);
  denoise.done();
  return timing;
}

/**
 * A denoising pass (32-token window, 8 rows kept, past 128) right after a 5-row verify pass:
 * the verifier's pool spins for a while after its pass, on the cores a multi-threaded drafter
 * pass wants.
 */
async function denoiseAfterVerifier(v: ModelSession, d: ModelSession) {
  const verify = await otherHalf(v, 5, true);
  const timing = await time(d, 128, 32, false, 8, verify.run);
  verify.done();
  return timing;
}

/**
 * A 5-row verify pass and a denoising pass (32-token window, 8 rows kept), one after the other
 * and started together with Promise.all, alternating rep by rep; wall times. Started together,
 * each pass's own timing counts the wait for the other, so only the wall time is reported.
 */
async function verifyAndDenoise(v: ModelSession, d: ModelSession) {
  const vc = v.createCache(), dc = d.createCache();
  await v.forward(vc, ids(128, 1), { commit: true });
  await d.forward(dc, ids(128, 1), { commit: true });
  const verify = (i: number) => v.forward(vc, ids(5, i + 2), { commit: true });
  const denoise = (i: number) => d.forward(dc, ids(32, i + 2), { commit: false, lastRows: 8 });
  const sequential: number[] = [], together: number[] = [];
  for (let i = 0; i < reps + 3; i++) {
    let t0 = performance.now();
    await verify(i);
    await denoise(i);
    const one = performance.now() - t0;
    v.truncate(vc, 128);
    t0 = performance.now();
    await Promise.all([verify(i), denoise(i)]);
    const both = performance.now() - t0;
    v.truncate(vc, 128);
    if (i < 3) continue; // warm-up
    sequential.push(one);
    together.push(both);
  }
  v.release(vc);
  d.release(dc);
  const wall = (totalMs: number) => ({ totalMs, runMs: NaN, tsMs: NaN });
  return { sequential: wall(median(sequential)), together: wall(median(together)) };
}

const results: Record<string, Case[]> = {};
const ms = (x: number) => (Number.isNaN(x) ? "-" : x.toFixed(2));
const lines: string[] = [];
for (const backend of backends) {
  const options: RuntimeOptions = { ...config, backend };
  const v = await openModel(verifierDir, options);
  const d = await openModel(drafterDir, options);
  const a = await openModel(arDrafterDir, options);
  const cases: Case[] = [
    { name: "verifier decode step (past 128)", ...(await time(v, 128, 1, true)) },
    { name: "verifier verify 16 rows (past 128)", ...(await time(v, 128, 16, true)) },
    { name: "verifier verify 64 rows (past 128)", ...(await time(v, 128, 64, true)) },
    { name: "verifier prefill 256", ...(await time(v, 0, 256, true)) },
    { name: "verifier prefill 256, last row only", ...(await time(v, 0, 256, true, 1)) },
    {
      name: "dLLM drafter denoise, 32-token window (past 128)",
      ...(await time(d, 128, 32, false)),
    },
    {
      name: "dLLM drafter denoise, 32-token window, 8 rows kept (past 128)",
      ...(await time(d, 128, 32, false, 8)),
    },
    {
      // a window ending with its block's second sub-block ("denoise_window": "sub_block_end")
      name: "dLLM drafter denoise, 16-token window, 8 rows kept (past 128)",
      ...(await time(d, 128, 16, false, 8)),
    },
    { name: "AR drafter step (past 128)", ...(await time(a, 128, 1, true)) },
    { name: "verifier verify 5 rows (past 128)", ...(await time(v, 128, 5, true)) },
  ];
  // The drafters with int8 weight matrices (FAILFAST_DRAFTER_QUANTIZE=int8).
  const dq = await openModel(drafterDir, { ...options, quantize: "int8" });
  const aq = await openModel(arDrafterDir, { ...options, quantize: "int8" });
  cases.push(
    {
      name: "dLLM drafter denoise, 32-token window, 8 rows kept (past 128), int8 drafter",
      ...(await time(dq, 128, 32, false, 8)),
    },
    {
      name: "dLLM drafter denoise, 16-token window, 8 rows kept (past 128), int8 drafter",
      ...(await time(dq, 128, 16, false, 8)),
    },
    { name: "AR drafter step (past 128), int8 drafter", ...(await time(aq, 128, 1, true)) },
  );
  await Promise.all([dq.close(), aq.close()]);
  if (backend === "ort-node") {
    // The sessions above spin (onnxruntime's default); the engine opens drafters with one
    // thread (FAILFAST_DRAFTER_THREADS), or sleeping when given more.
    const sleeping = await openModel(drafterDir, { ...options, spin: false });
    const single = await openModel(drafterDir, { ...options, threads: 1 });
    cases.push(
      {
        name: "verifier verify 5 rows after a drafter pass, drafter pool spinning",
        ...(await verifyAfterDrafter(v, d)),
      },
      {
        name: "verifier verify 5 rows after a drafter pass, drafter pool sleeping",
        ...(await verifyAfterDrafter(v, sleeping)),
      },
      {
        name: "verifier verify 5 rows after a drafter pass, drafter on one thread",
        ...(await verifyAfterDrafter(v, single)),
      },
      {
        name: "dLLM drafter denoise (8 rows kept) after a verify pass, drafter pool sleeping",
        ...(await denoiseAfterVerifier(v, sleeping)),
      },
      {
        name: "dLLM drafter denoise (8 rows kept) after a verify pass, drafter on one thread",
        ...(await denoiseAfterVerifier(v, single)),
      },
    );
    const singleInt8 = await openModel(drafterDir, { ...options, threads: 1, quantize: "int8" });
    cases.push({
      name: "dLLM drafter denoise (8 rows kept) after a verify pass, drafter on one thread, int8",
      ...(await denoiseAfterVerifier(v, singleInt8)),
    });
    await singleInt8.close();
    const pair = await verifyAndDenoise(v, single);
    cases.push(
      {
        name: "verify 5 rows, then a denoise (8 rows kept), drafter on one thread: wall",
        ...pair.sequential,
      },
      {
        name: "the same two passes started together (Promise.all): wall",
        ...pair.together,
      },
    );
    // What the verifier would give up if a drafter took the other core (a worker thread).
    const verifierSingle = await openModel(verifierDir, { ...options, threads: 1 });
    cases.push({
      name: "verifier verify 5 rows (past 128), verifier on one thread",
      ...(await time(verifierSingle, 128, 5, true)),
    });
    await Promise.all([sleeping.close(), single.close(), verifierSingle.close()]);
  }
  await Promise.all([v.close(), d.close(), a.close()]);
  results[backend] = cases;
  const step = cases[0].totalMs;
  lines.push(
    `**${backend}** (${reps} reps, medians)`,
    "",
    "| pass | total (ms) | onnxruntime run (ms) | TypeScript around it (ms) | vs decode step |",
    "|---|---|---|---|---|",
    ...cases.map((c) =>
      `| ${c.name} | ${c.totalMs.toFixed(2)} | ${ms(c.runMs)} | ${ms(c.tsMs)} | ${
        (c.totalMs / step).toFixed(2)
      } |`
    ),
    "",
  );
  console.error(`${backend} done`);
}
const markdown = lines.join("\n");
console.log(markdown);
await writeResults("runtime", { reps, results }, markdown);
