// Stochastic verification: equal to the reference, reproducible, and exactly lossless.
import assert from "node:assert/strict";
import { loadPolicy } from "../src/policy/load-deno.ts";
import {
  refProcessedProbs,
  RefRng,
  refVerifyAtPositions,
  refVerifyStochastic,
} from "../src/policy/reference.ts";
import type { SamplingParams } from "../src/policy/core.ts";
import { Rand } from "./helpers/rand.ts";

const core = await loadPolicy();

function randomRow(rand: Rand, vocab: number): Float32Array {
  const row = new Float32Array(vocab);
  const ties = rand.next() < 0.3;
  for (let i = 0; i < vocab; i++) row[i] = ties ? rand.int(4) : rand.normal() * 2;
  // -Infinity entries, but never a whole row of them (that has no distribution)
  if (vocab > 1 && rand.next() < 0.2) row[rand.int(vocab)] = -Infinity;
  return row;
}

function randomSampling(rand: Rand, vocab: number): SamplingParams {
  return {
    temperature: [0.3, 0.7, 1, 1.5][rand.int(4)],
    topK: rand.next() < 0.5 ? 0 : 1 + rand.int(vocab + 2),
    topP: rand.next() < 0.4 ? 1 : 0.05 + rand.next() * 0.95,
  };
}

/** A verification case: k + 1 random rows, a random draft of k tokens and random sampling. */
function randomVerifyCase(rand: Rand, trial: number) {
  const vocab = [2, 5, 17, 64, 301][trial % 5];
  const k = trial % 9;
  const logits = new Float32Array((k + 1) * vocab);
  for (let r = 0; r <= k; r++) logits.set(randomRow(rand, vocab), r * vocab);
  const draft = Array.from({ length: k }, () => rand.int(vocab));
  return { vocab, logits, draft, s: randomSampling(rand, vocab) };
}

Deno.test("policy: processed distribution equals the reference (temperature, top-k, top-p)", () => {
  const rand = new Rand(11);
  for (let trial = 0; trial < 1500; trial++) {
    const vocab = [1, 2, 3, 5, 9, 17, 64, 301, 2049][trial % 9];
    const row = randomRow(rand, vocab);
    const s = randomSampling(rand, vocab);
    const got = core.processedProbs(row, s);
    const want = refProcessedProbs(row, s);
    let sum = 0;
    for (let i = 0; i < vocab; i++) {
      sum += got[i];
      assert.ok(
        Math.abs(got[i] - want[i]) <= 2e-6,
        `trial ${trial} token ${i}: ${got[i]} vs ${want[i]} (${JSON.stringify(s)})`,
      );
    }
    assert.ok(Math.abs(sum - 1) < 1e-4);
  }
});

Deno.test("policy: top-p over a 152k vocabulary keeps the right nucleus", () => {
  const vocab = 151_936;
  const rand = new Rand(12);
  const row = new Float32Array(vocab);
  for (let i = 0; i < vocab; i++) row[i] = rand.normal();
  for (let i = 0; i < 20; i++) row[rand.int(vocab)] = 8 + rand.next();
  for (const s of [{ temperature: 1, topP: 0.9 }, { temperature: 0.8, topK: 40, topP: 0.95 }]) {
    const got = core.processedProbs(row, s);
    const want = refProcessedProbs(row, s);
    let maxDiff = 0;
    let keptGot = 0, keptWant = 0;
    for (let i = 0; i < vocab; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]));
      if (got[i] > 0) keptGot++;
      if (want[i] > 0) keptWant++;
    }
    assert.equal(keptGot, keptWant);
    assert.ok(maxDiff < 1e-6, `max diff ${maxDiff}`);
  }
});

Deno.test("policy: stochastic verification equals the reference with the same seed", () => {
  const rand = new Rand(13);
  for (let trial = 0; trial < 1500; trial++) {
    const { vocab, logits, draft, s } = randomVerifyCase(rand, trial);
    const seed = rand.int(2 ** 31) * 3 + trial;
    const rng = core.seedRng(seed);
    const ref = new RefRng(seed);
    assert.deepEqual([...rng], [...ref.s], "the generators agree");
    const got = core.verifyStochastic(logits, vocab, draft, s, rng);
    const want = refVerifyStochastic(logits, vocab, draft, s, ref);
    assert.deepEqual(got, want, `trial ${trial} (${JSON.stringify(s)})`);
    assert.deepEqual([...rng], [...ref.s], "both consumed the same draws");
  }
});

