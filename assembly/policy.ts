// FailFast policy core (AssemblyScript -> WebAssembly, SIMD).
//
// The hot decisions of speculative decoding over float32 logits: argmax and confidence kernels,
// the Fast-dLLM unmask step, the FailFast window decision, greedy and lossless stochastic
// verification, and a seeded PRNG. Everything works on raw pointers into this module's memory;
// the TypeScript wrapper (src/policy/) owns the layout and checks every input before calling, so
// nothing here allocates or validates. See ../shared/FAILFAST.md sections 2-4.
//
// Conventions shared with the plain TypeScript reference (src/policy/reference.ts):
// - argmax ties go to the lowest index; an excluded token id (-1: none) never wins and has
//   probability 0; a row whose every candidate is -Infinity yields its first candidate with
//   confidence 0.
// - softmax uses exp(x - max) in float32 with a polynomial exp (relative error < 2e-7).
// - sampling order: temperature, then top-k (keeps every token tied with the k-th logit), then
//   top-p over the renormalised survivors (tokens sorted by logit descending, ties by lower
//   index; keep the shortest prefix whose probability mass reaches top_p).

// ---------------------------------------------------------------------------------------------
// Memory: the wrapper lays its buffers out from heapBase() upwards and grows memory itself.

/** First byte the wrapper may use. */
export function heapBase(): usize {
  return __heap_base;
}

/** Grows memory to at least `bytes` bytes; returns false when the engine refuses. */
export function ensureMemory(bytes: usize): bool {
  const have = <usize> memory.size() << 16;
  if (bytes <= have) return true;
  const pages = <i32> ((bytes - have + 0xffff) >> 16);
  return memory.grow(pages) >= 0;
}

// ---------------------------------------------------------------------------------------------
// Kernels

const NEG_INF: f32 = -Infinity;

/** Maximum of n floats at p (SIMD, two accumulators). -Infinity for n == 0. */
function rowMax(p: usize, n: i32): f32 {
  let i = 0;
  let best: f32 = NEG_INF;
  if (n >= 8) {
    let a = v128.load(p);
    let b = v128.load(p + 16);
    for (i = 8; i + 8 <= n; i += 8) {
      const q = p + (<usize> i << 2);
      a = f32x4.pmax(a, v128.load(q));
      b = f32x4.pmax(b, v128.load(q + 16));
    }
    a = f32x4.pmax(a, b);
    best = max(
      max(f32x4.extract_lane(a, 0), f32x4.extract_lane(a, 1)),
      max(f32x4.extract_lane(a, 2), f32x4.extract_lane(a, 3)),
    );
  }
  for (; i < n; i++) {
    const v = load<f32>(p + (<usize> i << 2));
    if (v > best) best = v;
  }
  return best;
}

/** First index at p whose value equals `target` (which must occur), skipping `skip`. */
function firstIndexOf(p: usize, n: i32, target: f32, skip: i32): i32 {
  const t = f32x4.splat(target);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const hit = f32x4.eq(v128.load(p + (<usize> i << 2)), t);
    if (v128.any_true(hit)) {
      let mask = i32x4.bitmask(hit);
      while (mask != 0) {
        const j = i + ctz(mask);
        if (j != skip) return j;
        mask &= mask - 1;
      }
    }
  }
  for (; i < n; i++) {
    if (i != skip && load<f32>(p + (<usize> i << 2)) == target) return i;
  }
  return skip == 0 ? 1 : 0;
}

/** argmax of one row, never returning `exclude` (-1: none). */
function argmaxRow(p: usize, n: i32, exclude: i32): i32 {
  if (exclude < 0) return firstIndexOf(p, n, rowMax(p, n), -1);
  const ep = p + (<usize> exclude << 2);
  const saved = load<f32>(ep);
  store<f32>(ep, NEG_INF);
  const best = rowMax(p, n);
  store<f32>(ep, saved);
  return firstIndexOf(p, n, best, exclude);
}

const LOG2E: f32 = 1.44269504;
const LN2_HI: f32 = 0.693359375;
const LN2_LO: f32 = -2.12194440e-4;
const EXP_LO: f32 = -87.3365447;

