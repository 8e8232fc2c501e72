/**
 * What a drafter does for the decoding loop: propose draft tokens after the verified context,
 * then learn how much of it was verified so it can keep (or drop) its cache.
 */

import type { DraftAhead } from "../runtime/types.ts";
import type { DraftSource } from "./draft-merge.ts";
import type { TimeBuckets } from "./stats.ts";

export interface Draft {
  tokens: number[];
  /** Drafter forward passes spent (denoising, block completion, cache catch-up). */
  passes: number;
  /** The drafter's confidence in each token (probability of the token it committed), if known. */
  confidences?: number[];
  /** Which source drafted each token (absent: all by the model drafter). */
  sources?: DraftSource[];
  /** Drafter time that was a call's round trip rather than passes (a remote drafter's). */
  callMs?: number;
}

/** What one more drafter pass (or a few) takes and drafts. */
export interface Extension {
  /** Forward passes: 2 where the draft must complete a block first, else 1. */
  passes: number;
  /** Tokens it drafts. */
  tokens: number;
}

/**
 * The draft-length controller's say in a draft: (confidences so far, drafter ms spent, what going
 * on takes; absent: one pass of the drafter's usual step) => go on?
 */
export type ExtendDecision = (
  confidences: readonly number[],
  spentMs: number,
  next?: Extension,
) => boolean;

export interface Drafter {
  /**
   * Proposes at most `maxLen` tokens continuing `context` (every verified token so far).
   * Adds its forward-pass time to `time.drafter` and its policy time to `time.policy`.
   */
  propose(context: readonly number[], maxLen: number, time: TimeBuckets): Promise<Draft>;
  /**
   * Asks, when the drafter runs on a model server, to draft the next round there right after
   * this round's verify pass (runtime DraftAhead). `budget`: tokens the request may still emit;
   * `cap`: the verified prefix the drafter may keep at most. null: draft the usual way.
   */
  ahead?(budget: number, cap?: number): DraftAhead | null;
  /** The first `validPrefix` tokens of the last proposal's context + draft were verified. */
  onVerified(validPrefix: number): void;
  /** Frees the drafter's per-request caches. */
  release(): void;
}
