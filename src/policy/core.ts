/**
 * Typed wrapper around the WebAssembly policy core (assembly/policy.ts).
 *
 * The wrapper owns the module's memory layout, checks every input (lengths, token ids, finite
 * parameters) and throws `PolicyInputError` instead of letting bad input corrupt memory, copies
 * inputs in and results out. Logits can skip the copy: write them into `logitsView(rows, vocab)`
 * and pass that view back. One `PolicyCore` serves many requests; per-request state (the PRNG)
 * lives in a `RngState` that the caller keeps.
 *
 * Each host's loader lives beside this file (load-deno.ts reads the file, load-workers.ts takes
 * the module wrangler compiled); both return a `PolicyCore`, and any other host needs only
 * `PolicyCore.fromBytes` or `fromModule`.
 */

import { PolicyInputError } from "../errors.ts";
import { param } from "../params.ts";

const rangeMax = (name: string) => (param(name).kind as { max: number }).max;
const TEMPERATURE_MAX = rangeMax("temperature");
const TOP_K_MAX = rangeMax("topK");

/** The raw exports of policy.wasm (see assembly/policy.ts for their contracts). */
interface PolicyExports {
  memory: WebAssembly.Memory;
  heapBase(): number;
  ensureMemory(bytes: number): number;
  argmaxRows(logits: number, rows: number, vocab: number, exclude: number, outIdx: number): void;
  confidenceRows(
    logits: number,
    rows: number,
    vocab: number,
    exclude: number,
    outIdx: number,
    outConf: number,
  ): void;
  unmaskStep(
    logits: number,
    rows: number,
    vocab: number,
    maskId: number,
    masked: number,
    threshold: number,
    outTokens: number,
    outConf: number,
    outCommit: number,
  ): number;
  windowDecision(conf: number, k: number, tau: number, nMax: number): number;
  firstBelow(conf: number, k: number, tau: number): number;
  verifyGreedy(logits: number, k: number, vocab: number, draft: number, outNext: number): number;
  seedRng(state: number, lo: number, hi: number): void;
  nextUniform(state: number): number;
  processedProbs(
    logits: number,
    vocab: number,
    temperature: number,
    topK: number,
    topP: number,
    e: number,
    ids: number,
    out: number,
  ): void;
  verifyStochastic(
    logits: number,
    k: number,
    vocab: number,
    draft: number,
    temperature: number,
    topK: number,
    topP: number,
    rng: number,
    e: number,
    ids: number,
    outNext: number,
  ): number;
  verifyAtPositions(
    logits: number,
    k: number,
    vocab: number,
    draft: number,
    temperature: number,
    topK: number,
    topP: number,
    seedLo: number,
    seedHi: number,
    position: number,
    rng: number,
    e: number,
    ids: number,
    outNext: number,
  ): number;
}

/** Sampling parameters in the OpenAI / Hugging Face sense. temperature 0 means greedy. */
export interface SamplingParams {
  temperature: number;
  /** 0 disables top-k. */
  topK?: number;
  /** 1 disables top-p. */
  topP?: number;
}

/** The 128-bit state of the core's xoshiro128** generator; copy it to fork a stream. */
export type RngState = Uint32Array;

/** What Algorithm 1 does once the window is fully committed. */
export type WindowDecision = "fail-fast" | "cap" | "extend";

/** Result of one verification: accepted draft length and the verifier's next token. */
export interface Verdict {
  accepted: number;
  next: number;
}

/** Result of one unmask step over a sub-block. */
export interface UnmaskResult {
  /** Argmax token per row (meaningful where the row was masked). */
  tokens: Int32Array;
  /** Confidence per row (meaningful where the row was masked). */
  confidences: Float32Array;
  /** 1 where the position is committed by this step. */
  commit: Uint8Array;
  /** Number of committed positions (at least 1 when any position was masked). */
  count: number;
}

/** Most rows one call accepts (draft windows are at most a few hundred tokens). */
export const MAX_ROWS = 4096;

const WINDOW_DECISIONS: WindowDecision[] = ["fail-fast", "cap", "extend"];

