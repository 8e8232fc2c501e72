/**
 * Lookup probe: how well each draft source predicts the verifier, position by position, on the
 * verifier's own greedy answers (no timing; the strategy benchmark times the shipped rule). At
 * every position of every answer it takes
 *   - the block-diffusion drafter's one-pass draft of 8 tokens (sliding sub-block, as FailFast's
 *     CPU-tuned rows decode) with its confidences,
 *   - the AR drafter's 3-token draft,
 *   - the context lookup's candidate (the request's own prompt and output so far), and
 *   - the cross-request candidate from the earlier answers of the run,
 * and counts the leading tokens of each that match the verifier's continuation. The rules of
 * draft-merge.ts are then replayed on those windows, with what each costs: drafter passes and
 * verify rows per window. Writes bench/results/lookup-probe.{json,md}.
 *
 *   deno run -A bench/lookup-probe.ts [--questions FILE] [--offset 100] [--count 60]
 */

import { parseArgs } from "node:util";
import { loadConfig } from "../src/config.ts";
import { ArDrafter } from "../src/engine/ar-drafter.ts";
import { ContextLookup, type LookupCandidate } from "../src/engine/context-lookup.ts";
import { DllmDrafter } from "../src/engine/dllm-drafter.ts";
import { DEFAULT_MERGE_RULE, lookupCap } from "../src/engine/draft-merge.ts";
import type { Drafter } from "../src/engine/drafter.ts";
import { FailFastEngine } from "../src/engine/engine.ts";
import { openDrafters } from "../src/platform/deno.ts";
import { HISTORY_MIN_MATCH, LookupHistory } from "../src/engine/lookup-history.ts";
import { newTimeBuckets } from "../src/engine/stats.ts";
import { Logger } from "../src/log.ts";
import { loadModelDir } from "../src/model/model-dir.ts";
import { loadPolicy } from "../src/policy/load-deno.ts";
import { openModel } from "../src/runtime/create.ts";
import { exists, GSM8K_TEST, ownQuestions, readQuestions } from "../harness/questions.ts";
import { writeResults } from "./results.ts";

const { values: args } = parseArgs({
  args: Deno.args,
  options: {
    questions: { type: "string" },
    offset: { type: "string", default: "100" },
    count: { type: "string", default: "60" },
  },
});
const offset = Number(args.offset);
const count = Number(args.count);
const questionsPath = args.questions ?? ((await exists(GSM8K_TEST)) ? GSM8K_TEST : undefined);
const questions = questionsPath
  ? (await readQuestions(questionsPath, offset + count)).slice(offset)
  : ownQuestions(offset + count).slice(offset);

const config = { ...loadConfig(), lookupHistoryTokens: 0 };
const log = new Logger("warn");
const verifierDir = await loadModelDir(config.verifierDir, "ar");
const verifier = { dir: verifierDir, session: await openModel(verifierDir, config) };
const drafters = await openDrafters({ ...config, drafterQuantize: "int8" }, log);
if (!drafters.drafter || !drafters.arDrafter) throw new Error("the probe needs both drafters");
const policy = await loadPolicy();
const engine = new FailFastEngine({ verifier, ...drafters, policy }, config, log);
const eos = verifierDir.config.eosTokenIds;

/** What one answer position offers. */
interface Window {
  dllm: number[];
  dllmConf: number[];
  dllmPasses: number;
  ar: number[];
  context: LookupCandidate | null;
  history: LookupCandidate | null;
  /** The verifier's continuation from here. */
  truth: number[];
}

const windows: Window[] = [];
const history = new LookupHistory(1 << 20, HISTORY_MIN_MATCH);
for (const [qi, q] of questions.entries()) {
  const dllm = new DllmDrafter(drafters.drafter.session, policy, {
    initial: 8,
    step: 0,
    max: 8,
    tau: null,
    threshold: 0.05,
    align: false,
    slide: true,
    trim: false,
  }, eos);
  const ar = new ArDrafter(drafters.arDrafter.session, policy, 3, null, eos);
  const look = new ContextLookup(config.lookupKeyLength);
  const at: Omit<Window, "truth">[] = [];
  const starts: number[] = [];
  let prompt: number[] = [];
  // Proposes nothing, so the verifier decodes every position; records what each source offers.
  const recorder: Drafter = {
    async propose(context, maxLen) {
      if (starts.length === 0) prompt = [...context];
      const time = newTimeBuckets();
      const d = await dllm.propose(context, Math.min(8, maxLen + 1), time);
      const a = await ar.propose(context, Math.min(3, maxLen + 1), time);
      starts.push(context.length);
      at.push({
        dllm: d.tokens,
        dllmConf: d.confidences ?? [],
        dllmPasses: d.passes,
        ar: a.tokens,
        context: look.lookup(context, 64),
        history: history.lookup("", context, 64),
      });
      return { tokens: [], passes: 0 };
    },
    onVerified(valid) {
      dllm.onVerified(valid);
      ar.onVerified(valid);
    },
    release() {
      dllm.release();
      ar.release();
    },
  };
  const output: number[] = [];
  for await (
    const ev of engine.generateWithDrafter(
      { messages: [{ role: "user", content: q }], maxTokens: 256, strategy: "ar" },
      () => recorder,
    )
  ) {
    if (ev.type === "delta") output.push(...ev.tokens);
  }
  if (output.length >= 256) continue; // answers looping to the cap are trivially easy to draft
  const full = [...prompt, ...output];
  at.forEach((w, i) => windows.push({ ...w, truth: full.slice(starts[i]) }));
  history.add("", prompt, output);
  console.error(`answer ${qi + 1}/${questions.length}: ${output.length} tokens`);
}
await engine.close();

