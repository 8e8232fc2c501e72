/**
 * The verifier side of a request: its KV cache holds every verified token but the last one,
 * which is fed with the draft in the next round (k + 1 positions, one forward pass, k + 1
 * rows). The policy core accepts the longest agreeing prefix (greedy) or runs lossless
 * speculative sampling, and the cache is cut back to the accepted length without re-running
 * the model. Sampling draws each position's token with that position's own generator (seeded by
 * the request's seed), so the sampled text does not depend on what was drafted.
 */

import type { PolicyCore, SamplingParams, Verdict } from "../policy/core.ts";
import type { DraftAhead, KvCache, ModelSession } from "../runtime/types.ts";
import type { TimeBuckets } from "./stats.ts";

export class VerifierState {
  readonly cache: KvCache;
  /** Every verified token: the prompt, then generated tokens. */
  readonly context: number[];

  constructor(
    private readonly session: ModelSession,
    private readonly policy: PolicyCore,
    prompt: number[],
    private readonly sampling: SamplingParams,
    /** Seed of the sampling generators (unused when greedy). */
    private readonly seed: number,
  ) {
    this.cache = session.createCache();
    this.context = [...prompt];
  }

  /** Fills the cache with the prompt but its last token. */
  async prefill(time: TimeBuckets): Promise<void> {
    if (this.context.length < 2) return;
    const prompt = this.context.slice(0, -1);
    const options = { commit: true, lastRows: 1 };
    // its row is not used: a backend that reduces rows sends a few bytes instead of logits
    const r = this.session.forwardRows
      ? await this.session.forwardRows(this.cache, prompt, options, { kind: "argmax" })
      : await this.session.forward(this.cache, prompt, options);
    time.prefill += r.timing.totalMs;
  }

  /** Longest draft the context window still allows. */
  get room(): number {
    return this.session.config.maxPositions - this.context.length;
  }

  /**
   * Verifies `draft` in one forward pass; appends the accepted tokens and the verifier's own
   * next token to the context and returns the verdict.
   */
  async verify(
    draft: number[],
    time: TimeBuckets,
    ahead: DraftAhead | null = null,
  ): Promise<Verdict> {
    const before = this.cache.length; // == context.length - 1
    const input = [this.context[this.context.length - 1], ...draft];
    const verdict = this.session.forwardRows
      ? await this.verifyByRows(input, draft, time, ahead)
      : await this.verifyByLogits(input, draft, time);
    this.session.truncate(this.cache, before + 1 + verdict.accepted);
    this.context.push(...draft.slice(0, verdict.accepted), verdict.next);
    return verdict;
  }

  private async verifyByLogits(input: number[], draft: number[], time: TimeBuckets) {
    const r = await this.session.forward(this.cache, input, { commit: true });
    time.verifier += r.timing.totalMs;
    const t0 = performance.now();
    const verdict = this.sampling.temperature > 0
      ? this.policy.verifyAtPositions(
        r.logits,
        r.vocab,
        draft,
        this.sampling,
        this.seed,
        this.context.length,
      )
      : this.policy.verifyGreedy(r.logits, r.vocab, draft);
    time.policy += performance.now() - t0;
    return verdict;
  }

  private async verifyByRows(
    input: number[],
    draft: number[],
    time: TimeBuckets,
    ahead: DraftAhead | null,
  ) {
    const output = this.sampling.temperature > 0
      ? {
        kind: "sample" as const,
        sampling: {
          temperature: this.sampling.temperature,
          topK: this.sampling.topK ?? 0,
          topP: this.sampling.topP ?? 1,
        },
        seed: this.seed,
        position: this.context.length,
      }
      : { kind: "argmax" as const };
    const r = await this.session.forwardRows!(this.cache, input, { commit: true }, output, ahead);
    time.verifier += r.timing.totalMs;
    return verdictOfRows(r.ids, draft);
  }

  release(): void {
    this.session.release(this.cache);
  }
}

/** Greedy or position-keyed verification over each row's own token: accept up to the first miss. */
export function verdictOfRows(rowTokens: ArrayLike<number>, draft: ArrayLike<number>): Verdict {
  let accepted = 0;
  while (accepted < draft.length && rowTokens[accepted] === draft[accepted]) accepted++;
  return { accepted, next: rowTokens[accepted] };
}
