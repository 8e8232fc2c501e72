// The WebAssembly policy core against the plain TypeScript reference on random inputs.
import assert from "node:assert/strict";
import { loadPolicy } from "../src/policy/load-deno.ts";
import {
  refArgmax,
  refConfidence,
  refFirstBelow,
  refUnmask,
  refVerifyGreedy,
  refWindowDecision,
} from "../src/policy/reference.ts";
import { PolicyInputError } from "../src/errors.ts";
import { Rand } from "./helpers/rand.ts";

const core = await loadPolicy();

/** Random logits with the awkward cases mixed in: ties, -Infinity, huge values. */
function randomLogits(rand: Rand, rows: number, vocab: number): Float32Array {
  const out = new Float32Array(rows * vocab);
  for (let r = 0; r < rows; r++) {
    const kind = rand.int(6);
    for (let i = 0; i < vocab; i++) {
      const o = r * vocab + i;
      switch (kind) {
        case 0: // ordinary
          out[o] = rand.normal() * 3;
          break;
        case 1: // heavy ties: few distinct values
          out[o] = rand.int(3);
          break;
        case 2: // -Infinity sprinkled (but not everywhere)
          out[o] = rand.next() < 0.5 ? -Infinity : rand.normal();
          break;
        case 3: // very large magnitudes
          out[o] = (rand.next() - 0.5) * 1e30;
          break;
        case 4: // one confident spike
          out[o] = rand.normal() + (i === r % vocab ? 20 : 0);
          break;
        default: // all equal
          out[o] = 1.5;
      }
    }
  }
  return out;
}

const VOCABS = [1, 2, 3, 5, 7, 8, 9, 13, 31, 33, 100, 257, 1001];

Deno.test("policy: argmax equals the reference (ties, -Infinity, huge, odd vocab sizes)", () => {
  const rand = new Rand(1);
  let cases = 0;
  for (let trial = 0; trial < 400; trial++) {
    const vocab = VOCABS[trial % VOCABS.length];
    const rows = 1 + rand.int(8);
    const logits = randomLogits(rand, rows, vocab);
    const exclude = vocab > 1 && rand.next() < 0.5 ? rand.int(vocab) : -1;
    const got = core.argmax(logits, vocab, exclude);
    for (let r = 0; r < rows; r++) {
      assert.equal(got[r], refArgmax(logits, r * vocab, vocab, exclude), `trial ${trial} row ${r}`);
      cases++;
    }
  }
  assert.ok(cases > 1000);
});

Deno.test("policy: argmax on a 152k vocabulary, maximum in the tail and excluded", () => {
  const vocab = 151_936;
  const logits = new Float32Array(vocab * 2);
  logits[vocab - 1] = 5; // row 0: maximum in the scalar tail
  logits[vocab + 17] = 9; // row 1: maximum is excluded, runner-up is later
  logits[vocab + 90_000] = 8;
  assert.deepEqual([...core.argmax(logits, vocab, 17)], [vocab - 1, 90_000]);
});

Deno.test("policy: confidences equal the reference within 1e-5 relative", () => {
  const rand = new Rand(2);
  for (let trial = 0; trial < 400; trial++) {
    const vocab = VOCABS[trial % VOCABS.length];
    const rows = 1 + rand.int(6);
    const logits = randomLogits(rand, rows, vocab);
    const exclude = vocab > 1 && rand.next() < 0.5 ? rand.int(vocab) : -1;
    const got = core.confidences(logits, vocab, exclude);
    for (let r = 0; r < rows; r++) {
      const want = refConfidence(logits, r * vocab, vocab, exclude);
      assert.equal(got.tokens[r], want.token, `trial ${trial} row ${r}`);
      const diff = Math.abs(got.confidences[r] - want.confidence);
      assert.ok(diff <= 1e-5 * Math.max(want.confidence, 1e-30), `trial ${trial}: ${diff}`);
    }
  }
});

