/**
 * The inference seam: everything the engine needs from a backend, and nothing about how the
 * backend does it. A KV cache is an opaque handle (it may live in another process for the
 * remote backend): create, extend by a forward pass, truncate, release.
 */

import type { ModelConfig } from "../model/config.ts";

/** Where forward passes run, chosen at deploy time (FAILFAST_BACKEND). */
export const BACKENDS = ["ort-node", "ort-web-wasm", "ort-web-webgpu", "remote"] as const;
export type Backend = typeof BACKENDS[number];

/** onnxruntime-node's device (FAILFAST_DEVICE). */
export const DEVICES = ["cpu", "cuda"] as const;
export type Device = typeof DEVICES[number];

/** onnxruntime's graph optimisation levels (FAILFAST_GRAPH_OPTIMIZATION). */
export const GRAPH_OPT_LEVELS = ["disabled", "basic", "extended", "all"] as const;
export type GraphOptLevel = typeof GRAPH_OPT_LEVELS[number];

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
 * What a pass returns per row instead of full logits, computed beside the model (by the model
 * server, with the same policy core): all that greedy verification, exact speculative sampling
 * or the unmask rule needs, in a few bytes per row instead of 4 x vocab.
 */
export type RowOutput =
  /** Per row the argmax id and its softmax probability. */
  | { kind: "argmax" }
  /**
   * Per row the token sampled at absolute position `position + row` by that position's own
   * generator (policy core `verifyAtPositions`): a draft token is accepted iff it equals it.
   */
  | {
    kind: "sample";
    sampling: { temperature: number; topK: number; topP: number };
    seed: number;
    position: number;
  }
  /** Per row the `k` most likely ids and their probabilities (temperature 1), most likely first. */
  | { kind: "topk"; k: number };

/** Result of a pass with a RowOutput: `ids` and `probs` hold `rows` x (1 or k) entries. */
export interface RowsResult {
  rows: number;
  ids: Int32Array;
  /** Probabilities (argmax, topk); null for samples. */
  probs: Float32Array | null;
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
  /**
   * A pass that returns reduced rows (see RowOutput) rather than logits. Offered by backends for
   * which logits are expensive to move (the remote one); absent on local ones.
   */
  forwardRows?(
    cache: KvCache,
    tokens: ArrayLike<number>,
    options: ForwardOptions,
    output: RowOutput,
    ahead?: DraftAhead | null,
  ): Promise<RowsResult>;
  /** Keeps the first `length` positions (verification rejected the rest); never re-runs the model. */
  truncate(cache: KvCache, length: number): void;
  /** Frees the cache's buffers; using it afterwards is an error. */
  release(cache: KvCache): void;
  /** Frees the session. */
  close(): Promise<void>;
}

/** One call of a remote drafter session: the context it has not seen, and the round's limits. */
export interface DraftCall {
  /** Context tokens after the `from` the session already holds. */
  append: number[];
  from: number;
  /** The verified prefix of the last proposal's context + draft (null: no proposal yet). */
  verified: number | null;
  maxLen: number;
  /** The controller's extension rule for this round (plain data), when it decides extensions. */
  rule: unknown | null;
}

export interface DraftReply {
  tokens: number[];
  confidences: number[];
  passes: number;
  /** Drafter and policy time on the model server. */
  drafterMs: number;
  policyMs: number;
  /** The whole call as the caller saw it (network included). */
  wallMs: number;
}

/**
 * A draft for the next round that the model server runs right after a verify pass, from that
 * pass's verdict: the next draft comes back with this verdict, so a round costs one round trip.
 * Only for a verify pass of reduced rows, and a drafter session whose context is the pass's.
 */
export interface DraftAhead {
  session: DraftSessionHandle;
  /** The drafter's verified prefix is at most this (the part of its own draft it proposed). */
  cap: number;
  maxLen: number;
  /** Tokens the request may still emit, this round included. */
  budget: number;
  /** The controller's extension rule, when it decides extensions. */
  rule: unknown | null;
  /** Receives the draft, with the context length it continues and the prefix the server cut to. */
  onDraft(reply: DraftReply, from: number, verified: number): void;
}

/** A drafter running beside its model on another host, one session per request. */
export interface DraftSessionHandle {
  /** The session's id on the server. */
  readonly id: Promise<string>;
  draft(call: DraftCall): Promise<DraftReply>;
  /** Frees the session on the host (asynchronously; never throws). */
  release(): void;
}

/** Opens drafter sessions on a model server from a drafter spec (plain JSON). */
export interface DraftChannel {
  open(spec: unknown): DraftSessionHandle;
}
