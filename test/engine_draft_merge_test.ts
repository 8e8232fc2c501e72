// The merge of a drafter's draft with a lookup continuation (draft-merge.ts), case by case.
import assert from "node:assert/strict";
import type { LookupCandidate } from "../src/engine/context-lookup.ts";
import {
  chooseCandidate,
  DEFAULT_MERGE_RULE,
  lookupCap,
  lookupDraftsAlone,
  mergeDrafts,
  type MergeRule,
} from "../src/engine/draft-merge.ts";

const rule: MergeRule = {
  maxLookup: 60,
  capBase: 4,
  capPerMatch: 2,
  overrideBelow: 0.5,
  overrideMinMatch: 4,
  contextAloneAt: 2,
  historyAloneAt: 16,
};
const candidate = (
  tokens: number[],
  matchLength: number,
  origin: "context" | "history" = "context",
): LookupCandidate => ({ tokens, matchLength, support: 1, origin });
const seq = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

Deno.test("merge: without a lookup the drafter's draft stands (fail fast)", () => {
  const m = mergeDrafts({ tokens: [1, 2], confidences: [0.9, 0.2] }, null, rule, 10);
  assert.deepEqual(m, { tokens: [1, 2], sources: ["drafter", "drafter"] });
});

Deno.test("merge: a lookup agreeing with the drafter extends the draft past its window (win big)", () => {
  const lookup = candidate([1, 2, ...seq(10, 40)], 8); // cap 4 + 2 * 8 = 20
  const m = mergeDrafts({ tokens: [1, 2, 3], confidences: [0.9, 0.9, 0.3] }, lookup, rule, 100);
  assert.equal(m.tokens.length, 20);
  assert.deepEqual(m.tokens.slice(0, 4), [1, 2, 10, 11]);
  assert.deepEqual(m.sources.slice(0, 3), ["drafter", "drafter", "context"]);
  assert.ok(m.sources.slice(2).every((s) => s === "context"));
  // the caller's room caps it
  assert.equal(mergeDrafts({ tokens: [1], confidences: [1] }, lookup, rule, 5).tokens.length, 5);
});

Deno.test("merge: a lookup that ends while agreeing is continued by the drafter", () => {
  const m = mergeDrafts(
    { tokens: [1, 2, 3, 4], confidences: [1, 1, 1, 1] },
    candidate([1, 2], 3),
    rule,
    10,
  );
  assert.deepEqual(m.tokens, [1, 2, 3, 4]);
  assert.ok(m.sources.every((s) => s === "drafter"));
});

Deno.test("merge: on disagreement the more confident source wins", () => {
  const lookup = candidate([7, 8, 9], 5);
  const sure = mergeDrafts({ tokens: [1, 2], confidences: [0.8, 0.8] }, lookup, rule, 10);
  assert.deepEqual(sure.tokens, [1, 2], "a confident drafter keeps its draft");
  const unsure = mergeDrafts({ tokens: [1, 2], confidences: [0.3, 0.8] }, lookup, rule, 10);
  assert.deepEqual(unsure, { tokens: [7, 8, 9], sources: ["context", "context", "context"] });
  const shortMatch = mergeDrafts(
    { tokens: [1, 2], confidences: [0.3, 0.8] },
    candidate([7], 2),
    rule,
    10,
  );
  assert.deepEqual(shortMatch.tokens, [1, 2], "a short match does not overrule the drafter");
});

Deno.test("merge: with the drafter's pass skipped the lookup drafts alone, longer for longer matches", () => {
  const long = seq(100, 80);
  const m2 = mergeDrafts({ tokens: [], confidences: [] }, candidate(long, 2), rule, 100);
  assert.equal(m2.tokens.length, 8);
  const m40 = mergeDrafts(
    { tokens: [], confidences: [] },
    candidate(long, 40, "history"),
    rule,
    100,
  );
  assert.equal(m40.tokens.length, 60, "capped by maxLookup");
  assert.ok(m40.sources.every((s) => s === "history"));
  assert.equal(lookupCap(candidate(long, 3), rule), 10);
});

Deno.test("merge: which lookups draft alone, and which candidate is used", () => {
  assert.equal(lookupDraftsAlone(null, rule), false);
  assert.equal(lookupDraftsAlone(candidate([1], 2), rule), true);
  assert.equal(lookupDraftsAlone(candidate([1], 8, "history"), rule), false);
  assert.equal(lookupDraftsAlone(candidate([1], 16, "history"), rule), true);
  assert.equal(lookupDraftsAlone(candidate([1], 9), { ...rule, contextAloneAt: 0 }), false);
  const ctx = candidate([1], 3);
  const hist = candidate([2], 20, "history");
  assert.equal(chooseCandidate(ctx, hist, rule), hist, "a long history match that may draft alone");
  assert.equal(chooseCandidate(ctx, candidate([2], 10, "history"), rule), ctx);
  assert.equal(chooseCandidate(null, hist, rule), hist);
  assert.equal(chooseCandidate(ctx, null, rule), ctx);
  assert.equal(DEFAULT_MERGE_RULE.contextAloneAt, 2);
});