Deno.test("policy: unmask step equals the reference and commits at least one", () => {
  const rand = new Rand(3);
  for (let trial = 0; trial < 600; trial++) {
    const vocab = VOCABS[1 + (trial % (VOCABS.length - 1))];
    const rows = 1 + rand.int(8);
    const logits = randomLogits(rand, rows, vocab);
    const masked = Array.from({ length: rows }, () => rand.next() < 0.7);
    const maskId = rand.int(vocab);
    const threshold = [0, 0.05, 0.5, 0.9, 1][rand.int(5)];
    const got = core.unmask(logits, vocab, masked, maskId, threshold);
    const want = refUnmask(logits, vocab, masked, maskId, threshold);
    // Confidences agree within float32 rounding; a threshold sitting inside that rounding gap
    // could flip a commit, which random data never hits at these thresholds.
    assert.equal(got.count, want.count, `trial ${trial}`);
    const gotPick = [...got.commit].map((c, r) => (c ? r : -1)).filter((r) => r >= 0);
    const wantPick = want.commit.map((c, r) => (c ? r : -1)).filter((r) => r >= 0);
    if (want.count === 1 && gotPick[0] !== wantPick[0]) {
      // The forced "most confident" pick between two rows whose confidences differ by less
      // than float32 resolution may go either way.
      const a = want.confidences[gotPick[0]], b = want.confidences[wantPick[0]];
      assert.ok(Math.abs(a - b) <= 1e-6 * b, `trial ${trial}: ${a} vs ${b}`);
    } else {
      assert.deepEqual(gotPick, wantPick, `trial ${trial}`);
    }
    for (let r = 0; r < rows; r++) {
      if (!masked[r]) continue;
      assert.equal(got.tokens[r], want.tokens[r]);
      assert.notEqual(got.tokens[r], maskId, "the mask token is never proposed");
    }
    if (masked.some(Boolean)) assert.ok(got.count >= 1);
    else assert.equal(got.count, 0);
  }
});

Deno.test("policy: window decision (fail fast / cap / extend) equals the reference", () => {
  const rand = new Rand(4);
  for (let trial = 0; trial < 2000; trial++) {
    const k = 1 + rand.int(70);
    const conf = Array.from(
      { length: k },
      () => (rand.next() < 0.97 ? 0.5 + rand.next() / 2 : rand.next() / 2),
    );
    const tau = rand.next();
    const nMax = 1 + rand.int(80);
    assert.equal(core.windowDecision(conf, tau, nMax), refWindowDecision(conf, tau, nMax));
    assert.equal(core.firstBelow(conf, tau), refFirstBelow(conf, tau));
  }
  assert.equal(core.firstBelow([0.9, 0.3, 0.2], 0.45), 1);
  assert.equal(core.firstBelow([0.1, 0.9], 0.45), 0);
  assert.equal(core.firstBelow([0.9, 0.9], 0.45), 2);
  assert.equal(core.windowDecision([0.9, 0.3, 0.99], 0.45, 60), "fail-fast");
  assert.equal(core.windowDecision(new Array(60).fill(0.9), 0.45, 60), "cap");
  assert.equal(core.windowDecision(new Array(10).fill(0.9), 0.45, 60), "extend");
});

Deno.test("policy: greedy verification equals the reference, k = 0 .. 70", () => {
  const rand = new Rand(5);
  for (let trial = 0; trial < 1500; trial++) {
    const vocab = [2, 7, 33, 257][trial % 4];
    const k = trial % 71;
    const logits = randomLogits(rand, k + 1, vocab);
    // Draft: mostly the row argmaxes, with an occasional wrong token.
    const draft = Array.from(
      { length: k },
      (_, i) => (rand.next() < 0.97 ? refArgmax(logits, i * vocab, vocab) : rand.int(vocab)),
    );
    assert.deepEqual(
      core.verifyGreedy(logits, vocab, draft),
      refVerifyGreedy(logits, vocab, draft),
    );
  }
});

/** k + 1 rows whose argmaxes are `targets`. */
function rowsWithArgmax(targets: number[], vocab: number): Float32Array {
  const logits = new Float32Array(targets.length * vocab).fill(-1);
  targets.forEach((t, r) => (logits[r * vocab + t] = 3));
  return logits;
}

Deno.test("policy: greedy verification cases (as in vLLM's rejection-sampler tests)", () => {
  const V = 10;
  // perfect match: all accepted, bonus from the last row
  assert.deepEqual(core.verifyGreedy(rowsWithArgmax([1, 2, 3, 4], V), V, [1, 2, 3]), {
    accepted: 3,
    next: 4,
  });
  // first-token mismatch: nothing accepted, correction from row 0
  assert.deepEqual(core.verifyGreedy(rowsWithArgmax([5, 2, 3, 4], V), V, [1, 2, 3]), {
    accepted: 0,
    next: 5,
  });
  // mismatch in the middle
  assert.deepEqual(core.verifyGreedy(rowsWithArgmax([1, 2, 9, 4], V), V, [1, 2, 3]), {
    accepted: 2,
    next: 9,
  });
  // empty draft: plain greedy decoding step
  assert.deepEqual(core.verifyGreedy(rowsWithArgmax([7], V), V, []), { accepted: 0, next: 7 });
});

