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

Deno.test("pass costs: a verify pass is corrected per band of rows", () => {
  // a profile whose one-row point came out high: one-row passes run at 0.7 of it, long ones at 1
  const live = new PassCosts({
    verify: new RowCurve([[1, 4], [8, 5], [64, 12]]),
    denoiseMs: 1,
    arStepMs: 1,
    roundMs: 0.3,
    adaptive: true,
  });
  for (let i = 0; i < 300; i++) {
    live.observe("verify", 0.7 * 4, 1);
    live.observe("verify", 5, 8);
  }
  assert.ok(Math.abs(live.verifyMs(1, false) - 0.7 * 4) < 0.05, `${live.verifyMs(1, false)}`);
  assert.ok(Math.abs(live.verifyMs(8, false) - 5) < 0.05, `${live.verifyMs(8, false)}`);
  // a band never timed takes the kind's overall factor, between the two
  const f = live.factors.verify;
  assert.ok(f > 0.7 && f < 1);
  assert.ok(Math.abs(live.verifyMs(32, false) - live.profile.verify.at(32) * f) < 1e-9);
  // after a draft is its own kind: untouched
  assert.equal(live.verifyMs(1, true), 4);
});
