/**
 * Earlier outputs as a lookup source across requests (in the spirit of SuffixDecoding, arXiv
 * 2411.04975): answers to similar questions share their phrasing, so a request may draft from
 * what earlier requests generated. Bounded: at most `capacityTokens` tokens are held over all
 * scopes, and the oldest outputs are evicted first.
 *
 * Outputs never change with this cache (every draft is verified), but speed does, and speed
 * would tell one client what another generated: each entry belongs to a scope (the server uses
 * one per API key) and a lookup sees only its own scope's entries. One store belongs to one
 * engine, so one model: token ids of different vocabularies never meet.
 */

import { type LookupCandidate, TokenIndex } from "./context-lookup.ts";

/**
 * Fewest trailing tokens a lookup in earlier outputs must match: those are other texts, where a
 * short match is mostly chance (a request's own text may match on fewer).
 */
export const HISTORY_MIN_MATCH = 6;

/** Tokens of the prompt kept before an output, so that an answer's opening can be matched. */
const PROMPT_TAIL = 8;

export class LookupHistory {
  /** One index per scope. */
  private readonly scopes = new Map<string, TokenIndex>();
  /** Entries, oldest first: their scope and sequence number. */
  private readonly entries: { scope: string; seq: number; tokens: number }[] = [];
  private nextSeq = 0;
  private held = 0;

  constructor(readonly capacityTokens: number, readonly keyLength: number) {
    if (!Number.isInteger(capacityTokens) || capacityTokens < 0) {
      throw new RangeError(`capacityTokens must be a non-negative integer, got ${capacityTokens}`);
    }
  }

  /** Tokens held over all scopes (never more than capacityTokens). */
  get tokens(): number {
    return this.held;
  }

  /** Entries held over all scopes. */
  get size(): number {
    return this.entries.length;
  }

  /**
   * Records a finished request's output (with the last tokens of its prompt) in `scope`,
   * evicting the oldest entries to stay within capacity. An output longer than the whole
   * capacity keeps only its end.
   */
  add(scope: string, prompt: readonly number[], output: readonly number[]): void {
    if (this.capacityTokens === 0 || output.length === 0) return;
    let tokens = [...prompt.slice(-PROMPT_TAIL), ...output];
    if (tokens.length > this.capacityTokens) tokens = tokens.slice(-this.capacityTokens);
    while (this.held + tokens.length > this.capacityTokens) this.evictOldest();
    let index = this.scopes.get(scope);
    if (!index) this.scopes.set(scope, index = new TokenIndex(this.keyLength));
    const seq = this.nextSeq++;
    index.append(seq, tokens);
    this.entries.push({ scope, seq, tokens: tokens.length });
    this.held += tokens.length;
  }

  private evictOldest(): void {
    const e = this.entries.shift()!;
    const index = this.scopes.get(e.scope)!;
    index.remove(e.seq);
    if (index.tokens === 0) this.scopes.delete(e.scope);
    this.held -= e.tokens;
  }

  /** The best continuation of `context` among `scope`'s earlier outputs, or null. */
  lookup(scope: string, context: readonly number[], maxLen: number): LookupCandidate | null {
    return this.scopes.get(scope)?.lookup(context, maxLen, "history") ?? null;
  }
}
