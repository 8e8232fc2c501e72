// The draft-length controller's decisions with synthetic costs and acceptance.
import assert from "node:assert/strict";
import { AcceptanceModel } from "../src/engine/acceptance-model.ts";
import {
  bestLength,
  DRAFT_MARGIN,
  DraftController,
  extensionByRule,
  RoundPrior,
} from "../src/engine/draft-controller.ts";
import { type CostProfile, paperCosts, PassCosts, RowCurve } from "../src/engine/pass-costs.ts";

/** A CPU-like profile: a verify pass grows by `perRow` ms per row. */
function steepCosts(perRow: number, denoiseMs = 1.5): CostProfile {
  return {
    verify: new RowCurve([[1, 3], [64, 3 + 63 * perRow]]),
    denoiseMs,
    arStepMs: 0.7,
    roundMs: 0.3,
    adaptive: true,
  };
}
const drafterTokens = (confidences: number[]) =>
  confidences.map((confidence) => ({ source: "drafter" as const, confidence }));

Deno.test("controller: a flat verify cost proposes long windows, a steep one short ones", () => {
  const probs = Array.from({ length: 60 }, () => 0.9);
  assert.equal(bestLength(probs, 0, () => 50).k, 60, "flat: every likely token pays");
  const steep = bestLength(probs, 0, (rows) => 3 + 0.5 * rows);
  assert.ok(steep.k >= 2 && steep.k <= 12, `steep: ${steep.k}`);
  const steeper = bestLength(probs, 0, (rows) => 3 + 2 * rows);
  assert.ok(steeper.k < steep.k, "the steeper the curve, the shorter the window");
  assert.equal(bestLength(Array(10).fill(0), 0, () => 3).k, 0, "no token likely: a plain step");
  assert.equal(bestLength([], 0, () => 3).k, 0);
  // a sunk drafter cost does not make a draft longer than its tokens are worth
  const sunk = bestLength([0.9, 0.1, 0.1], 10, (rows) => 3 + rows);
  assert.equal(sunk.k, 1);
});

Deno.test("controller: with the paper's constants FailFast's windows keep extending", () => {
  const paper = new DraftController(
    new PassCosts(paperCosts()),
    AcceptanceModel.fresh(),
    "dllm",
    8,
  );
  const confident = drafterTokens(Array(8).fill(0.95));
  assert.ok(paper.extend(confident, 6.1), "a confident sub-block earns another pass");
  const long = drafterTokens(Array(40).fill(0.99));
  assert.ok(paper.extend(long, 5 * 6.1), "a sure draft still at 40 tokens");
  // on a CPU-like curve the same draft stops early
  const cpu = new DraftController(
    new PassCosts(steepCosts(0.4)),
    AcceptanceModel.fresh(),
    "dllm",
    8,
  );
  assert.ok(!cpu.extend(drafterTokens(Array(16).fill(0.6)), 3));
  const choice = cpu.choose(drafterTokens([0.95, 0.9, 0.3, 0.2, 0.1, 0.1, 0.1, 0.1]), 1.5, true);
  assert.ok(choice.k >= 1 && choice.k <= 3, `cut where confidence drops: ${choice.k}`);
});

Deno.test("controller: a drafter that is always wrong gives plain decoding", () => {
  const costs = new PassCosts(steepCosts(0.15));
  const ctl = new DraftController(costs, AcceptanceModel.fresh(), "dllm", 8);
  assert.ok(ctl.runDrafter(ctl.plainRate()), "a new drafter is given a chance");
  const ranAt: number[] = [];
  for (let round = 0; round < 200; round++) {
    if (!ctl.runDrafter(ctl.plainRate())) continue;
    ranAt.push(round);
    const draft = drafterTokens(Array(8).fill(0.9));
    ctl.model.observe(draft, 0); // every draft rejected at its first token
    ctl.observeDrafterRound(1, costs.denoiseMs() + costs.verifyMs(9, true) + costs.roundMs());
  }
  // once its estimate has fallen, it explores ever more rarely: 8, 16, 32, then every 64 rounds
  assert.ok(ranAt.length <= 8, `the drafter ran ${ranAt.length} of 200 rounds`);
  const gaps = ranAt.slice(1).map((r, i) => r - ranAt[i]);
  assert.deepEqual(gaps.slice(-5), [9, 17, 33, 65, 65], `gaps between drafter rounds: ${gaps}`);
  // the model learned that even its confident tokens are rejected
  assert.ok(ctl.model.probability({ source: "drafter", confidence: 0.9 }, 0) < 0.4);
});

Deno.test("controller: a drafter that pays keeps drafting through a few rejections", () => {
  const costs = new PassCosts(steepCosts(0.15));
  const ctl = new DraftController(costs, AcceptanceModel.fresh(), "dllm", 8);
  const roundMs = costs.denoiseMs() + costs.verifyMs(5, true) + costs.roundMs();
  // a request's level: drafter rounds emit 2.5 tokens where a plain step emits 1
  for (let i = 0; i < 50; i++) ctl.observeDrafterRound(2.5, roundMs);
  assert.ok(ctl.runDrafter(ctl.plainRate()));
  for (let i = 0; i < 3; i++) {
    ctl.observeDrafterRound(1, roundMs); // rejected at the first token
    assert.ok(ctl.runDrafter(ctl.plainRate()), `still drafting after ${i + 1} rejections`);
  }
});