const lead = (a: readonly number[], b: readonly number[]) => {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
};
const rule = DEFAULT_MERGE_RULE;
const capped = (c: LookupCandidate) => c.tokens.slice(0, lookupCap(c, rule));

/** A way to draft at a window: the draft, and the drafter passes it cost. */
type Choice = (w: Window) => { tokens: number[]; passes: number };
const choices: [string, Choice][] = [
  ["dLLM drafter, one pass over 8 positions", (w) => ({ tokens: w.dllm, passes: w.dllmPasses })],
  ["AR drafter, 3 tokens", (w) => ({ tokens: w.ar, passes: w.ar.length })],
  ["context lookup alone", (w) => ({ tokens: w.context ? capped(w.context) : [], passes: 0 })],
  [
    `earlier answers alone (match of ${HISTORY_MIN_MATCH}+)`,
    (w) => ({ tokens: w.history ? capped(w.history) : [], passes: 0 }),
  ],
  [
    "dLLM, replaced by the lookup where their first tokens agree (drafter always runs)",
    (w) => ({
      tokens: w.context && w.context.tokens[0] === w.dllm[0] ? capped(w.context) : w.dllm,
      passes: w.dllmPasses,
    }),
  ],
  [
    "shipped rule: the context lookup alone where it has a match, else the dLLM",
    (w) =>
      w.context
        ? { tokens: capped(w.context), passes: 0 }
        : { tokens: w.dllm, passes: w.dllmPasses },
  ],
  [
    "the better of dLLM and lookup, if one knew (upper bound)",
    (w) => {
      const l = w.context ? capped(w.context) : [];
      return lead(l, w.truth) > lead(w.dllm, w.truth)
        ? { tokens: l, passes: 0 }
        : { tokens: w.dllm, passes: w.dllmPasses };
    },
  ],
];

interface Row {
  source: string;
  leadingMatches: number;
  drafterPassesPerWindow: number;
  draftTokensPerWindow: number;
}
const rows: Row[] = choices.map(([source, choose]) => {
  let matched = 0, passes = 0, drafted = 0;
  for (const w of windows) {
    const c = choose(w);
    matched += lead(c.tokens, w.truth);
    passes += c.passes;
    drafted += c.tokens.length;
  }
  const n = windows.length;
  return {
    source,
    leadingMatches: matched / n,
    drafterPassesPerWindow: passes / n,
    draftTokensPerWindow: drafted / n,
  };
});

// The context lookup by match length: how far its continuation holds.
const buckets = [[2, 2], [3, 3], [4, 7], [8, 15], [16, 31], [32, 64]];
const byMatch = buckets.map(([lo, hi]) => {
  const ws = windows.filter((w) =>
    w.context && w.context.matchLength >= lo && w.context.matchLength <= hi
  );
  const accepted = ws.map((w) => lead(w.context!.tokens, w.truth));
  const share = (k: number) => ws.length ? accepted.filter((a) => a >= k).length / ws.length : 0;
  return {
    matchLength: lo === hi ? `${lo}` : `${lo}-${hi}`,
    windows: ws.length,
    meanMatching: ws.length ? accepted.reduce((a, b) => a + b, 0) / ws.length : 0,
    atLeast1: share(1),
    atLeast4: share(4),
    atLeast8: share(8),
    atLeast16: share(16),
    proposed: ws.length
      ? ws.reduce(
        (n, w) => n + Math.min(w.context!.tokens.length, lookupCap(w.context!, rule)),
        0,
      ) /
        ws.length
      : 0,
  };
});
const withContext = windows.filter((w) => w.context).length / windows.length;
const withHistory = windows.filter((w) => w.history).length / windows.length;

const f2 = (x: number) => x.toFixed(2);
const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
const markdown = [
  `Questions: ${questionsPath ?? "project's own set"} ${offset + 1}-${
    offset + questions.length
  }, ` +
  `greedy answers of at most 256 tokens (answers looping to the cap left out); ` +
  `${windows.length} windows (every answer position). The context lookup has a candidate at ` +
  `${pct(withContext)} of them, the earlier answers at ${pct(withHistory)}.`,
  "",
  "| draft at each window | leading tokens matching the verifier | drafter passes | draft tokens (verify rows) |",
  "|---|---|---|---|",
  ...rows.map((r) =>
    `| ${r.source} | ${f2(r.leadingMatches)} | ${f2(r.drafterPassesPerWindow)} | ${
      f2(r.draftTokensPerWindow)
    } |`
  ),
  "",
  `Context lookup by match length (proposing at most ${rule.capBase} + ${rule.capPerMatch} x match tokens, ` +
  `${rule.maxLookup} at most):`,
  "",
  "| match length | windows | mean matching | >= 1 | >= 4 | >= 8 | >= 16 | tokens proposed |",
  "|---|---|---|---|---|---|---|---|",
  ...byMatch.map((b) =>
    `| ${b.matchLength} | ${b.windows} | ${f2(b.meanMatching)} | ${pct(b.atLeast1)} | ${
      pct(b.atLeast4)
    } | ${pct(b.atLeast8)} | ${pct(b.atLeast16)} | ${b.proposed.toFixed(1)} |`
  ),
].join("\n");
console.log(markdown);
await writeResults("lookup-probe", {
  questions: questionsPath ?? "own",
  offset,
  count: questions.length,
  windows: windows.length,
  withContext,
  withHistory,
  rows,
  byMatch,
}, markdown);
