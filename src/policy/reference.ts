/**
 * Plain TypeScript reference of the policy core: the same decisions written the obvious way
 * (float64, full sorts, no SIMD). Tests check the WebAssembly core against it on random inputs
 * and the benchmark measures the speed-up over it. Not used on the serving path.
 */

import type { SamplingParams, Verdict, WindowDecision } from "./core.ts";

/** argmax of logits[off .. off + vocab), ties to the lowest id, never `exclude`. */
export function refArgmax(logits: Float32Array, off: number, vocab: number, exclude = -1): number {
  let best = -1;
  let bestValue = -Infinity;
  for (let i = 0; i < vocab; i++) {
    if (i === exclude) continue;
    const v = logits[off + i];
    if (best < 0 || v > bestValue) {
      best = i;
      bestValue = v;
    }
  }
  return best;
}

/** argmax and its softmax probability (0 for a row of -Infinity). */
export function refConfidence(
  logits: Float32Array,
  off: number,
  vocab: number,
  exclude = -1,
): { token: number; confidence: number } {
  const token = refArgmax(logits, off, vocab, exclude);
  const m = logits[off + token];
  if (m === -Infinity) return { token, confidence: 0 };
  let sum = 0;
  for (let i = 0; i < vocab; i++) {
    if (i !== exclude) sum += Math.exp(logits[off + i] - m);
  }
  return { token, confidence: 1 / sum };
}

/** Fast-dLLM unmask step (see PolicyCore.unmask). */
export function refUnmask(
  logits: Float32Array,
  vocab: number,
  masked: ArrayLike<boolean | number>,
  maskId: number,
  threshold: number,
): { tokens: number[]; confidences: number[]; commit: number[]; count: number } {
  const rows = masked.length;
  const tokens = new Array<number>(rows).fill(0);
  const confidences = new Array<number>(rows).fill(0);
  const commit = new Array<number>(rows).fill(0);
  let count = 0;
  let best = -1;
  for (let r = 0; r < rows; r++) {
    if (!masked[r]) continue;
    const { token, confidence } = refConfidence(logits, r * vocab, vocab, maskId);
    tokens[r] = token;
    confidences[r] = confidence;
    if (best < 0 || confidence > confidences[best]) best = r;
    if (confidence > threshold) {
      commit[r] = 1;
      count++;
    }
  }
  if (count === 0 && best >= 0) {
    commit[best] = 1;
    count = 1;
  }
  return { tokens, confidences, commit, count };
}

/** Algorithm 1's decision over the window's confidences. */
export function refWindowDecision(
  conf: ArrayLike<number>,
  tau: number,
  nMax: number,
): WindowDecision {
  for (let i = 0; i < conf.length; i++) if (conf[i] < tau) return "fail-fast";
  return conf.length >= nMax ? "cap" : "extend";
}

/** Index of the first confidence below tau, or conf.length (see PolicyCore.firstBelow). */
export function refFirstBelow(conf: ArrayLike<number>, tau: number): number {
  for (let i = 0; i < conf.length; i++) if (conf[i] < tau) return i;
  return conf.length;
}

/** Greedy verification (see PolicyCore.verifyGreedy). */
export function refVerifyGreedy(
  logits: Float32Array,
  vocab: number,
  draft: ArrayLike<number>,
): Verdict {
  for (let i = 0; i <= draft.length; i++) {
    const t = refArgmax(logits, i * vocab, vocab);
    if (i === draft.length || t !== draft[i]) return { accepted: i, next: t };
  }
  throw new Error("unreachable");
}

/** xoshiro128** seeded by splitmix32, bit-identical to the core's generator. */
export class RefRng {
  readonly s = new Uint32Array(4);

  constructor(seed: number, hi = Math.floor(seed / 2 ** 32) >>> 0) {
    let z = ((seed >>> 0) ^ Math.imul(hi, 0x9e3779b9)) >>> 0;
    for (let i = 0; i < 4; i++) {
      z = (z + 0x9e3779b9) >>> 0;
      let x = z;
      x = Math.imul(x ^ (x >>> 16), 0x85ebca6b) >>> 0;
      x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35) >>> 0;
      x = (x ^ (x >>> 16)) >>> 0;
      this.s[i] = i === 0 && x === 0 && z === 0 ? 1 : x;
    }
  }

  nextU32(): number {
    const s = this.s;
    const rotl = (x: number, k: number) => ((x << k) | (x >>> (32 - k))) >>> 0;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    const n2 = s[2] ^ s[0];
    const n3 = s[3] ^ s[1];
    s[0] = s[0] ^ n3;
    s[1] = s[1] ^ n2;
    s[2] = n2 ^ t;
    s[3] = rotl(n3 >>> 0, 11);
    return result;
  }

  uniform(): number {
    const hi = this.nextU32() >>> 5;
    const lo = this.nextU32() >>> 6;
    return (hi * 2 ** 26 + lo) * 2 ** -53;
  }
}