Deno.test("policy: verification equals plain greedy decoding on a simulated model", () => {
  // A deterministic "model": the next token is a hash of the previous one. Speculative decoding
  // with random drafts must emit exactly the greedy sequence.
  const V = 50;
  const next = (t: number) => (t * 7 + 3) % V;
  const greedy = [1];
  while (greedy.length < 200) greedy.push(next(greedy[greedy.length - 1]));
  const rand = new Rand(6);
  const out = [1];
  while (out.length < 200) {
    const k = rand.int(12);
    const draft: number[] = [];
    let t = out[out.length - 1];
    for (let i = 0; i < k; i++) {
      t = rand.next() < 0.8 ? next(t) : rand.int(V);
      draft.push(t);
    }
    const targets = [next(out[out.length - 1]), ...draft.map(next)];
    const v = core.verifyGreedy(rowsWithArgmax(targets, V), V, draft);
    out.push(...draft.slice(0, v.accepted), v.next);
  }
  assert.deepEqual(out.slice(0, 200), greedy);
});

Deno.test("policy: logits written into logitsView skip the copy and give the same result", () => {
  const vocab = 1001;
  const rand = new Rand(7);
  const logits = randomLogits(rand, 4, vocab);
  const view = core.logitsView(4, vocab);
  view.set(logits);
  assert.deepEqual(core.argmax(view, vocab), core.argmax(logits.slice(), vocab));
});

Deno.test("policy: bad inputs throw PolicyInputError and leave the core usable", () => {
  const V = 8;
  const ok = rowsWithArgmax([1, 2], V);
  const bad: [string, () => unknown][] = [
    ["length not a multiple", () => core.argmax(new Float32Array(7), V)],
    ["vocab 0", () => core.argmax(new Float32Array(0), 0)],
    ["exclude out of range", () => core.argmax(ok, V, V)],
    ["not a Float32Array", () => core.argmax([1, 2] as unknown as Float32Array, 2)],
    ["k+1 rows mismatch", () => core.verifyGreedy(ok, V, [1, 2])],
    ["draft id out of range", () => core.verifyGreedy(ok, V, [V])],
    ["draft id negative", () => core.verifyGreedy(ok, V, [-1])],
    ["draft id fractional", () => core.verifyGreedy(ok, V, [1.5])],
    ["masked length", () => core.unmask(ok, V, [true], 0, 0.5)],
    ["mask id", () => core.unmask(ok, V, [true, true], 99, 0.5)],
    ["threshold NaN", () => core.unmask(ok, V, [true, true], 0, NaN)],
    ["tau > 1", () => core.windowDecision([0.5], 2, 10)],
    ["empty window", () => core.windowDecision([], 0.5, 10)],
    ["confidence NaN", () => core.windowDecision([NaN], 0.5, 10)],
    ["firstBelow: empty window", () => core.firstBelow([], 0.5)],
    ["firstBelow: tau NaN", () => core.firstBelow([0.5], NaN)],
    [
      "temperature negative",
      () => core.verifyStochastic(ok, V, [1], { temperature: -1 }, core.seedRng(1)),
    ],
    ["temperature 0", () => core.verifyStochastic(ok, V, [1], { temperature: 0 }, core.seedRng(1))],
    [
      "top_p 0",
      () => core.verifyStochastic(ok, V, [1], { temperature: 1, topP: 0 }, core.seedRng(1)),
    ],
    [
      "top_p Infinity",
      () => core.processedProbs(ok.subarray(0, V), { temperature: 1, topP: Infinity }),
    ],
    [
      "top_k fractional",
      () => core.processedProbs(ok.subarray(0, V), { temperature: 1, topK: 1.5 }),
    ],
    ["bad rng", () => core.verifyStochastic(ok, V, [1], { temperature: 1 }, new Uint32Array(2))],
    ["zero rng", () => core.uniform(new Uint32Array(4))],
    ["seed negative", () => core.seedRng(-1)],
    ["too many rows", () => core.argmax(new Float32Array(5000), 1)],
  ];
  for (const [name, f] of bad) {
    assert.throws(f, PolicyInputError, name);
  }
  assert.deepEqual(core.verifyGreedy(ok, V, [1]), { accepted: 1, next: 2 });
});
