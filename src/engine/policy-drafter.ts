/**
 * Drafting with a context lookup: alone (`lookup`, prompt lookup decoding: no model, a draft
 * only where the text repeats) or merged with a model drafter's draft (`failfast`,
 * `dllm-fixed`, `ar-draft` with lookup on) by the rule of draft-merge.ts.
 *
 * The model drafter's cache holds its own tokens, which the merged draft may have replaced: it
 * is told only the part of the verified prefix that its own draft agreed with.
 */

import { ContextLookup } from "./context-lookup.ts";
import type { Draft, Drafter } from "./drafter.ts";
import { chooseCandidate, lookupDraftsAlone, mergeDrafts, type MergeRule } from "./draft-merge.ts";
import type { LookupHistory } from "./lookup-history.ts";
import type { TimeBuckets } from "./stats.ts";

/** Earlier outputs to draft from, and the scope this request may see. */
export interface HistoryAccess {
  store: LookupHistory;
  scope: string;
}

export class LookupDrafter implements Drafter {
  private readonly context: ContextLookup;
  /** The last round: its context length and the inner drafter's own tokens, and what was proposed. */
  private last: { at: number; own: number[]; proposed: number[] } | null = null;

  constructor(
    /** The model drafter whose draft is merged; null: lookup alone. */
    private readonly inner: Drafter | null,
    private readonly rule: MergeRule,
    keyLength: number,
    private readonly history: HistoryAccess | null,
  ) {
    this.context = new ContextLookup(keyLength);
  }

  async propose(context: readonly number[], maxLen: number, time: TimeBuckets): Promise<Draft> {
    const t0 = performance.now();
    const want = Math.min(maxLen, this.rule.maxLookup);
    const candidate = chooseCandidate(
      this.context.lookup(context, want),
      this.history?.store.lookup(this.history.scope, context, want) ?? null,
      this.rule,
    );
    time.policy += performance.now() - t0;
    let own: Draft = { tokens: [], confidences: [], passes: 0 };
    if (this.inner && !lookupDraftsAlone(candidate, this.rule)) {
      own = await this.inner.propose(context, maxLen, time);
    }
    const t1 = performance.now();
    const merged = mergeDrafts(
      { tokens: own.tokens, confidences: own.confidences ?? own.tokens.map(() => 1) },
      candidate,
      this.rule,
      maxLen,
    );
    time.policy += performance.now() - t1;
    this.last = { at: context.length, own: own.tokens, proposed: merged.tokens };
    return { tokens: merged.tokens, passes: own.passes, sources: merged.sources };
  }

  onVerified(validPrefix: number): void {
    if (!this.inner || !this.last) return;
    const { at, own, proposed } = this.last;
    let agree = 0;
    while (agree < own.length && own[agree] === proposed[agree]) agree++;
    this.inner.onVerified(Math.min(validPrefix, at + agree));
  }

  release(): void {
    this.inner?.release();
  }
}