function fail(message: string): never {
  throw new PolicyInputError(message);
}

/** A seed is an integer in [0, 2^53). */
function checkSeed(seed: number): void {
  if (!Number.isSafeInteger(seed) || seed < 0) {
    fail(`seed must be a non-negative safe integer, got ${seed}`);
  }
}

function checkInt(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    fail(`${name} must be an integer in [${min}, ${max}], got ${value}`);
  }
}

function checkNumber(name: string, value: number, min: number, max: number): void {
  if (typeof value !== "number" || !Number.isFinite(value) || value < min || value > max) {
    fail(`${name} must be a finite number in [${min}, ${max}], got ${value}`);
  }
}

function checkTokens(name: string, tokens: ArrayLike<number>, vocab: number): void {
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (!Number.isInteger(t) || t < 0 || t >= vocab) {
      fail(`${name}[${i}] = ${t} is not a token id in [0, ${vocab})`);
    }
  }
}

/** Validates sampling parameters and returns them with defaults filled in. */
export function checkSampling(s: SamplingParams): Required<SamplingParams> {
  // the ranges of the request parameters (params.ts); top-k's "-1: all" is the engine's 0 here
  checkNumber("temperature", s.temperature, 0, TEMPERATURE_MAX);
  const topK = s.topK ?? 0;
  const topP = s.topP ?? 1;
  checkInt("top_k", topK, 0, TOP_K_MAX);
  checkNumber("top_p", topP, Number.MIN_VALUE, 1);
  return { temperature: s.temperature, topK, topP };
}

const align = (n: number) => (n + 15) & ~15;

/** The policy core: one instance per process (or worker), shared by all requests. */
export class PolicyCore {
  private readonly w: PolicyExports;
  // Fixed small areas, then vocab-sized scratch rows, then the logits area.
  private readonly rngPtr: number;
  private readonly intsPtr: number;
  private readonly floatsPtr: number;
  private readonly flagsPtr: number;
  private readonly flags2Ptr: number;
  private readonly scratchBase: number;
  private vocabCapacity = 0;
  private logitsPtr = 0;
  private logitsCapacity = 0; // floats

  private constructor(instance: WebAssembly.Instance) {
    this.w = instance.exports as unknown as PolicyExports;
    let p = align(this.w.heapBase());
    this.rngPtr = p;
    p += 16;
    this.intsPtr = p;
    p += MAX_ROWS * 4;
    this.floatsPtr = p;
    p += MAX_ROWS * 4;
    this.flagsPtr = p;
    p += MAX_ROWS;
    this.flags2Ptr = p;
    p += MAX_ROWS;
    this.scratchBase = align(p);
    this.grow(this.scratchBase);
  }

  /** Instantiates a compiled module (Workers import .wasm files as modules). */
  static async fromModule(module: WebAssembly.Module): Promise<PolicyCore> {
    return new PolicyCore(await WebAssembly.instantiate(module, {}));
  }

  /** Compiles and instantiates the bytes of policy.wasm. */
  static async fromBytes(bytes: BufferSource): Promise<PolicyCore> {
    const { instance } = await WebAssembly.instantiate(bytes, {});
    return new PolicyCore(instance);
  }

  private grow(bytes: number): void {
    if (!this.w.ensureMemory(bytes)) {
      fail(`cannot grow WebAssembly memory to ${bytes} bytes`);
    }
  }

  private get scratchE(): number {
    return this.scratchBase;
  }
  private get scratchIds(): number {
    return this.scratchBase + this.vocabCapacity * 4;
  }
  private get scratchOut(): number {
    return this.scratchBase + this.vocabCapacity * 8;
  }

  /** Makes room for `rows` x `vocab` logits plus three vocab-sized scratch rows. */
  private reserve(rows: number, vocab: number): void {
    checkInt("vocab", vocab, 1, 1 << 24);
    checkInt("rows", rows, 0, MAX_ROWS);
    if (vocab > this.vocabCapacity || rows * vocab > this.logitsCapacity) {
      this.vocabCapacity = Math.max(this.vocabCapacity, vocab);
      this.logitsCapacity = Math.max(this.logitsCapacity, rows * vocab);
      this.logitsPtr = align(this.scratchBase + this.vocabCapacity * 12);
      this.grow(this.logitsPtr + this.logitsCapacity * 4);
    }
  }