Deno.test("controller: a call's round trip is priced on every pass and kept out of the factors", () => {
  let rtt = 20;
  const costs = new PassCosts({ ...steepCosts(0.1), callMs: () => rtt });
  assert.equal(costs.verifyMs(1, false), 3 + 20);
  // timings that include the round trip leave the profile's factor at 1
  for (let i = 0; i < 100; i++) costs.observe("verify", 3 + 20, 1);
  assert.ok(Math.abs(costs.factors.verify - 1) < 1e-9);
  rtt = 50;
  assert.equal(costs.verifyMs(1, false), 53, "the live round trip, not the one at start");
  // with a round trip that dwarfs the rows, the window grows as on the paper's GPU
  const far = new DraftController(costs, AcceptanceModel.fresh(), "dllm", 8);
  const near = new DraftController(
    new PassCosts(steepCosts(0.1)),
    AcceptanceModel.fresh(),
    "dllm",
    8,
  );
  const tokens = drafterTokens(Array(24).fill(0.8));
  assert.ok(far.choose(tokens, 1.5, true).k > near.choose(tokens, 1.5, true).k);
});

Deno.test("controller: the extension rule sent to a model server decides as the controller does", () => {
  const costs = new PassCosts({ ...steepCosts(0.2), callMs: () => 10 });
  const ctl = new DraftController(costs, AcceptanceModel.fresh(), "dllm", 8);
  const decide = extensionByRule(ctl.extensionRule(8, 64));
  for (const conf of [0.3, 0.6, 0.9, 0.99]) {
    for (const n of [8, 16, 32]) {
      const confs = Array(n).fill(conf);
      for (const spent of [1.5, 6]) {
        assert.equal(
          decide(confs, spent),
          ctl.extend(drafterTokens(confs), spent + 10),
          `conf ${conf}, ${n} tokens, ${spent} ms spent`,
        );
        const blockEnd = { passes: 2, tokens: 9 };
        assert.equal(
          decide(confs, spent, blockEnd),
          ctl.extend(drafterTokens(confs), spent + 10, blockEnd),
          `conf ${conf}, ${n} tokens, ${spent} ms spent, at a block's end`,
        );
      }
    }
  }
});

Deno.test("controller: a draft that only breaks even is not chosen over a plain step", () => {
  const costs = new PassCosts(steepCosts(0.15));
  const plain = (c: DraftController) => c.plainRate();
  const settle = (gain: number) => {
    const c = new DraftController(costs, AcceptanceModel.fresh(), "dllm", 8);
    // drafter rounds that emit `gain` times a plain step's tokens per millisecond
    const ms = 10;
    for (let i = 0; i < 200; i++) c.observeDrafterRound(plain(c) * ms * gain, ms);
    return c;
  };
  assert.equal(DRAFT_MARGIN, 0.1);
  assert.ok(!settle(1.05).runDrafter(plain(settle(1))), "5% better than plain: plain");
  assert.ok(settle(1.2).runDrafter(plain(settle(1))), "20% better: draft");
});

Deno.test("controller: a request starts from what earlier requests' drafter rounds yielded", () => {
  const costs = new PassCosts(steepCosts(0.15));
  const roundMs = costs.denoiseMs() + costs.verifyMs(5, true) + costs.roundMs();
  /** A finished request whose drafter rounds each emitted `tokens`, into `prior`. */
  const finished = (prior: RoundPrior, tokens: number) => {
    const c = new DraftController(costs, AcceptanceModel.fresh(), "dllm", 8, prior);
    for (let i = 0; i < 30; i++) c.observeDrafterRound(tokens, roundMs);
    c.finish();
  };
  const losing = new RoundPrior();
  finished(losing, 1);
  const paying = new RoundPrior();
  finished(paying, 4);
  const plain = new DraftController(costs, AcceptanceModel.fresh(), "dllm", 8).plainRate();
  const next = (prior: RoundPrior) =>
    new DraftController(costs, AcceptanceModel.fresh(), "dllm", 8, prior);
  assert.ok(!next(losing).runDrafter(plain), "after a request where drafting lost: plain at once");
  assert.ok(next(paying).runDrafter(plain), "after one where it paid: drafting at once");
  // the prior weighs a few rounds: a request's own rounds soon outweigh it
  const turned = next(losing);
  for (let i = 0; i < 10; i++) turned.observeDrafterRound(4, roundMs);
  assert.ok(turned.runDrafter(plain));
});

Deno.test("controller: a pass that must first complete a block is priced as two", () => {
  const costs = new PassCosts(steepCosts(0.05, 3));
  const ctl = new DraftController(costs, AcceptanceModel.fresh(), "dllm", 8);
  let both = 0;
  for (let n = 1; n <= 24; n++) {
    for (const conf of [0.5, 0.7, 0.9, 0.95, 0.99]) {
      const draft = drafterTokens(Array(n).fill(conf));
      const two = ctl.extend(draft, 3, { passes: 2, tokens: 8 });
      const one = ctl.extend(draft, 3, { passes: 1, tokens: 8 });
      assert.ok(!two || one, `${n} tokens at ${conf}: two passes pay where one does not`);
      if (one && !two) both++;
    }
  }
  assert.ok(both > 0, "the second pass never made a difference");
});
