/**
 * Turns generated token ids into text deltas: never splits a multi-byte character (a byte-level
 * BPE token can end inside one) and honours stop strings across token and chunk boundaries
 * (text that could still become a stop string is held back until it cannot).
 */

/** Decodes a whole token sequence to text (special tokens dropped). */
export type Decode = (ids: number[]) => string;

export class TextStream {
  private readonly ids: number[] = [];
  private emitted = 0; // characters of the decoded text already handed out
  private stoppedAt = -1;

  constructor(private readonly decode: Decode, private readonly stop: string[] = []) {}

  /** Whether a stop string was found (nothing after it is ever emitted). */
  get stopped(): boolean {
    return this.stoppedAt >= 0;
  }

  /** Adds tokens; returns the text that is now safe to emit (possibly ""). */
  push(tokens: number[]): string {
    if (this.stopped) return "";
    this.ids.push(...tokens);
    return this.advance(false);
  }

  /** End of generation: returns whatever was held back (an incomplete character stays out). */
  flush(): string {
    if (this.stopped) return "";
    return this.advance(true);
  }

  private advance(final: boolean): string {
    let text = this.decode(this.ids);
    // An incomplete UTF-8 sequence decodes to U+FFFD at the end: wait for its other bytes.
    if (!final) {
      while (text.endsWith("\uFFFD")) text = text.slice(0, -1);
    }
    // A stop string anywhere after what was emitted (it may straddle the emitted boundary).
    let cut = text.length;
    for (const s of this.stop) {
      if (!s) continue;
      const from = Math.max(0, this.emitted - s.length + 1);
      const at = text.indexOf(s, from);
      if (at >= 0 && at < cut) cut = at;
    }
    if (cut < text.length) {
      this.stoppedAt = Math.max(cut, this.emitted);
      const out = text.slice(this.emitted, this.stoppedAt);
      this.emitted = this.stoppedAt;
      return out;
    }
    // Hold back the longest tail that is a proper prefix of some stop string.
    let safe = text.length;
    if (!final) {
      for (const s of this.stop) {
        for (let n = Math.min(s.length - 1, text.length - this.emitted); n > 0; n--) {
          if (text.endsWith(s.slice(0, n))) {
            safe = Math.min(safe, text.length - n);
            break;
          }
        }
      }
    }
    if (safe <= this.emitted) return "";
    const out = text.slice(this.emitted, safe);
    this.emitted = safe;
    return out;
  }
}
