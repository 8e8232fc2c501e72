/**
 * The one place where a model drafter's draft and a lookup continuation become one draft.
 *
 * A lookup token costs a verify row and no drafter pass; a drafter pass costs about half a
 * verify pass here, more than most of what it adds. Measured on the verifier's own answers
 * (docs/lookup.md), a lookup continuation from the request's own text is right often enough
 * that running the drafter to confirm it loses more than it gains, while earlier requests'
 * outputs, other texts, match by chance more often. FailFast's rule over both sources:
 * - win big: a lookup that may draft alone (a match in the request's own text, or a long one
 *   in earlier outputs) is proposed without a drafter pass, longer the longer its match;
 * - otherwise the drafter runs, and a lookup that agrees with its first token extends the draft
 *   far past the drafter's window; where they disagree, the more confident source wins: the
 *   lookup when the drafter is unsure of its first token and the lookup's match is long;
 * - fail fast: with no lookup, or a lookup that loses, the drafter's own (short) draft stands.
 */

import type { LookupCandidate, LookupOrigin } from "./context-lookup.ts";

/** Which source drafted a token. */
export type DraftSource = "drafter" | LookupOrigin;

/** Parameters of the merge. */
export interface MergeRule {
  /** Lookup tokens proposed at most (the cap of "win big"). */
  maxLookup: number;
  /**
   * Below that cap, a lookup proposes at most `capBase + capPerMatch * matchLength` tokens: a
   * long match is a long repeat, whose continuation holds for longer, while a short one is
   * often a coincidence, and every proposed token costs a verify row.
   */
  capBase: number;
  capPerMatch: number;
  /** A lookup that disagrees at the first token wins when the drafter's confidence is below this. */
  overrideBelow: number;
  /** ... and its match is at least this long. */
  overrideMinMatch: number;
  /** A lookup in the request's own text matching this many tokens drafts alone (0: never). */
  contextAloneAt: number;
  /** A lookup in earlier outputs matching this many tokens drafts alone (0: never). */
  historyAloneAt: number;
}

export const DEFAULT_MERGE_RULE: Readonly<MergeRule> = {
  maxLookup: 60,
  capBase: 4,
  capPerMatch: 2,
  overrideBelow: 0.5,
  overrideMinMatch: 4,
  contextAloneAt: 2,
  historyAloneAt: 16,
};

/** A draft with the source of each token. */
export interface SourcedDraft {
  tokens: number[];
  sources: DraftSource[];
}

/** Whether the drafter's pass may be skipped for this lookup candidate. */
export function lookupDraftsAlone(c: LookupCandidate | null, rule: MergeRule): boolean {
  if (c === null) return false;
  const at = c.origin === "context" ? rule.contextAloneAt : rule.historyAloneAt;
  return at > 0 && c.matchLength >= at;
}

/**
 * The lookup candidate to use: the request's own text first; earlier outputs when the request's
 * text has none, or when their match is longer and long enough to draft alone.
 */
export function chooseCandidate(
  context: LookupCandidate | null,
  history: LookupCandidate | null,
  rule: MergeRule,
): LookupCandidate | null {
  if (!context || !history) return context ?? history;
  const historyWins = history.matchLength > context.matchLength &&
    lookupDraftsAlone(history, rule);
  return historyWins ? history : context;
}

/** Lookup tokens worth proposing for candidate `c`. */
export function lookupCap(c: LookupCandidate, rule: MergeRule): number {
  return Math.min(rule.maxLookup, rule.capBase + rule.capPerMatch * c.matchLength);
}

function fromLookup(c: LookupCandidate, maxLen: number): SourcedDraft {
  const tokens = c.tokens.slice(0, maxLen);
  return { tokens, sources: tokens.map(() => c.origin) };
}

/**
 * Merges the drafter's draft (`tokens` with its `confidences`; empty when the pass was skipped)
 * with a lookup candidate into a draft of at most `maxLen` tokens.
 */
export function mergeDrafts(
  drafted: { tokens: readonly number[]; confidences: readonly number[] },
  lookup: LookupCandidate | null,
  rule: MergeRule,
  maxLen: number,
): SourcedDraft {
  const own = (): SourcedDraft => {
    const tokens = drafted.tokens.slice(0, maxLen);
    return { tokens, sources: tokens.map(() => "drafter" as const) };
  };
  if (!lookup) return own();
  const cap = Math.min(maxLen, lookupCap(lookup, rule));
  if (drafted.tokens.length === 0) return fromLookup(lookup, cap);
  const d = drafted.tokens;
  const u = lookup.tokens;
  if (u[0] === d[0]) {
    // Agreement: the drafter's tokens while they agree, then the lookup's continuation; a
    // lookup that ends while still agreeing is continued by the rest of the drafter's draft.
    let j = 0;
    while (j < d.length && j < u.length && d[j] === u[j]) j++;
    const tokens: number[] = [];
    const sources: DraftSource[] = [];
    const push = (t: number, s: DraftSource) => {
      tokens.push(t);
      sources.push(s);
    };
    for (let i = 0; i < j; i++) push(d[i], "drafter");
    const tail = j === u.length ? d.slice(j) : u.slice(j, Math.max(j, cap));
    const tailSource: DraftSource = j === u.length ? "drafter" : lookup.origin;
    for (const t of tail) push(t, tailSource);
    return { tokens: tokens.slice(0, maxLen), sources: sources.slice(0, maxLen) };
  }
  const drafterUnsure = drafted.confidences[0] < rule.overrideBelow;
  if (drafterUnsure && lookup.matchLength >= rule.overrideMinMatch) return fromLookup(lookup, cap);
  return own();
}