  /**
   * A view of the core's logits area for `rows` x `vocab` floats. A backend may write its output
   * there and pass the view to any method, which then skips the copy. The view is valid until
   * the next call that needs a larger area.
   */
  logitsView(rows: number, vocab: number): Float32Array {
    this.reserve(rows, vocab);
    return new Float32Array(this.w.memory.buffer, this.logitsPtr, rows * vocab);
  }

  /** Copies `logits` (rows x vocab) into the core unless it already is the logits view. */
  private load(logits: Float32Array, rows: number, vocab: number): number {
    if (!(logits instanceof Float32Array)) fail("logits must be a Float32Array");
    if (logits.length !== rows * vocab) {
      fail(`logits hold ${logits.length} floats, expected rows x vocab = ${rows} x ${vocab}`);
    }
    this.reserve(rows, vocab);
    if (logits.buffer !== this.w.memory.buffer || logits.byteOffset !== this.logitsPtr) {
      new Float32Array(this.w.memory.buffer, this.logitsPtr, rows * vocab).set(logits);
    }
    return this.logitsPtr;
  }

  private rowsOf(logits: Float32Array, vocab: number): number {
    checkInt("vocab", vocab, 1, 1 << 24);
    if (logits.length % vocab !== 0) {
      fail(`logits length ${logits.length} is not a multiple of vocab ${vocab}`);
    }
    return logits.length / vocab;
  }

  private ints(n: number): Int32Array {
    return new Int32Array(this.w.memory.buffer, this.intsPtr, n);
  }
  private floats(n: number): Float32Array {
    return new Float32Array(this.w.memory.buffer, this.floatsPtr, n);
  }

  /** Per-row argmax (ties: lowest id), never returning `exclude` (-1: none). */
  argmax(logits: Float32Array, vocab: number, exclude = -1): Int32Array {
    const rows = this.rowsOf(logits, vocab);
    checkInt("exclude", exclude, -1, vocab - 1);
    if (exclude >= 0 && vocab < 2) fail("cannot exclude the only token of a vocabulary of 1");
    const ptr = this.load(logits, rows, vocab);
    this.w.argmaxRows(ptr, rows, vocab, exclude, this.intsPtr);
    return this.ints(rows).slice();
  }

  /** Per-row argmax and its softmax probability, never proposing `exclude`. */
  confidences(
    logits: Float32Array,
    vocab: number,
    exclude = -1,
  ): { tokens: Int32Array; confidences: Float32Array } {
    const rows = this.rowsOf(logits, vocab);
    checkInt("exclude", exclude, -1, vocab - 1);
    if (exclude >= 0 && vocab < 2) fail("cannot exclude the only token of a vocabulary of 1");
    const ptr = this.load(logits, rows, vocab);
    this.w.confidenceRows(ptr, rows, vocab, exclude, this.intsPtr, this.floatsPtr);
    return { tokens: this.ints(rows).slice(), confidences: this.floats(rows).slice() };
  }

  /**
   * Fast-dLLM unmask step over a sub-block: row r of `logits` predicts position r; `masked[r]`
   * says whether it is still undecided. Commits every masked position with confidence above
   * `threshold`, and at least the most confident one.
   */
  unmask(
    logits: Float32Array,
    vocab: number,
    masked: ArrayLike<boolean | number>,
    maskId: number,
    threshold: number,
  ): UnmaskResult {
    const rows = this.rowsOf(logits, vocab);
    if (masked.length !== rows) fail(`masked has ${masked.length} entries for ${rows} rows`);
    checkInt("maskId", maskId, 0, vocab - 1);
    if (vocab < 2) fail("vocab must hold a token besides the mask");
    checkNumber("threshold", threshold, 0, 1);
    const ptr = this.load(logits, rows, vocab);
    const flags = new Uint8Array(this.w.memory.buffer, this.flagsPtr, rows);
    for (let i = 0; i < rows; i++) flags[i] = masked[i] ? 1 : 0;
    const count = this.w.unmaskStep(
      ptr,
      rows,
      vocab,
      maskId,
      this.flagsPtr,
      Math.fround(threshold),
      this.intsPtr,
      this.floatsPtr,
      this.flags2Ptr,
    );
    return {
      tokens: this.ints(rows).slice(),
      confidences: this.floats(rows).slice(),
      commit: new Uint8Array(this.w.memory.buffer, this.flags2Ptr, rows).slice(),
      count,
    };
  }

