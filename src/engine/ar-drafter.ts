/**
 * A small autoregressive drafter (the `ar-draft` baseline): one forward pass per drafted token,
 * a fixed draft length k, optionally stopping early when a drafted token's probability falls
 * below `stopBelow` (the confidence-stop variant; that token is still proposed), or when
 * `continueIf` (the draft-length controller) says one more token does not pay.
 */

import type { PolicyCore } from "../policy/core.ts";
import type { KvCache, ModelSession } from "../runtime/types.ts";
import type { Draft, Drafter } from "./drafter.ts";
import type { TimeBuckets } from "./stats.ts";

export class ArDrafter implements Drafter {
  private readonly cache: KvCache;
  private readonly eos: Set<number>;

  constructor(
    private readonly session: ModelSession,
    private readonly policy: PolicyCore,
    private readonly k: number,
    private readonly stopBelow: number | null,
    eosTokenIds: number[],
    private readonly continueIf?: (confidences: readonly number[], spentMs: number) => boolean,
  ) {
    this.cache = session.createCache();
    this.eos = new Set(eosTokenIds);
  }

  async propose(context: readonly number[], maxLen: number, time: TimeBuckets): Promise<Draft> {
    const k = Math.min(this.k, maxLen);
    if (k <= 0) return { tokens: [], passes: 0 };
    // The cache holds a verified prefix; feed the rest of the context (at least its last token).
    if (this.cache.length >= context.length) this.session.truncate(this.cache, context.length - 1);
    let feed: ArrayLike<number> = context.slice(this.cache.length);
    const tokens: number[] = [];
    const confs: number[] = [];
    const spentFrom = time.drafter;
    let passes = 0;
    while (tokens.length < k) {
      const r = await this.session.forward(this.cache, feed, { commit: true, lastRows: 1 });
      time.drafter += r.timing.totalMs;
      passes++;
      const t0 = performance.now();
      const { tokens: ids, confidences } = this.policy.confidences(r.logits, r.vocab);
      time.policy += performance.now() - t0;
      tokens.push(ids[0]);
      confs.push(confidences[0]);
      if (this.eos.has(ids[0])) break;
      if (this.stopBelow !== null && confidences[0] < this.stopBelow) break;
      if (this.continueIf && !this.continueIf(confs, time.drafter - spentFrom)) break;
      feed = [ids[0]];
    }
    return { tokens, confidences: confs, passes };
  }

  onVerified(validPrefix: number): void {
    if (this.cache.length > validPrefix) this.session.truncate(this.cache, validPrefix);
  }

  release(): void {
    this.session.release(this.cache);
  }
}