/**
 * Processed distribution of one row: softmax((x - max) / T), then top-k keeping every token tied
 * with the k-th logit, then top-p over the survivors sorted by logit descending (ties: lower id
 * first), keeping the shortest prefix whose mass reaches top_p. Returns probabilities (float64).
 */
export function refProcessedProbs(row: Float32Array, sampling: SamplingParams): Float64Array {
  const vocab = row.length;
  const topK = sampling.topK ?? 0;
  const topP = sampling.topP ?? 1;
  let m = -Infinity;
  for (let i = 0; i < vocab; i++) if (row[i] > m) m = row[i];
  const w = new Float64Array(vocab);
  for (let i = 0; i < vocab; i++) w[i] = Math.exp((row[i] - m) / sampling.temperature);
  const order = Array.from({ length: vocab }, (_, i) => i);
  order.sort((a, b) => row[b] - row[a] || a - b);
  let kept = vocab;
  if (topK > 0 && topK < vocab) {
    const kx = row[order[topK - 1]];
    kept = topK;
    while (kept < vocab && row[order[kept]] === kx) kept++;
  }
  let mass = 0;
  for (let j = 0; j < kept; j++) mass += w[order[j]];
  if (topP < 1) {
    let cum = 0;
    let j = 0;
    for (; j < kept; j++) {
      cum += w[order[j]];
      if (cum >= topP * mass) break;
    }
    kept = Math.min(j + 1, kept);
    mass = 0;
    for (let q = 0; q < kept; q++) mass += w[order[q]];
  }
  const probs = new Float64Array(vocab);
  for (let j = 0; j < kept; j++) probs[order[j]] = w[order[j]] / mass;
  return probs;
}

/** Draws from `probs` (excluding `skip`, renormalised) by scanning ids in order. */
function refSample(probs: Float64Array, skip: number, u: number): number {
  const target = u * (1 - (skip >= 0 ? probs[skip] : 0));
  let acc = 0;
  let last = -1;
  for (let i = 0; i < probs.length; i++) {
    if (i === skip || probs[i] <= 0) continue;
    acc += probs[i];
    last = i;
    if (acc > target) return i;
  }
  return last;
}

/** Lossless stochastic verification (see PolicyCore.verifyStochastic). */
export function refVerifyStochastic(
  logits: Float32Array,
  vocab: number,
  draft: ArrayLike<number>,
  sampling: SamplingParams,
  rng: RefRng,
): Verdict {
  for (let i = 0; i <= draft.length; i++) {
    const probs = refProcessedProbs(logits.subarray(i * vocab, (i + 1) * vocab), sampling);
    if (i === draft.length) return { accepted: i, next: refSample(probs, -1, rng.uniform()) };
    const d = draft[i];
    if (rng.uniform() < probs[d]) continue;
    return { accepted: i, next: refSample(probs, d, rng.uniform()) };
  }
  throw new Error("unreachable");
}

/** The generator of absolute `position` for `seed` (see PolicyCore.verifyAtPositions). */
export function refRngAt(seed: number, position: number): RefRng {
  const lo = seed >>> 0;
  const hi = Math.floor(seed / 2 ** 32) >>> 0;
  const p = (position + 1) >>> 0;
  return new RefRng((lo ^ Math.imul(p, 0x9e3779b9)) >>> 0, (hi ^ Math.imul(p, 0x85ebca6b)) >>> 0);
}

/** Draft-independent stochastic verification (see PolicyCore.verifyAtPositions). */
export function refVerifyAtPositions(
  logits: Float32Array,
  vocab: number,
  draft: ArrayLike<number>,
  sampling: SamplingParams,
  seed: number,
  position: number,
): Verdict {
  for (let i = 0; i <= draft.length; i++) {
    const probs = refProcessedProbs(logits.subarray(i * vocab, (i + 1) * vocab), sampling);
    const x = refSample(probs, -1, refRngAt(seed, position + i).uniform());
    if (i < draft.length && x === draft[i]) continue;
    return { accepted: i, next: x };
  }
  throw new Error("unreachable");
}
