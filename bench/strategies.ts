/**
 * End-to-end strategy benchmark (FAILFAST.md section 5): every strategy on the same questions,
 * greedy, interleaved question by question in ONE run after a warm-up, so that every figure is
 * a ratio measured in the same conditions. Also prices the same rounds with the paper's latency
 * model (section 6; labelled "modelled"), and with --sweep runs the tau x N_max sensitivity
 * study, plus first window / extension step and unmask-threshold variants. Writes
 * bench/results/strategies.{json,md} (or strategies-sweep.*, or --out NAME).
 *
 * Lookup rows draft from the request's own text; each request has a cache scope of its own, so
 * no row drafts from earlier outputs except the one marked "history warm", whose scope holds
 * that row's own answers to the earlier questions.
 *
 *   deno task bench [--questions FILE|general] [--count 30] [--max-tokens 256] [--sweep] [--quick]
 *                   [--temperature T] [--out NAME]
 */

import { parseArgs } from "node:util";
import { type Config, loadConfig, type Strategy } from "../src/config.ts";
import { createEngine, openDrafters } from "../src/platform/deno.ts";
import { paperCosts } from "../src/engine/pass-costs.ts";
import { addSourceCounts, emptySourceCounts } from "../src/engine/stats.ts";
import type { GenerationStats, SourceCounts, StrategyParams } from "../src/engine/types.ts";
import { Logger } from "../src/log.ts";
import {
  exists,
  generalPrompts,
  GSM8K_TEST,
  ownQuestions,
  readQuestions,
} from "../harness/questions.ts";
import { writeResults } from "./results.ts";

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    questions: { type: "string" },
    count: { type: "string", default: "30" },
    "max-tokens": { type: "string", default: "256" },
    temperature: { type: "string", default: "0" },
    out: { type: "string" },
    sweep: { type: "boolean", default: false },
    quick: { type: "boolean", default: false },
  },
});
function numberFlag(name: "count" | "max-tokens" | "temperature", integer: boolean): number {
  const x = Number(args[name]);
  if (!Number.isFinite(x) || x < 0 || (integer && (!Number.isInteger(x) || x === 0))) {
    console.error(`--${name}: expected ${integer ? "a positive integer" : "a number >= 0"}`);
    Deno.exit(2);
  }
  return x;
}
const count = numberFlag("count", true);
const maxTokens = numberFlag("max-tokens", true);
/** Sampling temperature; above 0 question i is sampled with seed i + 1 (the warm-up with 0). */
const temperature = numberFlag("temperature", false);
const outName = args.out;
const sweep = args.sweep!;
const quick = args.quick!;
/** A JSONL file, or "general" for the project's own prompts outside the training domain. */
const questionsFlag = args.questions;
const general = questionsFlag === "general";
const questionsPath = general
  ? "general"
  : questionsFlag ?? ((await exists(GSM8K_TEST)) ? GSM8K_TEST : undefined);
const questions = general
  ? generalPrompts(count)
  : questionsPath
  ? await readQuestions(questionsPath, count)
  : ownQuestions(count);

interface Variant {
  name: string;
  family: Strategy;
  strategy: Strategy;
  params?: StrategyParams;
  /** Runs with drafters whose weight matrices run in int8 (FAILFAST_DRAFTER_QUANTIZE=int8). */
  int8?: boolean;
  /** Drafts from this row's own answers to the earlier questions too (the cross-request cache). */
  historyWarm?: boolean;
  /** The controller prices passes with the paper's constants instead of measured ones. */
  paperCosts?: boolean;
}

/**
 * FailFast parameters tuned for this CPU, where a verify pass grows with its length (unlike the
 * paper's GPU): picked from the sweep (`deno task bench:strategies --sweep --count 10`,
 * bench/results/strategies-sweep.md). The paper's defaults stay the configured defaults.
 */
const CPU_TUNED: StrategyParams = { tau: 0.45, n0: 2, n: 2, nMax: 60 };
/** The CPU-tuned parameters with sub-blocks that start at the draft, not on the block's grid. */
const CPU_SLIDING: StrategyParams = { ...CPU_TUNED, slideSubBlocks: true };
/** The best aligned-window row of the same sweep (windows end on sub-block boundaries). */
const CPU_ALIGNED: StrategyParams = { tau: 0.45, n0: 1, n: 8, nMax: 60, alignWindows: true };