/** exp of four lanes, each <= 0 (or -Infinity); lanes below EXP_LO give 0. */
// @ts-ignore: decorator
function expv(x: v128): v128 {
  const lo = f32x4.splat(EXP_LO);
  const xc = f32x4.pmax(x, lo);
  const n = f32x4.nearest(f32x4.mul(xc, f32x4.splat(LOG2E)));
  let r = f32x4.sub(xc, f32x4.mul(n, f32x4.splat(LN2_HI)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(LN2_LO)));
  let poly = f32x4.splat(1.0 / 720.0);
  poly = f32x4.add(f32x4.mul(poly, r), f32x4.splat(1.0 / 120.0));
  poly = f32x4.add(f32x4.mul(poly, r), f32x4.splat(1.0 / 24.0));
  poly = f32x4.add(f32x4.mul(poly, r), f32x4.splat(1.0 / 6.0));
  poly = f32x4.add(f32x4.mul(poly, r), f32x4.splat(0.5));
  poly = f32x4.add(f32x4.mul(poly, r), f32x4.splat(1.0));
  poly = f32x4.add(f32x4.mul(poly, r), f32x4.splat(1.0));
  const scale = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(n), i32x4.splat(127)), 23);
  const value = f32x4.mul(poly, scale);
  return v128.bitselect(f32x4.splat(0), value, f32x4.lt(x, lo));
}

/** Scalar twin of expv (same arithmetic, lane for lane). */
function exps(x: f32): f32 {
  return f32x4.extract_lane(expv(f32x4.splat(x)), 0);
}

/**
 * Sum of exp((x_i - m) * invT) over a row; when `out` != 0 also stores each term there.
 * Lanes are summed in float32 (4 lanes x 2 accumulators), the total in float64.
 */
function expSum(p: usize, n: i32, m: f32, invT: f32, out: usize): f64 {
  const mv = f32x4.splat(m);
  const tv = f32x4.splat(invT);
  let acc = f32x4.splat(0);
  let acc2 = f32x4.splat(0);
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const off = <usize> i << 2;
    const e0 = expv(f32x4.mul(f32x4.sub(v128.load(p + off), mv), tv));
    const e1 = expv(f32x4.mul(f32x4.sub(v128.load(p + off + 16), mv), tv));
    if (out != 0) {
      v128.store(out + off, e0);
      v128.store(out + off + 16, e1);
    }
    acc = f32x4.add(acc, e0);
    acc2 = f32x4.add(acc2, e1);
  }
  acc = f32x4.add(acc, acc2);
  let total: f64 = <f64> f32x4.extract_lane(acc, 0) + <f64> f32x4.extract_lane(acc, 1) +
    <f64> f32x4.extract_lane(acc, 2) + <f64> f32x4.extract_lane(acc, 3);
  for (; i < n; i++) {
    const e = exps((load<f32>(p + (<usize> i << 2)) - m) * invT);
    if (out != 0) store<f32>(out + (<usize> i << 2), e);
    total += <f64> e;
  }
  return total;
}

/**
 * Per-row argmax of `rows` x `vocab` logits at `logits`, never returning `exclude`.
 * Writes i32 token ids to `outIdx`.
 */
export function argmaxRows(
  logits: usize,
  rows: i32,
  vocab: i32,
  exclude: i32,
  outIdx: usize,
): void {
  for (let r = 0; r < rows; r++) {
    const p = logits + (<usize> r * <usize> vocab << 2);
    store<i32>(outIdx + (<usize> r << 2), argmaxRow(p, vocab, exclude));
  }
}

/** Argmax and softmax probability of one row (excluded token has probability 0). */
function confidenceRow(p: usize, n: i32, exclude: i32, outIdx: usize, outConf: usize): void {
  let saved: f32 = 0;
  const ep = p + (<usize> max(exclude, 0) << 2);
  if (exclude >= 0) {
    saved = load<f32>(ep);
    store<f32>(ep, NEG_INF);
  }
  const m = rowMax(p, n);
  const idx = firstIndexOf(p, n, m, exclude);
  let conf: f32 = 0;
  if (m != NEG_INF) conf = <f32> (1.0 / expSum(p, n, m, 1, 0));
  if (exclude >= 0) store<f32>(ep, saved);
  store<i32>(outIdx, idx);
  store<f32>(outConf, conf);
}

