/**
 * Policy-core benchmark: the WebAssembly core against the plain TypeScript reference, in the
 * same run, on Qwen2.5-sized rows (vocabulary 151,936).
 *   (a) argmax + greedy verification of 64 rows (k = 63, every draft token accepted)
 *   (b) confidences of a 32-row window
 *   (c) stochastic verification with top-p 0.9 of 16 rows (k = 15)
 * Copying logits into the core's memory is timed separately ("copy-in"): a backend can write
 * into `logitsView()` instead. Writes bench/results/policy.{json,md}.
 *
 *   deno task bench:policy [--reps 15]
 */

import { parseArgs } from "node:util";
import { loadPolicy } from "../src/policy/load-deno.ts";
import {
  refArgmax,
  refConfidence,
  RefRng,
  refVerifyGreedy,
  refVerifyStochastic,
} from "../src/policy/reference.ts";
import { median, writeResults } from "./results.ts";

const VOCAB = 151_936;
const { values: args } = parseArgs({
  args: Deno.args,
  options: { reps: { type: "string", default: "15" } },
});
const reps = Number(args.reps);

const core = await loadPolicy();

/** LM-like rows: a normal background with a handful of strong candidates. */
function lmRows(rows: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const rnd = () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return s / 2 ** 32;
  };
  const out = new Float32Array(rows * VOCAB);
  for (let i = 0; i < out.length; i++) out[i] = (rnd() + rnd() + rnd() - 1.5) * 4;
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < 8; j++) out[r * VOCAB + Math.floor(rnd() * VOCAB)] = 10 + 3 * rnd();
  }
  return out;
}

function time(f: () => void): number {
  const t0 = performance.now();
  f();
  return performance.now() - t0;
}

function measure(f: () => void): number {
  f(); // warm-up
  f();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) times.push(time(f));
  return median(times);
}

interface Row {
  case: string;
  wasmMs: number;
  copyInMs: number;
  tsMs: number;
  speedup: number;
  target: string;
}
const results: Row[] = [];

function report(
  name: string,
  rows: Float32Array,
  target: string,
  wasm: () => void,
  ts: () => void,
) {
  const n = rows.length / VOCAB;
  const view = core.logitsView(n, VOCAB);
  const copyInMs = measure(() => view.set(rows));
  view.set(rows);
  // wasm runs on the view (no copy); the copy-in is reported on its own
  const wasmMs = measure(wasm);
  const tsMs = measure(ts);
  results.push({ case: name, wasmMs, copyInMs, tsMs, speedup: tsMs / wasmMs, target });
}

// (a) argmax + greedy verification, 64 rows
{
  const rows = lmRows(64, 1);
  const draft = Array.from({ length: 63 }, (_, i) => refArgmax(rows, i * VOCAB, VOCAB));
  const view = core.logitsView(64, VOCAB);
  report("(a) argmax + greedy verify, 64 x 151,936", rows, ">= 4x", () => {
    const v = core.verifyGreedy(view, VOCAB, draft);
    if (v.accepted !== 63) throw new Error("benchmark draft should be fully accepted");
  }, () => {
    refVerifyGreedy(rows, VOCAB, draft);
  });
}

// (b) confidences of a 32-row window
{
  const rows = lmRows(32, 2);
  const view = core.logitsView(32, VOCAB);
  report("(b) confidences, 32 x 151,936", rows, ">= 2x", () => {
    core.confidences(view, VOCAB);
  }, () => {
    for (let r = 0; r < 32; r++) refConfidence(rows, r * VOCAB, VOCAB);
  });
}

// (c) stochastic verification with top-p, 16 rows
{
  const rows = lmRows(16, 3);
  const draft = Array.from({ length: 15 }, (_, i) => refArgmax(rows, i * VOCAB, VOCAB));
  const sampling = { temperature: 0.8, topP: 0.9 };
  const view = core.logitsView(16, VOCAB);
  const rng = core.seedRng(1);
  const ref = new RefRng(1);
  report("(c) stochastic verify, top-p 0.9, 16 x 151,936", rows, "> 1x", () => {
    core.verifyStochastic(view, VOCAB, draft, sampling, rng);
  }, () => {
    refVerifyStochastic(rows, VOCAB, draft, sampling, ref);
  });
}

const header = "| case | wasm (ms) | copy-in (ms) | TypeScript (ms) | speed-up | target |";
const lines = [
  header,
  "|---|---|---|---|---|---|",
  ...results.map((r) =>
    `| ${r.case} | ${r.wasmMs.toFixed(2)} | ${r.copyInMs.toFixed(2)} | ${r.tsMs.toFixed(2)} | ` +
    `${r.speedup.toFixed(1)}x | ${r.target} |`
  ),
];
console.log(lines.join("\n"));
await writeResults("policy", { reps, vocab: VOCAB, results }, lines.join("\n"));
