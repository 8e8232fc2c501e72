/**
 * Context lookup (prompt lookup / suffix matching, no model): where the text so far ends with a
 * run of tokens that occurred earlier, propose what followed that earlier occurrence. Answers
 * repeat their question and themselves ("4*4=16 ... 16*2=32"), and code repeats its names, so
 * such a draft is often right and costs no drafter pass.
 *
 * `TokenIndex` indexes one or more token sequences by their n-grams (n = `keyLength`), so a
 * lookup scans only the occurrences of the context's last n tokens, newest first, and measures
 * how far back each one matches (up to `MAX_MATCH`). The candidate is the longest match (the
 * newest among equals); its `support` counts the scanned occurrences that continue with the
 * same token, a second, independent sign that the continuation is the usual one.
 */

/** Longest match measured backwards: past this, longer matches are not more telling. */
export const MAX_MATCH = 64;
/** Occurrences of the key scanned per lookup, newest first (bounds a lookup's cost). */
const MAX_SCAN = 64;

/** Where a lookup draft came from: this request's own text, or earlier requests' outputs. */
export type LookupOrigin = "context" | "history";

/** A proposed continuation. */
export interface LookupCandidate {
  tokens: number[];
  /** Tokens before the continuation that match the end of the context (at least keyLength). */
  matchLength: number;
  /** Scanned occurrences (the chosen one included) that continue with the same first token. */
  support: number;
  origin: LookupOrigin;
}

/** An occurrence: sequence `seq`, continuation starting at `at`. */
interface Occurrence {
  seq: number;
  at: number;
}

/** n-gram key of `tokens[end - n, end)`. */
function keyOf(tokens: ArrayLike<number>, end: number, n: number): string {
  let key = "";
  for (let i = end - n; i < end; i++) key += tokens[i] + ",";
  return key;
}

/** Number of tokens ending at `aEnd` in `a` and at `bEnd` in `b` that are equal, at most `cap`. */
function matchBack(
  a: ArrayLike<number>,
  aEnd: number,
  b: ArrayLike<number>,
  bEnd: number,
  cap: number,
): number {
  let m = 0;
  while (m < cap && aEnd - m > 0 && bEnd - m > 0 && a[aEnd - m - 1] === b[bEnd - m - 1]) m++;
  return m;
}

/**
 * An n-gram index over token sequences. Sequences are append-only and addressed by number;
 * `remove` drops one whole sequence (and its index entries).
 */
export class TokenIndex {
  private readonly seqs = new Map<number, number[]>();
  /** key -> occurrences, oldest first. */
  private readonly index = new Map<string, Occurrence[]>();
  private indexedTokens = 0;

  constructor(readonly keyLength: number) {
    if (!Number.isInteger(keyLength) || keyLength < 1) {
      throw new RangeError(`keyLength must be a positive integer, got ${keyLength}`);
    }
  }

  /** Tokens held over all sequences. */
  get tokens(): number {
    return this.indexedTokens;
  }

  /** Appends `tokens` to sequence `seq` (created on first use) and indexes the new n-grams. */
  append(seq: number, tokens: ArrayLike<number>): void {
    let s = this.seqs.get(seq);
    if (!s) this.seqs.set(seq, s = []);
    const n = this.keyLength;
    for (let i = 0; i < tokens.length; i++) {
      s.push(tokens[i]);
      // the n-gram ending just before the new token, continued by it
      if (s.length > n) {
        const key = keyOf(s, s.length - 1, n);
        let list = this.index.get(key);
        if (!list) this.index.set(key, list = []);
        list.push({ seq, at: s.length - 1 });
      }
    }
    this.indexedTokens += tokens.length;
  }

  /** Length of sequence `seq` (0 if absent). */
  length(seq: number): number {
    return this.seqs.get(seq)?.length ?? 0;
  }

  /** Drops sequence `seq` and its index entries. */
  remove(seq: number): void {
    const s = this.seqs.get(seq);
    if (!s) return;
    const n = this.keyLength;
    for (let end = n; end < s.length; end++) {
      const key = keyOf(s, end, n);
      const list = this.index.get(key);
      if (!list) continue;
      const kept = list.filter((o) => o.seq !== seq);
      if (kept.length) this.index.set(key, kept);
      else this.index.delete(key);
    }
    this.indexedTokens -= s.length;
    this.seqs.delete(seq);
  }

  /**
   * The best continuation of `context` (at most `maxLen` tokens) among the indexed sequences,
   * or null when the context's last `keyLength` tokens never occurred with a continuation.
   * `exclude` skips an occurrence that is the context itself (its end, in sequence `seq`).
   */
  lookup(
    context: ArrayLike<number>,
    maxLen: number,
    origin: LookupOrigin,
    exclude?: Occurrence,
  ): LookupCandidate | null {
    const n = this.keyLength;
    if (context.length < n || maxLen <= 0) return null;
    const list = this.index.get(keyOf(context, context.length, n));
    if (!list) return null;
    let best: Occurrence | null = null;
    let bestMatch = 0;
    const firsts: number[] = [];
    for (let i = list.length - 1, scanned = 0; i >= 0 && scanned < MAX_SCAN; i--, scanned++) {
      const o = list[i];
      if (exclude && o.seq === exclude.seq && o.at >= exclude.at) continue;
      const s = this.seqs.get(o.seq)!;
      const m = matchBack(s, o.at, context, context.length, MAX_MATCH);
      firsts.push(s[o.at]);
      if (m > bestMatch) {
        best = o;
        bestMatch = m;
      }
    }
    if (!best) return null;
    const s = this.seqs.get(best.seq)!;
    const end = exclude && best.seq === exclude.seq ? Math.min(s.length, exclude.at) : s.length;
    const tokens = s.slice(best.at, Math.min(end, best.at + maxLen));
    if (tokens.length === 0) return null;
    return {
      tokens,
      matchLength: bestMatch,
      support: firsts.filter((t) => t === tokens[0]).length,
      origin,
    };
  }
}

/**
 * One request's own text (prompt, then verified output) as a lookup source, indexed
 * incrementally as the context grows.
 */
export class ContextLookup {
  private readonly index: TokenIndex;

  constructor(keyLength: number) {
    this.index = new TokenIndex(keyLength);
  }

  /**
   * The best continuation of `context` from its own earlier text. `context` must extend the one
   * of the previous call (the verified context only grows).
   */
  lookup(context: readonly number[], maxLen: number): LookupCandidate | null {
    const known = this.index.length(0);
    if (context.length > known) this.index.append(0, context.slice(known));
    // the context's own end is not an earlier occurrence
    return this.index.lookup(context, maxLen, "context", { seq: 0, at: context.length });
  }
}
