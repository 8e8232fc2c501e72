/**
 * Turns generated token ids into text deltas: never splits a multi-byte character (a byte-level
 * BPE token can end inside one) and honours stop strings across token and chunk boundaries
 * (text that could still become a stop string is held back until it cannot).
 *
 * Decoding is incremental, so a round costs the same at token 10 and token 4,000: only the new
 * ids are decoded, together with the few ids of the piece before them, and the new text is what
 * that adds to the piece's own text. The preceding ids are there because a decoder may render a
 * token differently at the start of a sequence (SentencePiece drops a leading space).
 */

/** Decodes a whole token sequence to text (special tokens dropped). */
export type Decode = (ids: number[]) => string;

export class TextStream {
  private readonly ids: number[] = [];
  /** The decoded text so far (its last `provisional` characters are not settled yet). */
  private text = "";
  private emitted = 0; // characters of `text` already handed out
  private stoppedAt = -1;
  /** ids[prefix, read) decode to the last settled piece; ids[read, ..) are not settled. */
  private prefix = 0;
  private read = 0;
  /**
   * Characters of `text` decoded from ids[read, ..) while a character was still incomplete: the
   * complete ones before it, appended so they can be emitted, and redone on the next call.
   */
  private provisional = 0;

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

  /** Brings `text` up to date with `ids`. */
  private catchUp(final: boolean): void {
    const before = this.decode(this.ids.slice(this.prefix, this.read));
    const piece = this.decode(this.ids.slice(this.prefix));
    let same = 0; // a decoder may re-render the piece's end once more ids follow
    while (same < before.length && before[same] === piece[same]) same++;
    let added = piece.slice(same);
    // An incomplete UTF-8 sequence decodes to U+FFFD at the end: wait for its other bytes.
    let complete = true;
    if (!final) {
      while (added.endsWith("\uFFFD")) {
        added = added.slice(0, -1);
        complete = false;
      }
    }
    this.text = this.text.slice(0, this.text.length - this.provisional) + added;
    if (complete) {
      this.prefix = this.read;
      this.read = this.ids.length;
      this.provisional = 0;
    } else {
      this.provisional = added.length;
    }
  }

  private advance(final: boolean): string {
    this.catchUp(final);
    const text = this.text;
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