/**
 * Per-row argmax and confidence (softmax probability of the argmax token) of `rows` rows,
 * never proposing `exclude` (the drafter's mask id). Writes i32 ids and f32 confidences.
 */
export function confidenceRows(
  logits: usize,
  rows: i32,
  vocab: i32,
  exclude: i32,
  outIdx: usize,
  outConf: usize,
): void {
  for (let r = 0; r < rows; r++) {
    confidenceRow(
      logits + (<usize> r * <usize> vocab << 2),
      vocab,
      exclude,
      outIdx + (<usize> r << 2),
      outConf + (<usize> r << 2),
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Fast-dLLM unmask step

/**
 * One denoising decision over a sub-block. Row r of `logits` predicts position r of the
 * sub-block (the caller applies the token shift). For each position with masked[r] != 0 the
 * argmax (never `maskId`) and its confidence are computed; positions whose confidence exceeds
 * `threshold` are committed, and always at least the most confident one (ties: lowest position).
 * Writes tokens (i32) and confidences (f32) for every masked row, commit flags (u8: 1 = commit)
 * for every row, and returns how many positions were committed (0 only if none was masked).
 */
export function unmaskStep(
  logits: usize,
  rows: i32,
  vocab: i32,
  maskId: i32,
  masked: usize,
  threshold: f32,
  outTokens: usize,
  outConf: usize,
  outCommit: usize,
): i32 {
  let committed = 0;
  let best = -1;
  let bestConf: f32 = -1;
  for (let r = 0; r < rows; r++) {
    store<u8>(outCommit + <usize> r, 0);
    if (load<u8>(masked + <usize> r) == 0) continue;
    const tp = outTokens + (<usize> r << 2);
    const cp = outConf + (<usize> r << 2);
    confidenceRow(logits + (<usize> r * <usize> vocab << 2), vocab, maskId, tp, cp);
    const c = load<f32>(cp);
    if (c > bestConf) {
      bestConf = c;
      best = r;
    }
    if (c > threshold) {
      store<u8>(outCommit + <usize> r, 1);
      committed++;
    }
  }
  if (committed == 0 && best >= 0) {
    store<u8>(outCommit + <usize> best, 1);
    committed = 1;
  }
  return committed;
}

// ---------------------------------------------------------------------------------------------
// FailFast window decision (Algorithm 1)

/** Stop: a token in the window is below tau (fail fast). */
export const WINDOW_FAIL_FAST: i32 = 0;
/** Stop: the window reached N_max. */
export const WINDOW_CAP: i32 = 1;
/** Keep drafting: extend the window by N (at most to N_max). */
export const WINDOW_EXTEND: i32 = 2;

/** Index of the first of the k confidences at `conf` below tau; k if there is none. */
export function firstBelow(conf: usize, k: i32, tau: f32): i32 {
  for (let i = 0; i < k; i++) {
    if (load<f32>(conf + (<usize> i << 2)) < tau) return i;
  }
  return k;
}

/**
 * Decides what to do once every position of the current window (length k) is committed,
 * from the confidences of its k tokens at `conf`.
 */
export function windowDecision(conf: usize, k: i32, tau: f32, nMax: i32): i32 {
  if (firstBelow(conf, k, tau) < k) return WINDOW_FAIL_FAST;
  return k >= nMax ? WINDOW_CAP : WINDOW_EXTEND;
}

// ---------------------------------------------------------------------------------------------
// Verification

/**
 * Greedy verification: `rows` = k + 1 verifier rows (row i predicts draft position i; row k is
 * the bonus position). Accepts the longest prefix where draft[i] == argmax(row i) and writes the
 * next token (the correction at the first mismatch, or the bonus) to `outNext`. Returns the
 * accepted length a. Rows after the first mismatch are never read.
 */
export function verifyGreedy(logits: usize, k: i32, vocab: i32, draft: usize, outNext: usize): i32 {
  for (let i = 0; i <= k; i++) {
    const t = argmaxRow(logits + (<usize> i * <usize> vocab << 2), vocab, -1);
    if (i == k || t != load<i32>(draft + (<usize> i << 2))) {
      store<i32>(outNext, t);
      return i;
    }
  }
  return k; // unreachable
}

// --- seeded PRNG: xoshiro128** over a 4 x u32 state that the caller keeps ---------------------

function rotl(x: u32, k: u32): u32 {
  return (x << k) | (x >>> (32 - k));
}

function nextU32(s: usize): u32 {
  const s0 = load<u32>(s), s1 = load<u32>(s, 4), s2 = load<u32>(s, 8), s3 = load<u32>(s, 12);
  const result = rotl(s1 * 5, 7) * 9;
  const t = s1 << 9;
  const n2 = s2 ^ s0;
  const n3 = s3 ^ s1;
  store<u32>(s, s0 ^ n3);
  store<u32>(s, s1 ^ n2, 4);
  store<u32>(s, n2 ^ t, 8);
  store<u32>(s, rotl(n3, 11), 12);
  return result;
}

/** Seeds the 16-byte state at `s` from a 64-bit seed (two u32 halves) with splitmix32. */
export function seedRng(s: usize, seedLo: u32, seedHi: u32): void {
  let z: u32 = seedLo ^ (seedHi * 0x9e3779b9);
  for (let i = 0; i < 4; i++) {
    z += 0x9e3779b9;
    let x = z;
    x = (x ^ (x >>> 16)) * 0x85ebca6b;
    x = (x ^ (x >>> 13)) * 0xc2b2ae35;
    x ^= x >>> 16;
    store<u32>(s + (<usize> i << 2), i == 0 && x == 0 && z == 0 ? 1 : x);
  }
}

/** Uniform float64 in [0, 1) with 53 random bits; advances the state at `s`. */
export function nextUniform(s: usize): f64 {
  const hi = <u64> (nextU32(s) >>> 5); // 27 bits
  const lo = <u64> (nextU32(s) >>> 6); // 26 bits
  return <f64> ((hi << 26) | lo) * 1.1102230246251565e-16; // 2^-53
}

// --- processed distribution of one row (temperature, top-k, top-p) ---------------------------
//
// After processRow: the scratch row `e` holds exp((x - max) / T) for every token; a token is
// kept iff x > gCutX || (x == gCutX && idx <= gCutIdx); gMass is the sum of e over kept tokens.

let gCutX: f32 = NEG_INF;
let gCutIdx: i32 = 0;
let gMass: f64 = 0;

// @ts-ignore: decorator
function isKept(x: f32, idx: i32): bool {
  return x > gCutX || (x == gCutX && idx <= gCutIdx);
}

/** Candidate order: logit descending, then index ascending. */
// @ts-ignore: decorator
function before(p: usize, a: i32, b: i32): bool {
  const xa = load<f32>(p + (<usize> a << 2));
  const xb = load<f32>(p + (<usize> b << 2));
  return xa > xb || (xa == xb && a < b);
}

/** Heap sort of `n` token ids at `ids` by candidate order (no allocation, O(n log n)). */
function sortCandidates(p: usize, ids: usize, n: i32): void {
  // max-heap on "comes later" so that popping yields the latest first, filling from the back
  for (let start = (n >> 1) - 1; start >= 0; start--) siftDown(p, ids, start, n);
  for (let end = n - 1; end > 0; end--) {
    const t = load<i32>(ids);
    store<i32>(ids, load<i32>(ids + (<usize> end << 2)));
    store<i32>(ids + (<usize> end << 2), t);
    siftDown(p, ids, 0, end);
  }
}

function siftDown(p: usize, ids: usize, root: i32, n: i32): void {
  let r = root;
  while (true) {
    let child = 2 * r + 1;
    if (child >= n) return;
    const cv = load<i32>(ids + (<usize> child << 2));
    if (child + 1 < n) {
      const cv2 = load<i32>(ids + (<usize> (child + 1) << 2));
      if (before(p, cv, cv2)) child++;
    }
    const rv = load<i32>(ids + (<usize> r << 2));
    const chosen = load<i32>(ids + (<usize> child << 2));
    if (!before(p, rv, chosen)) return;
    store<i32>(ids + (<usize> r << 2), chosen);
    store<i32>(ids + (<usize> child << 2), rv);
    r = child;
  }
}

/** Collects ids with logit >= cut into `ids`; returns the count. */
function collect(p: usize, n: i32, cut: f32, ids: usize): i32 {
  const cv = f32x4.splat(cut);
  let count = 0;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const hit = f32x4.ge(v128.load(p + (<usize> i << 2)), cv);
    if (v128.any_true(hit)) {
      let mask = i32x4.bitmask(hit);
      while (mask != 0) {
        store<i32>(ids + (<usize> count << 2), i + ctz(mask));
        count++;
        mask &= mask - 1;
      }
    }
  }
  for (; i < n; i++) {
    if (load<f32>(p + (<usize> i << 2)) >= cut) {
      store<i32>(ids + (<usize> count << 2), i);
      count++;
    }
  }
  return count;
}

/**
 * Computes the processed distribution of the row at p (see the comment above gCutX).
 * `e` is a scratch row of `n` floats, `ids` a scratch of `n` i32.
 */
function processRow(p: usize, n: i32, invT: f32, topK: i32, topP: f64, e: usize, ids: usize): void {
  const m = rowMax(p, n);
  const total = expSum(p, n, m, invT, e);
  gCutX = NEG_INF;
  gCutIdx = n;
  gMass = total;
  const useK = topK > 0 && topK < n;
  const useP = topP < 1.0;
  if (!useK && !useP) return;
  // Candidates are every token with logit >= cut; lower the cut until they settle the question.
  // Tokens below the cut all sort after every candidate, so a settled answer is exact.
  let step: f32 = 8;
  while (true) {
    const cutDelta = step / invT;
    const cut: f32 = step >= 96 ? NEG_INF : m - cutDelta;
    const count = collect(p, n, cut, ids);
    const complete = cut == NEG_INF;
    if (useK && count < topK && !complete) {
      step *= 2;
      continue;
    }
    sortCandidates(p, ids, count);
    let kept = count;
    let mass = total;
    if (useK && topK <= count) {
      const kx = load<f32>(p + (<usize> load<i32>(ids + (<usize> (topK - 1) << 2)) << 2));
      kept = topK;
      while (
        kept < count && load<f32>(p + (<usize> load<i32>(ids + (<usize> kept << 2)) << 2)) == kx
      ) {
        kept++;
      }
      mass = 0;
      for (let j = 0; j < kept; j++) {
        mass += <f64> load<f32>(e + (<usize> load<i32>(ids + (<usize> j << 2)) << 2));
      }
      gCutX = kx;
      gCutIdx = n;
      gMass = mass;
    }
    if (!useP) return;
    const goal = topP * mass;
    let cum: f64 = 0;
    let j = 0;
    for (; j < kept; j++) {
      cum += <f64> load<f32>(e + (<usize> load<i32>(ids + (<usize> j << 2)) << 2));
      if (cum >= goal) break;
    }
    if (j < kept || complete || useK) {
      const last = j < kept ? j : kept - 1;
      if (j >= kept) cum = mass;
      const id = load<i32>(ids + (<usize> last << 2));
      gCutX = load<f32>(p + (<usize> id << 2));
      gCutIdx = id;
      gMass = cum;
      return;
    }
    step *= 2;
  }
}

/**
 * Samples a kept token from the processed row, excluding `skip` (-1: none) whose weight `skipW`
 * is taken out of the mass. Scans tokens in index order.
 */
function sampleKept(p: usize, n: i32, e: usize, skip: i32, skipW: f64, u: f64): i32 {
  const target = u * (gMass - skipW);
  let acc: f64 = 0;
  let last = -1;
  for (let i = 0; i < n; i++) {
    if (i == skip) continue;
    const x = load<f32>(p + (<usize> i << 2));
    if (!isKept(x, i)) continue;
    const w = <f64> load<f32>(e + (<usize> i << 2));
    if (w <= 0) continue;
    acc += w;
    last = i;
    if (acc > target) return i;
  }
  // rounding left the target just above the accumulated mass: take the last positive token
  return last >= 0 ? last : argmaxRow(p, n, skip);
}

/**
 * Writes the processed distribution of one row (probabilities, f32) to `out`; for tests and
 * for the remote-backend seam. `e` and `ids` are scratch rows of `vocab` entries.
 */
export function processedProbs(
  logits: usize,
  vocab: i32,
  temperature: f32,
  topK: i32,
  topP: f64,
  e: usize,
  ids: usize,
  out: usize,
): void {
  processRow(logits, vocab, <f32> 1.0 / temperature, topK, topP, e, ids);
  const inv = 1.0 / gMass;
  for (let i = 0; i < vocab; i++) {
    const x = load<f32>(logits + (<usize> i << 2));
    const w = isKept(x, i) ? <f64> load<f32>(e + (<usize> i << 2)) * inv : 0;
    store<f32>(out + (<usize> i << 2), <f32> w);
  }
}

/**
 * Lossless stochastic verification (speculative sampling with a point-mass proposal).
 * For i in 0..k-1: accept draft[i] with probability p_i(draft[i]); on rejection sample the
 * next token from p_i with draft[i] removed and renormalised, and stop. After k acceptances,
 * sample the bonus from p_k. k = 0 is plain sampling from row 0.
 * `rng` is the 16-byte PRNG state (advanced in place); `e` and `ids` are scratch rows.
 * Writes the next token to `outNext` and returns the accepted length.
 */
export function verifyStochastic(
  logits: usize,
  k: i32,
  vocab: i32,
  draft: usize,
  temperature: f32,
  topK: i32,
  topP: f64,
  rng: usize,
  e: usize,
  ids: usize,
  outNext: usize,
): i32 {
  const invT: f32 = <f32> 1.0 / temperature;
  for (let i = 0; i <= k; i++) {
    const row = logits + (<usize> i * <usize> vocab << 2);
    processRow(row, vocab, invT, topK, topP, e, ids);
    if (i == k) {
      store<i32>(outNext, sampleKept(row, vocab, e, -1, 0, nextUniform(rng)));
      return k;
    }
    const d = load<i32>(draft + (<usize> i << 2));
    const x = load<f32>(row + (<usize> d << 2));
    const wd: f64 = isKept(x, d) ? <f64> load<f32>(e + (<usize> d << 2)) : 0;
    const pd = wd / gMass;
    if (nextUniform(rng) < pd) continue;
    store<i32>(outNext, sampleKept(row, vocab, e, d, wd, nextUniform(rng)));
    return i;
  }
  return k; // unreachable
}

/**
 * Seeds the state at `s` for the token at absolute `position` of a sequence sampled with the
 * 64-bit `seed`: every position has a generator of its own, so what is sampled there does not
 * depend on how many random numbers earlier rounds drew.
 */
function seedAt(s: usize, seedLo: u32, seedHi: u32, position: u32): void {
  seedRng(s, seedLo ^ ((position + 1) * 0x9e3779b9), seedHi ^ ((position + 1) * 0x85ebca6b));
}

/**
 * Lossless stochastic verification whose output does not depend on the draft: for each row i
 * (the token at absolute position `position + i`) a token x_i is sampled from p_i with that
 * position's own generator; draft[i] is accepted iff it equals x_i, and the first x_i that differs
 * (or the one after a full accept) is the next token. Each emitted token is exactly a sample of
 * the verifier's processed distribution, a draft token is accepted with probability p_i(d_i) as
 * in speculative sampling with a point-mass proposal, and the sampled text is a function of the
 * seed alone: the same under every strategy and every draft length.
 * `rng` is a 16-byte scratch state; `e` and `ids` are scratch rows.
 */
export function verifyAtPositions(
  logits: usize,
  k: i32,
  vocab: i32,
  draft: usize,
  temperature: f32,
  topK: i32,
  topP: f64,
  seedLo: u32,
  seedHi: u32,
  position: u32,
  rng: usize,
  e: usize,
  ids: usize,
  outNext: usize,
): i32 {
  const invT: f32 = <f32> 1.0 / temperature;
  for (let i = 0; i <= k; i++) {
    const row = logits + (<usize> i * <usize> vocab << 2);
    processRow(row, vocab, invT, topK, topP, e, ids);
    seedAt(rng, seedLo, seedHi, position + <u32> i);
    const x = sampleKept(row, vocab, e, -1, 0, nextUniform(rng));
    if (i < k && x == load<i32>(draft + (<usize> i << 2))) continue;
    store<i32>(outNext, x);
    return i;
  }
  return k; // unreachable
}