  /** Algorithm 1's decision once the window's k tokens are committed (k = conf.length). */
  windowDecision(conf: ArrayLike<number>, tau: number, nMax: number): WindowDecision {
    checkInt("nMax", nMax, 1, MAX_ROWS);
    this.loadConfidences(conf, tau);
    return WINDOW_DECISIONS[this.w.windowDecision(this.floatsPtr, conf.length, tau, nMax)];
  }

  /**
   * Index of the first confidence below tau (conf.length if none): where FailFast's optional
   * trim cuts a window that failed fast.
   */
  firstBelow(conf: ArrayLike<number>, tau: number): number {
    this.loadConfidences(conf, tau);
    return this.w.firstBelow(this.floatsPtr, conf.length, tau);
  }

  /** Checks a window's confidences and tau, and copies the confidences into the core. */
  private loadConfidences(conf: ArrayLike<number>, tau: number): void {
    checkInt("k", conf.length, 1, MAX_ROWS);
    checkNumber("tau", tau, 0, 1);
    const view = this.floats(conf.length);
    for (let i = 0; i < conf.length; i++) {
      const c = conf[i];
      if (!Number.isFinite(c)) fail(`confidence[${i}] is not finite: ${c}`);
      view[i] = c;
    }
  }

  private loadDraft(draft: ArrayLike<number>, rows: number, vocab: number): number {
    const k = draft.length;
    if (rows !== k + 1) fail(`verification needs k + 1 = ${k + 1} logits rows, got ${rows}`);
    checkTokens("draft", draft, vocab);
    this.ints(k).set(draft);
    return k;
  }

  /**
   * Greedy verification of `draft` (k tokens) against k + 1 verifier rows: the longest prefix
   * equal to the row argmaxes is accepted and the next token is the verifier's own choice.
   */
  verifyGreedy(logits: Float32Array, vocab: number, draft: ArrayLike<number>): Verdict {
    const rows = this.rowsOf(logits, vocab);
    const k = this.loadDraft(draft, rows, vocab);
    const ptr = this.load(logits, rows, vocab);
    const outNext = this.floatsPtr; // reuse the floats area as one i32 slot
    const accepted = this.w.verifyGreedy(ptr, k, vocab, this.intsPtr, outNext);
    return this.verdict(accepted, outNext);
  }

  /** The verdict of a verification that wrote its next token at `outNext`. */
  private verdict(accepted: number, outNext: number): Verdict {
    return { accepted, next: new Int32Array(this.w.memory.buffer, outNext, 1)[0] };
  }

  /** Checks a sampled verification's inputs and copies its logits and draft into the core. */
  private loadSampled(
    logits: Float32Array,
    vocab: number,
    draft: ArrayLike<number>,
    sampling: SamplingParams,
  ) {
    const s = checkSampling(sampling);
    if (s.temperature === 0) fail("temperature 0 is greedy: use verifyGreedy");
    const rows = this.rowsOf(logits, vocab);
    const k = this.loadDraft(draft, rows, vocab);
    return { s, k, ptr: this.load(logits, rows, vocab) };
  }

