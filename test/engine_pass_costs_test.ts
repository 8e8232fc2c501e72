import assert from "node:assert/strict";
import { paperCosts, PassCosts, RowCurve } from "../src/engine/pass-costs.ts";

Deno.test("pass costs: a curve interpolates, in-flight timings correct it, constants stay", () => {
  const curve = new RowCurve([[1, 3], [5, 4], [9, 6]]);
  assert.equal(curve.at(1), 3);
  assert.equal(curve.at(3), 3.5);
  assert.equal(curve.at(13), 8, "extrapolated from the last two points");
  assert.throws(() => new RowCurve([]), RangeError);
  assert.throws(() => new RowCurve([[2, 1], [1, 2]]), RangeError);
  const live = new PassCosts({
    verify: new RowCurve([[1, 3], [64, 9.3]]),
    denoiseMs: 1.5,
    arStepMs: 0.7,
    roundMs: 0.3,
    adaptive: true,
  });
  for (let i = 0; i < 200; i++) live.observe("verifyAfterDraft", 2 * live.profile.verify.at(4), 4);
  assert.ok(Math.abs(live.verifyMs(4, true) / live.verifyMs(4, false) - 2) < 0.05);
  const fixed = new PassCosts(paperCosts());
  fixed.observe("verify", 1000, 1);
  assert.equal(fixed.verifyMs(1, false), 52.6);
  assert.equal(fixed.verifyMs(61, true), 52.6, "the paper's verify step is flat in its rows");
});