const failfast = (name: string, params?: StrategyParams): Variant => ({
  name,
  family: "failfast",
  strategy: "failfast",
  params,
});
const dllmFixed = (name: string, params: StrategyParams): Variant => ({
  name,
  family: "dllm-fixed",
  strategy: "dllm-fixed",
  params,
});
const arDraft = (name: string, params: StrategyParams): Variant => ({
  name,
  family: "ar-draft",
  strategy: "ar-draft",
  params,
});
/** The variant run with int8 drafters (FAILFAST_DRAFTER_QUANTIZE=int8). */
const int8 = (v: Variant): Variant => ({ ...v, int8: true });
/** The variant with a context lookup merged into its drafts. */
const withLookup = (v: Variant, suffix = ", lookup merged"): Variant => ({
  ...v,
  name: v.name + suffix,
  params: { ...v.params, lookup: true },
});
/**
 * A row's parameters as written, whatever the configured defaults: no lookup and the fixed
 * parameters unless the row asks for them (the server's defaults are lookup on, controller cost).
 */
const asWritten = (v: Variant): Variant =>
  v.family === "ar"
    ? v
    : { ...v, params: { lookup: v.family === "lookup", controller: "fixed", ...v.params } };
/** The draft-length controller's rows: lengths from measured costs and live acceptance. */
const controlled = (v: Variant, name: string): Variant => ({
  ...v,
  name,
  params: { ...v.params, controller: "cost" },
});