  /**
   * Lossless stochastic verification (temperature > 0): accepts draft token d_i with
   * probability p_i(d_i) under the processed distribution, resamples from p_i without d_i on
   * rejection, and samples a bonus from p_k after a full accept. k = 0 is plain sampling.
   * `rng` is advanced in place.
   */
  verifyStochastic(
    logits: Float32Array,
    vocab: number,
    draft: ArrayLike<number>,
    sampling: SamplingParams,
    rng: RngState,
  ): Verdict {
    this.checkRng(rng);
    const { s, k, ptr } = this.loadSampled(logits, vocab, draft, sampling);
    const state = new Uint32Array(this.w.memory.buffer, this.rngPtr, 4);
    state.set(rng);
    const outNext = this.floatsPtr;
    const accepted = this.w.verifyStochastic(
      ptr,
      k,
      vocab,
      this.intsPtr,
      Math.fround(s.temperature),
      s.topK,
      s.topP,
      this.rngPtr,
      this.scratchE,
      this.scratchIds,
      outNext,
    );
    rng.set(new Uint32Array(this.w.memory.buffer, this.rngPtr, 4));
    return this.verdict(accepted, outNext);
  }

  /**
   * Lossless stochastic verification whose output does not depend on the draft: row i samples
   * the token at absolute `position + i` from p_i with a generator of that position's own
   * (seeded by `seed` and the position), and draft token d_i is accepted iff it equals that
   * sample. Each emitted token is exactly a sample of p_i and d_i is accepted with probability
   * p_i(d_i), as in `verifyStochastic`; in addition the sampled text is a function of the seed
   * alone, the same under every strategy and draft length.
   */
  verifyAtPositions(
    logits: Float32Array,
    vocab: number,
    draft: ArrayLike<number>,
    sampling: SamplingParams,
    seed: number,
    position: number,
  ): Verdict {
    checkSeed(seed);
    if (!Number.isInteger(position) || position < 0 || position >= 2 ** 32) {
      fail(`position must be an integer from 0 to 2^32 - 1, got ${position}`);
    }
    const { s, k, ptr } = this.loadSampled(logits, vocab, draft, sampling);
    const outNext = this.floatsPtr;
    const accepted = this.w.verifyAtPositions(
      ptr,
      k,
      vocab,
      this.intsPtr,
      Math.fround(s.temperature),
      s.topK,
      s.topP,
      seed >>> 0,
      Math.floor(seed / 2 ** 32) >>> 0,
      position >>> 0,
      this.rngPtr,
      this.scratchE,
      this.scratchIds,
      outNext,
    );
    return this.verdict(accepted, outNext);
  }

  /** The processed distribution (temperature, top-k, top-p) of one row of logits. */
  processedProbs(row: Float32Array, sampling: SamplingParams): Float32Array {
    const s = checkSampling(sampling);
    if (s.temperature === 0) fail("temperature must be > 0");
    const vocab = row.length;
    const ptr = this.load(row, 1, vocab);
    this.w.processedProbs(
      ptr,
      vocab,
      Math.fround(s.temperature),
      s.topK,
      s.topP,
      this.scratchE,
      this.scratchIds,
      this.scratchOut,
    );
    return new Float32Array(this.w.memory.buffer, this.scratchOut, vocab).slice();
  }

  /** A fresh generator state from a seed (an integer in [0, 2^53)). */
  seedRng(seed: number): RngState {
    checkSeed(seed);
    this.w.seedRng(this.rngPtr, seed >>> 0, Math.floor(seed / 2 ** 32) >>> 0);
    return new Uint32Array(this.w.memory.buffer, this.rngPtr, 4).slice();
  }

  /** Draws a uniform number in [0, 1), advancing `rng`. */
  uniform(rng: RngState): number {
    this.checkRng(rng);
    const state = new Uint32Array(this.w.memory.buffer, this.rngPtr, 4);
    state.set(rng);
    const u = this.w.nextUniform(this.rngPtr);
    rng.set(state);
    return u;
  }

  private checkRng(rng: RngState): void {
    if (!(rng instanceof Uint32Array) || rng.length !== 4) {
      fail("rng must be a Uint32Array(4) from seedRng()");
    }
    if ((rng[0] | rng[1] | rng[2] | rng[3]) === 0) fail("rng state must not be all zero");
  }
}