Deno.test("policy: same seed gives the same samples; another seed does not", () => {
  const vocab = 64;
  const rand = new Rand(14);
  const logits = new Float32Array(9 * vocab);
  for (let r = 0; r < 9; r++) logits.set(randomRow(rand, vocab), r * vocab);
  const run = (seed: number) => {
    const rng = core.seedRng(seed);
    const out: number[] = [];
    for (let i = 0; i < 200; i++) {
      const v = core.verifyStochastic(
        logits,
        vocab,
        [1, 2, 3, 4, 5, 6, 7, 8],
        { temperature: 1 },
        rng,
      );
      out.push(v.accepted, v.next);
    }
    return out;
  };
  assert.deepEqual(run(42), run(42));
  assert.notDeepEqual(run(42), run(43));
  const u = core.seedRng(9);
  const draws = Array.from({ length: 1000 }, () => core.uniform(u));
  assert.ok(draws.every((x) => x >= 0 && x < 1));
  const mean = draws.reduce((a, b) => a + b) / draws.length;
  assert.ok(Math.abs(mean - 0.5) < 0.05);
});

/** Total-variation distance between an empirical histogram and a distribution. */
function tv(counts: number[], probs: ArrayLike<number>, n: number): number {
  let d = 0;
  for (let i = 0; i < counts.length; i++) d += Math.abs(counts[i] / n - probs[i]);
  return d / 2;
}

/** Pearson chi-square statistic of counts against expected probabilities (cells p > 0). */
function chiSquare(counts: number[], probs: ArrayLike<number>, n: number): number {
  let x = 0;
  for (let i = 0; i < counts.length; i++) {
    if (probs[i] > 0) x += (counts[i] - n * probs[i]) ** 2 / (n * probs[i]);
    else if (counts[i] > 0) return Infinity;
  }
  return x;
}

// Chi-square critical value for 5 degrees of freedom at p = 0.001.
const CHI2_5DF_0_001 = 20.52;

/** Rows of a 6-token vocabulary: the first token's distribution, and the bonus token's. */
const V6 = 6;
const ROWS6 = new Float32Array([
  ...[2.0, 1.5, 0.3, -1.0, 0.0, 1.0], // row 0: target distribution of the first token
  ...[0.0, 3.0, 1.0, 1.0, -2.0, 0.5], // row 1: distribution of the second, given d0 accepted
]);

/**
 * Checks that `verify` (one draft token d0 over ROWS6, sample number `i`) emits exactly the
 * processed distributions and accepts d0 with probability p0(d0), for a likely and an unlikely d0
 * under three sampling settings; `onSample` sees every sample's emitted tokens.
 */
function checkLossless(
  verify: (s: SamplingParams, d0: number, i: number) => { accepted: number; next: number },
  onSample: (s: SamplingParams, d0: number, i: number, emitted: number[]) => void = () => {},
) {
  const N = 30_000;
  for (
    const s of [{ temperature: 1 }, { temperature: 0.7, topK: 4 }, { temperature: 1.3, topP: 0.8 }]
  ) {
    const p0 = refProcessedProbs(ROWS6.subarray(0, V6), s);
    const p1 = refProcessedProbs(ROWS6.subarray(V6), s);
    for (const d0 of [0, 3]) { // a likely and an unlikely (possibly filtered) draft token
      const first = new Array(V6).fill(0);
      const second = new Array(V6).fill(0);
      let accepted = 0;
      for (let i = 0; i < N; i++) {
        const v = verify(s, d0, i);
        const emitted = v.accepted === 1 ? [d0, v.next] : [v.next];
        first[emitted[0]]++;
        if (emitted.length === 2) {
          accepted++;
          second[emitted[1]]++;
        }
        onSample(s, d0, i, emitted);
      }
      const label = `${JSON.stringify(s)} d0=${d0}`;
      assert.ok(chiSquare(first, p0, N) < CHI2_5DF_0_001, `first token: ${label}`);
      assert.ok(tv(first, p0, N) < 0.015, `first token TV: ${label}`);
      if (accepted > 1000) {
        assert.ok(chiSquare(second, p1, accepted) < CHI2_5DF_0_001, `bonus token: ${label}`);
      }
      // the acceptance rate is p0(d0)
      assert.ok(Math.abs(accepted / N - p0[d0]) < 0.015, `acceptance rate: ${label}`);
    }
  }
}