function variants(): Variant[] {
  if (sweep) {
    const out: Variant[] = [{ name: "ar", family: "ar", strategy: "ar" }];
    for (const tau of [0.2, 0.3, 0.45, 0.6, 0.75]) {
      for (const nMax of [20, 40, 60, 70]) {
        out.push(failfast(`failfast tau=${tau} N_max=${nMax}`, { tau, nMax }));
      }
    }
    /** Rows over first window N0 and extension step N, named with `suffix`, with `extra` set. */
    const windows = (pairs: number[][], suffix = "", extra: StrategyParams = {}) =>
      pairs.map(([n0, n]) =>
        failfast(`failfast tau=0.45 N0=${n0} N=${n} N_max=60${suffix}`, { n0, n, ...extra })
      );
    // first window and extension step: on a CPU a longer verify pass costs more
    out.push(...windows([[2, 2], [3, 3], [4, 4], [4, 8], [6, 6], [8, 8], [16, 16]]));
    // sub-blocks that start at the draft: one pass drafts S tokens wherever the draft starts
    out.push(...windows([[2, 2], [3, 3], [4, 4], [8, 8]], " sliding", { slideSubBlocks: true }));
    // windows rounded up to sub-block ends: every pass drafts a whole sub-block, none is cut
    out.push(
      ...windows([[1, 1], [1, 8], [4, 4], [4, 8], [8, 8]], " aligned", { alignWindows: true }),
    );
    // more denoising passes per sub-block: surer drafts at a drafter cost
    for (const unmaskThreshold of [0.3, 0.6, 0.9]) {
      out.push(
        failfast(`failfast tau=0.45 N_max=60 unmask=${unmaskThreshold}`, { unmaskThreshold }),
      );
    }
    return out.map(asWritten);
  }
  const ks = quick ? [4, 8] : [3, 4, 6, 8, 12, 16];
  const arKs = quick ? [4, 8] : [3, 5, 8, 10];
  const rows: Variant[] = [
    { name: "ar", family: "ar", strategy: "ar" },
    failfast("failfast (paper defaults: tau 0.45, N0 10, N 10, N_max 60)"),
    failfast("failfast (paper defaults, windows trimmed at the first token below tau)", {
      trimLowConfidence: true,
    }),
    failfast(
      `failfast (CPU-tuned: tau ${CPU_TUNED.tau}, N0 ${CPU_TUNED.n0}, N ${CPU_TUNED.n}, ` +
        `N_max ${CPU_TUNED.nMax})`,
      CPU_TUNED,
    ),
    failfast(
      `failfast (CPU-tuned, sliding sub-blocks: tau ${CPU_SLIDING.tau}, N0 ${CPU_SLIDING.n0}, ` +
        `N ${CPU_SLIDING.n}, N_max ${CPU_SLIDING.nMax})`,
      CPU_SLIDING,
    ),
    failfast(
      `failfast (aligned windows: tau ${CPU_ALIGNED.tau}, N0 ${CPU_ALIGNED.n0}, ` +
        `N ${CPU_ALIGNED.n}, N_max ${CPU_ALIGNED.nMax})`,
      CPU_ALIGNED,
    ),
    ...ks.map((k) => dllmFixed(`dllm-fixed k=${k} thr=0.9`, { k, unmaskThreshold: 0.9 })),
    // the threshold sweep: at 0.05 a pass commits its whole sub-block, as FailFast's passes do
    ...(quick
      ? []
      : [[8, 0.5], [2, 0.05], [4, 0.05], [8, 0.05]].map(([k, t]) =>
        dllmFixed(`dllm-fixed k=${k} thr=${t}`, { k, unmaskThreshold: t })
      )),
    // the baseline with FailFast's sliding sub-blocks too, so that the comparison is like for like
    ...(quick ? [] : [4, 8].map((k) =>
      dllmFixed(`dllm-fixed k=${k} thr=0.05 sliding`, {
        k,
        unmaskThreshold: 0.05,
        slideSubBlocks: true,
      })
    )),
    ...arKs.map((k) => arDraft(`ar-draft k=${k}`, { k })),
    // int8 drafters (same verifier, same outputs): the best row of each family again
    int8(failfast(
      `failfast (CPU-tuned, sliding sub-blocks, int8 drafter: tau ${CPU_SLIDING.tau}, ` +
        `N0 ${CPU_SLIDING.n0}, N ${CPU_SLIDING.n}, N_max ${CPU_SLIDING.nMax})`,
      CPU_SLIDING,
    )),
    ...(quick ? [] : [
      int8(dllmFixed("dllm-fixed k=3 thr=0.9, int8 drafter", { k: 3, unmaskThreshold: 0.9 })),
      int8(dllmFixed("dllm-fixed k=4 thr=0.05 sliding, int8 drafter", {
        k: 4,
        unmaskThreshold: 0.05,
        slideSubBlocks: true,
      })),
    ]),
    ...(quick ? [4] : [3, 5]).map((k) => int8(arDraft(`ar-draft k=${k}, int8 drafter`, { k }))),
    arDraft("ar-draft k=10 stop<0.45", { k: 10, stopBelow: 0.45 }),
    // context lookup: alone (prompt lookup decoding), and merged into each family's best row
    { name: "lookup (prompt lookup decoding)", family: "lookup", strategy: "lookup" },
    withLookup(int8(failfast(
      `failfast (CPU-tuned, sliding sub-blocks, int8 drafter: tau ${CPU_SLIDING.tau}, ` +
        `N0 ${CPU_SLIDING.n0}, N ${CPU_SLIDING.n}, N_max ${CPU_SLIDING.nMax})`,
      CPU_SLIDING,
    ))),
    {
      ...withLookup(
        int8(failfast("failfast (CPU-tuned, sliding sub-blocks, int8 drafter)", CPU_SLIDING)),
        ", lookup merged, history warm",
      ),
      historyWarm: true,
    },
    withLookup(failfast("failfast (paper defaults: tau 0.45, N0 10, N 10, N_max 60)")),
    ...(quick ? [] : [
      withLookup(int8(dllmFixed("dllm-fixed k=4 thr=0.05 sliding, int8 drafter", {
        k: 4,
        unmaskThreshold: 0.05,
        slideSubBlocks: true,
      }))),
    ]),
    withLookup(int8(arDraft("ar-draft k=3, int8 drafter", { k: 3 }))),
    // the draft-length controller (the server's default for failfast, with lookup)
    controlled(
      int8(failfast("", { lookup: true })),
      "failfast, cost controller, lookup merged, int8 drafter (server default)",
    ),
    controlled(int8(failfast("")), "failfast, cost controller, int8 drafter"),
    controlled(
      int8(arDraft("", { lookup: true })),
      "ar-draft, cost controller, lookup merged, int8 drafter",
    ),
    {
      ...controlled(
        failfast("", { lookup: true }),
        "failfast, cost controller priced with the " +
          "paper's latency model (32B verifier), lookup merged",
      ),
      paperCosts: true,
    },
  ];
  return rows.map(asWritten);
}

