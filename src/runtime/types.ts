/**
 * The inference seam: everything the engine needs from a backend, and nothing about how the
 * backend does it. A KV cache is an opaque handle (it may live in another process for the
 * remote backend): create, extend by a forward pass, truncate, release.
 */

import type { ModelConfig } from "../model/config.ts";

/** An opaque per-request KV cache. `length` is the number of positions it holds. */
export interface KvCache {
  readonly length: number;
  readonly released: boolean;
}

/** Timing of one forward pass, split into the runtime's run and the work around it. */
export interface ForwardTiming {
  runMs: number;
  totalMs: number;
}

export interface ForwardOptions {
  /**
   * true: append the positions' keys and values to the cache (prefill, decode, verify, a
   * drafter's block-completion pass). false: leave the cache as it was (a denoising pass).
   */
  commit: boolean;
  /**
   * Only the last `lastRows` rows of logits are needed (default: all). A graph with a
   * `num_logits_to_keep` input computes only those rows; others compute all and drop the rest.
   */
  lastRows?: number;
  /**
   * The tokens' positions, when they are not cache.length, cache.length + 1, ... in order: a
   * permutation of those positions, for a pass that does not commit. For a block-causal graph
   * and a window inside one block that starts at the cache's end, the order of the tokens does
   * not change any row (positions travel with their tokens), so a drafter can put the rows it
   * needs last and skip the others' vocabulary projection with `lastRows`.
   */
  positions?: ArrayLike<number>;
}

/** Result of a forward pass: `rows` x `vocab` float32 logits (row i predicts position i + 1). */
export interface ForwardResult {
  logits: Float32Array;
  rows: number;
  vocab: number;
  timing: ForwardTiming;
}

/**
 * One loaded model on one backend. Tokens run at positions cache.length .. cache.length + n - 1
 * against the cached prefix; the graph's own mask (causal or block-causal) decides attention.
 */
export interface ModelSession {
  readonly config: ModelConfig;
  readonly backend: string;
  createCache(): KvCache;
  forward(
    cache: KvCache,
    tokens: ArrayLike<number>,
    options: ForwardOptions,
  ): Promise<ForwardResult>;
  /** Keeps the first `length` positions (verification rejected the rest); never re-runs the model. */
  truncate(cache: KvCache, length: number): void;
  /** Frees the cache's buffers; using it afterwards is an error. */
  release(cache: KvCache): void;
  /** Frees the session. */
  close(): Promise<void>;
}