Deno.test("policy: speculative sampling reproduces the verifier's distribution exactly", () => {
  const rngs = new Map<string, ReturnType<typeof core.seedRng>>();
  checkLossless((s, d0) => {
    const key = `${JSON.stringify(s)} ${d0}`;
    if (!rngs.has(key)) rngs.set(key, core.seedRng(1000 + d0));
    return core.verifyStochastic(ROWS6, V6, [d0], s, rngs.get(key)!);
  });
});

Deno.test("policy: the statistical check catches a sampler that does not remove d on rejection", () => {
  // The classic bug: on rejection, resample from p instead of p with d removed. It emits d with
  // probability p(d) + (1 - p(d)) p(d) instead of p(d). The same bound must reject it.
  const V = 6;
  const row = new Float32Array([2.0, 1.5, 0.3, -1.0, 0.0, 1.0]);
  const s = { temperature: 1 };
  const p = refProcessedProbs(row, s);
  const N = 30_000;
  const rng = new RefRng(77);
  const sample = (u: number) => {
    let acc = 0;
    for (let i = 0; i < V; i++) if ((acc += p[i]) > u) return i;
    return V - 1;
  };
  const counts = new Array(V).fill(0);
  const d = 0;
  for (let i = 0; i < N; i++) {
    const out = rng.uniform() < p[d] ? d : sample(rng.uniform()); // wrong: d not removed
    counts[out]++;
  }
  assert.ok(chiSquare(counts, p, N) > CHI2_5DF_0_001 * 10);
  assert.ok(tv(counts, p, N) > 0.1);
});

Deno.test("policy: k = 0 is plain sampling from the processed distribution", () => {
  const V = 6;
  const row = new Float32Array([0.5, 0.1, 2.0, 1.0, -0.5, 0.0]);
  const s = { temperature: 0.9, topP: 0.9 };
  const p = refProcessedProbs(row, s);
  const N = 30_000;
  const counts = new Array(V).fill(0);
  const rng = core.seedRng(5);
  for (let i = 0; i < N; i++) counts[core.verifyStochastic(row, V, [], s, rng).next]++;
  assert.ok(chiSquare(counts, p, N) < CHI2_5DF_0_001);
});

Deno.test("policy: position-keyed verification equals the reference", () => {
  const rand = new Rand(21);
  for (let trial = 0; trial < 1500; trial++) {
    const { vocab, logits, draft, s } = randomVerifyCase(rand, trial);
    const seed = rand.int(2 ** 31) * 5 + trial;
    const position = rand.int(4096);
    assert.deepEqual(
      core.verifyAtPositions(logits, vocab, draft, s, seed, position),
      refVerifyAtPositions(logits, vocab, draft, s, seed, position),
      `trial ${trial} (${JSON.stringify(s)})`,
    );
  }
  assert.throws(() =>
    core.verifyAtPositions(new Float32Array(4), 4, [], { temperature: 1 }, -1, 0)
  );
  assert.throws(() =>
    core.verifyAtPositions(new Float32Array(4), 4, [], { temperature: 1 }, 1, -2)
  );
});

Deno.test("policy: position-keyed sampling is lossless and does not depend on the draft", () => {
  checkLossless(
    (s, d0, seed) => core.verifyAtPositions(ROWS6, V6, [d0], s, seed, 17),
    (s, _d0, seed, emitted) => {
      // the first token is what plain sampling at this position gives, whatever the draft
      if (seed < 2000) {
        const plain = core.verifyAtPositions(ROWS6.subarray(0, V6), V6, [], s, seed, 17).next;
        assert.equal(emitted[0], plain);
      }
    },
  );
});