/** Paper's constants (A6000, vLLM): drafter pass 6.1 ms; verifier step by size. */
const PAPER_DRAFTER_MS = 6.1;
const PAPER_VERIFIER_MS: Record<string, number> = { "7B": 13.5, "14B": 24.7, "32B": 52.6 };

interface Totals {
  /** Questions added. */
  runs: number;
  tokens: number;
  ms: number;
  rounds: number;
  drafted: number;
  accepted: number;
  maxAccepted: number;
  drafterPasses: number;
  drafter: number;
  verifier: number;
  policy: number;
  prefill: number;
  lengths: number[];
  /** draftLengths[k] = rounds that proposed k draft tokens. */
  draftLengths: number[];
  acceptedBySource: SourceCounts;
}

function emptyTotals(): Totals {
  return {
    runs: 0,
    tokens: 0,
    ms: 0,
    rounds: 0,
    drafted: 0,
    accepted: 0,
    maxAccepted: 0,
    drafterPasses: 0,
    drafter: 0,
    verifier: 0,
    policy: 0,
    prefill: 0,
    lengths: [],
    draftLengths: [],
    acceptedBySource: emptySourceCounts(),
  };
}

function add(t: Totals, s: GenerationStats, ms: number): void {
  t.runs++;
  s.draftLengthCounts.forEach((n, k) => {
    while (t.draftLengths.length <= k) t.draftLengths.push(0);
    t.draftLengths[k] += n;
  });
  addSourceCounts(t.acceptedBySource, s.acceptedBySource);
  t.tokens += s.completionTokens;
  t.ms += ms;
  t.rounds += s.rounds;
  t.drafted += s.draftedTokens;
  t.accepted += s.acceptedTokens;
  t.maxAccepted = Math.max(t.maxAccepted, s.maxAccepted);
  t.drafterPasses += s.drafterPasses;
  t.drafter += s.timeMs.drafter;
  t.verifier += s.timeMs.verifier;
  t.policy += s.timeMs.policy;
  t.prefill += s.timeMs.prefill;
  s.acceptedLengthCounts.forEach((n, len) => {
    while (t.lengths.length <= len) t.lengths.push(0);
    t.lengths[len] += n;
  });
}

const config: Config = loadConfig();
const log = new Logger("warn");
const engine = await createEngine(config, log, { onProgress: (m) => console.error(m) });
const list = variants();
// The int8 rows run on int8 drafters beside the float ones, over the same verifier session.
const engineInt8 = list.some((v) => v.int8)
  ? engine.withDrafters(
    await openDrafters({ ...config, drafterQuantize: "int8" }, log, (m) =>
      console.error(`int8: ${m}`)),
  )
  : null;
// The paper-costs row: the same models, the controller pricing passes with the paper's constants.
const enginePaper = list.some((v) => v.paperCosts)
  ? engine.withCostProfile(paperCosts(PAPER_VERIFIER_MS["32B"], PAPER_DRAFTER_MS))
  : null;
const totals = new Map(list.map((v) => [v.name, emptyTotals()]));
const outputs = new Map<string, string>();

/** A generation's rounds: draft tokens proposed and accepted in each. */
interface Trace {
  drafted: number[];
  accepted: number[];
}
/** The first question's rounds, per variant (the figures draw them). */
const traces = new Map<string, Trace>();

