import assert from "node:assert/strict";
import { AcceptanceModel, AcceptancePrior } from "../src/engine/acceptance-model.ts";

Deno.test("acceptance: it is learned online and carried to the next request", () => {
  const prior = new AcceptancePrior();
  const first = prior.forRequest();
  const lookupToken = { source: "context" as const, matchLength: 5 };
  const before = first.probability(lookupToken, 0);
  for (let i = 0; i < 50; i++) first.observe([lookupToken, lookupToken], 0);
  assert.ok(first.probability(lookupToken, 0) < before / 2, "rejections lower the estimate");
  assert.equal(
    first.probability({ source: "drafter", confidence: 0.9 }, 0),
    AcceptanceModel.fresh().probability({ source: "drafter", confidence: 0.9 }, 0),
    "other cells are untouched",
  );
  first.finish();
  const second = prior.forRequest();
  assert.ok(second.probability(lookupToken, 0) < before / 2, "the next request starts from it");
  // only judged tokens count: the ones after the first rejection were never verified
  const m = AcceptanceModel.fresh();
  const p1 = m.probability(lookupToken, 1);
  m.observe([lookupToken, lookupToken, lookupToken], 0);
  assert.equal(m.probability(lookupToken, 1), p1);
});
