import assert from "node:assert/strict";
import { countBySource, StatsCollector } from "../src/engine/stats.ts";
import { sampleRounds, sampleStats } from "./helpers/generation-stats.ts";

Deno.test("stats: a request's rounds sum up to its statistics and histograms", () => {
  const c = new StatsCollector("failfast", 12);
  for (const r of sampleRounds) c.addRound(r);
  c.time.verifier = 6;
  c.time.drafter = 2;
  const { timeMs, ...counts } = c.summary(9);
  const { timeMs: _, ...expected } = sampleStats;
  assert.deepEqual(counts, expected);
  assert.equal(timeMs.verifier, 6);
  assert.ok(timeMs.other >= 0, "what the buckets do not cover is never negative");
});

Deno.test("stats: no rounds give zeros, not NaN", () => {
  const s = new StatsCollector("ar", 3).summary(0);
  assert.deepEqual(
    [s.rounds, s.meanAcceptedLength, s.acceptanceRate, s.drafterPassesPerRound],
    [0, 0, 0, 0],
  );
  assert.deepEqual(s.acceptedByDraftLength, {});
});

Deno.test("stats: tokens are counted by the source that drafted them, up to a length", () => {
  const sources = ["context", "context", "drafter", "history"] as const;
  assert.deepEqual(countBySource([...sources], 4, 4), { drafter: 1, context: 2, history: 1 });
  assert.deepEqual(countBySource([...sources], 4, 2), { drafter: 0, context: 2, history: 0 });
  // a draft without sources (a caller's drafter) is the model drafter's
  assert.deepEqual(countBySource(undefined, 3, 2), { drafter: 2, context: 0, history: 0 });
});