async function runOne(
  v: Variant,
  q: string,
  index: number,
): Promise<{ stats: GenerationStats; ms: number; tokens: number[]; trace: Trace }> {
  const t0 = performance.now();
  let stats: GenerationStats | undefined;
  const tokens: number[] = [];
  const trace: Trace = { drafted: [], accepted: [] };
  for await (
    const ev of (v.int8 ? engineInt8! : v.paperCosts ? enginePaper! : engine).generate({
      messages: [{ role: "user", content: q }],
      maxTokens,
      strategy: v.strategy,
      params: v.params,
      ...(temperature > 0 ? { temperature, seed: index + 1 } : {}),
      // a scope per request, but the warm row's, which holds its own earlier answers
      cacheScope: index < 0 ? "warm-up" : v.historyWarm ? v.name : `${v.name} #${index}`,
    })
  ) {
    if (ev.type === "delta") {
      tokens.push(...ev.tokens);
      if (ev.tokens.length > 0) { // one delta per round (a text tail carries no tokens)
        trace.drafted.push(ev.drafted);
        trace.accepted.push(ev.acceptedDraft);
      }
    } else stats = ev.stats;
  }
  return { stats: stats!, ms: performance.now() - t0, tokens, trace };
}

console.error(
  `warm-up, then ${questions.length} questions x ${list.length} variants, ${maxTokens} new tokens`,
);
for (const v of list) await runOne(v, questions[0], -1);
let mismatches = 0;
// Looping answers (ar runs to the token cap) are trivially easy to draft: the same totals over
// the questions whose ar answer ends before the cap show the speed-up without them.
const finished = new Map(list.map((v) => [v.name, emptyTotals()]));
let finishedQuestions = 0;
for (const [i, q] of questions.entries()) {
  let capped = false;
  for (const v of list) {
    const r = await runOne(v, q, i);
    if (v.strategy === "ar") {
      capped = r.stats.completionTokens >= maxTokens;
      if (!capped) finishedQuestions++;
    }
    add(totals.get(v.name)!, r.stats, r.ms);
    if (i === 0) traces.set(v.name, r.trace);
    if (!capped) add(finished.get(v.name)!, r.stats, r.ms);
    // sampled outputs differ by strategy (the same distribution, other random draws)
    const key = JSON.stringify(r.tokens);
    if (v.strategy === "ar") outputs.set(q, key);
    else if (temperature === 0 && outputs.get(q) !== key) mismatches++;
  }
  console.error(`question ${i + 1}/${questions.length}`);
}

const ar = totals.get("ar")!;
const arTps = ar.tokens / (ar.ms / 1000);
const arFinished = finished.get("ar")!;
const speedupFinished = (name: string) => {
  const t = finished.get(name)!;
  return t.ms && arFinished.ms ? (t.tokens / t.ms) / (arFinished.tokens / arFinished.ms) : NaN;
};
interface Row {
  name: string;
  family: Strategy;
  params?: StrategyParams;
  tokensPerSecond: number;
  speedup: number;
  /** Speed-up over ar on the questions whose ar answer ends before the token cap. */
  speedupFinished: number;
  meanAccepted: number;
  maxAccepted: number;
  acceptanceRate: number;
  drafterPassesPerRound: number;
  share: { drafter: number; verifier: number; policy: number; other: number };
  modelled: Record<string, number>;
  acceptedLengths: number[];
  /** Tokens emitted per round by source: accepted draft tokens of each, and the verifier's one. */
  perRound: { drafter: number; context: number; history: number; verifier: number };
  /** Longest accepted draft in the answers that end before the token cap. */
  maxAcceptedFinished: number;
  /** draftLengths[k] = rounds that proposed k draft tokens (0: a plain step). */
  draftLengths: number[];
  meanDraftLength: number;
  /** The first question's rounds, as space-separated counts (compact in the JSON). */
  trace?: { drafted: string; accepted: string };
}
const rows: Row[] = list.map((v) => {
  const t = totals.get(v.name)!;
  const tps = t.tokens / (t.ms / 1000);
  const modelled: Record<string, number> = {};
  for (const [size, tpt] of Object.entries(PAPER_VERIFIER_MS)) {
    modelled[size] = tpt / ((t.drafterPasses * PAPER_DRAFTER_MS + t.rounds * tpt) / t.tokens);
  }
  const other = Math.max(0, t.ms - t.drafter - t.verifier - t.policy);
  return {
    name: v.name,
    family: v.family,
    params: v.params,
    tokensPerSecond: tps,
    speedup: tps / arTps,
    speedupFinished: speedupFinished(v.name),
    meanAccepted: t.rounds ? (t.accepted + t.rounds) / t.rounds : 0,
    maxAccepted: t.maxAccepted,
    acceptanceRate: t.drafted ? t.accepted / t.drafted : 0,
    drafterPassesPerRound: t.rounds ? t.drafterPasses / t.rounds : 0,
    share: {
      drafter: t.drafter / t.ms,
      verifier: t.verifier / t.ms,
      policy: t.policy / t.ms,
      other: other / t.ms,
    },
    modelled,
    acceptedLengths: t.lengths,
    perRound: {
      drafter: t.rounds ? t.acceptedBySource.drafter / t.rounds : 0,
      context: t.rounds ? t.acceptedBySource.context / t.rounds : 0,
      history: t.rounds ? t.acceptedBySource.history / t.rounds : 0,
      verifier: t.rounds ? 1 : 0,
    },
    maxAcceptedFinished: finished.get(v.name)!.maxAccepted,
    draftLengths: t.draftLengths,
    meanDraftLength: t.rounds ? t.drafted / t.rounds : 0,
    trace: traces.has(v.name)
      ? {
        drafted: traces.get(v.name)!.drafted.join(" "),
        accepted: traces.get(v.name)!.accepted.join(" "),
      }
      : undefined,
  };
});

const best = (family: Strategy, where: (r: Row) => boolean = () => true) =>
  rows.filter((r) => r.family === family && where(r)).reduce<Row | null>(
    (b, r) => (!b || r.speedup > b.speedup ? r : b),
    null,
  );
const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
const lines = [
  `Questions: ${
    questionsPath ?? "project's own set"
  } (first ${questions.length}), ${maxTokens} new tokens, ${
    temperature > 0 ? `temperature ${temperature} (seed = question number)` : "greedy"
  }, ` +
  `backend ${config.backend}; all variants interleaved in one run. ${
    temperature > 0
      ? "Sampled outputs are not compared (the sampling test checks their distribution)."
      : `Outputs differing from ar: ${mismatches}.`
  } ` +
  `ar's answer ends before the ${maxTokens}-token cap on ${finishedQuestions} of ${questions.length} questions.`,
  "",
  "| variant | tokens/s | speed-up vs ar (measured) | speed-up, answers ending before the cap | mean accepted | tokens/round: drafter / context / history / verifier | max accepted (all / ending before the cap) | acceptance | drafter passes/round | drafter / verifier / policy / other | modelled 7B / 14B / 32B |",
  "|---|---|---|---|---|---|---|---|---|---|---|",
  ...rows.map((r) =>
    `| ${r.name} | ${r.tokensPerSecond.toFixed(1)} | ${r.speedup.toFixed(2)}x | ${
      r.speedupFinished.toFixed(2)
    }x | ${r.meanAccepted.toFixed(2)} | ` +
    `${r.perRound.drafter.toFixed(2)} / ${r.perRound.context.toFixed(2)} / ${
      r.perRound.history.toFixed(2)
    } / ${r.perRound.verifier.toFixed(0)} | ` +
    `${r.maxAccepted} / ${r.maxAcceptedFinished} | ${pct(r.acceptanceRate)} | ${
      r.drafterPassesPerRound.toFixed(2)
    } | ` +
    `${pct(r.share.drafter)} / ${pct(r.share.verifier)} / ${pct(r.share.policy)} / ${
      pct(r.share.other)
    } | ` +
    `${r.modelled["7B"].toFixed(2)}x / ${r.modelled["14B"].toFixed(2)}x / ${
      r.modelled["32B"].toFixed(2)
    }x |`
  ),
];
if (!sweep) {
  const ff = best("failfast")!;
  const fixed = best("dllm-fixed");
  // the paper's Fast-dLLM baseline decodes at unmask threshold 0.9
  const fixedPaper = best("dllm-fixed", (r) => r.params?.unmaskThreshold === 0.9);
  const ard = best("ar-draft");
  lines.push(
    "",
    `Best per family (measured): failfast ${ff.speedup.toFixed(2)}x over ar; ` +
      (fixedPaper
        ? `${
          (ff.speedup / fixedPaper.speedup).toFixed(2)
        }x over the best dllm-fixed at the paper's threshold 0.9 (${fixedPaper.name}); `
        : "") +
      (fixed
        ? `${(ff.speedup / fixed.speedup).toFixed(2)}x over the best dllm-fixed (${fixed.name}); `
        : "") +
      (ard
        ? `${(ff.speedup / ard.speedup).toFixed(2)}x over the best ar-draft (${ard.name}).`
        : ""),
    "",
    `Accepted lengths of ${ff.name} (tokens emitted per round: rounds): ` +
      ff.acceptedLengths.map((n, len) => (n ? `${len}: ${n}` : "")).filter(Boolean).join(", "),
  );
  const controllerRows = rows.filter((r) => r.params?.controller === "cost");
  const fixedBest = rows.filter((r) => r.family !== "ar" && r.params?.controller !== "cost")
    .reduce<Row | null>((b, r) => (!b || r.speedup > b.speedup ? r : b), null);
  const ffFixedBest = best("failfast", (r) => r.params?.controller !== "cost");
  if (controllerRows.length) {
    lines.push(
      "",
      "Draft-length controller (lengths from measured pass costs and live acceptance):",
    );
    for (const r of controllerRows) {
      const dist = r.draftLengths.map((n, k) => (n ? `${k}: ${n}` : "")).filter(Boolean).join(", ");
      lines.push(
        "",
        `- ${r.name}: ${r.speedup.toFixed(2)}x over ar (measured)` +
          (fixedBest ? `, ${(r.speedup / fixedBest.speedup).toFixed(2)}x the best fixed row` : "") +
          (ffFixedBest
            ? `, ${(r.speedup / ffFixedBest.speedup).toFixed(2)}x the best fixed failfast row`
            : "") +
          `; modelled 32B ${r.modelled["32B"].toFixed(2)}x; mean draft length ${
            r.meanDraftLength.toFixed(1)
          }` +
          ` (rounds by draft length: ${dist}).`,
      );
    }
    if (fixedBest) {
      lines.push("", `Best fixed row: ${fixedBest.name}, ${fixedBest.speedup.toFixed(2)}x.`);
    }
  }
  const lookup = best("lookup");
  const ffPlain = best("failfast", (r) => !r.params?.lookup);
  const ffMerged = best("failfast", (r) => r.params?.lookup === true);
  const ardPlain = best("ar-draft", (r) => !r.params?.lookup);
  if (lookup && ffMerged) {
    lines.push(
      "",
      `Lookup merged: ${ffMerged.name} ${ffMerged.speedup.toFixed(2)}x over ar, ` +
        `${ffMerged.meanAccepted.toFixed(2)} tokens per round, longest accepted draft ` +
        `${ffMerged.maxAcceptedFinished} in answers ending before the cap; ` +
        `${(ffMerged.speedup / lookup.speedup).toFixed(2)}x over lookup alone` +
        (ffPlain
          ? `, ${(ffMerged.speedup / ffPlain.speedup).toFixed(2)}x over ${ffPlain.name}`
          : "") +
        (ardPlain
          ? `, ${(ffMerged.speedup / ardPlain.speedup).toFixed(2)}x over ${ardPlain.name}`
          : "") +
        ".",
    );
  }
}
const markdown = lines.join("\n");
console.log(markdown);
await writeResults(outName ?? (sweep ? "strategies-sweep" : "strategies"), {
  questions: questionsPath ?? "own",
  count: questions.length,
  maxTokens,
  temperature,
  backend: config.backend,
  mismatches,
  finishedQuestions,
  paperConstantsMs: { drafter: PAPER_DRAFTER_MS, verifier: PAPER_VERIFIER_MS },
  rows,
}, markdown);
await engine.close();
await engineInt8?.close();
if (mismatches > 0) {
  console.error(`error: ${mismatches} outputs differ from ar`);
  Deno.exit(1);
}
