/**
 * How likely the verifier is to accept a drafted token, for the draft-length controller.
 *
 * The probability that draft token i is accepted given that tokens 0..i-1 were is estimated per
 * cell: the source's own signal (a drafter's confidence in the token, by tenths; a lookup's
 * match length, in bands) crossed with the token's offset in the draft (bands). Each cell counts
 * the tokens the verifier judged (those up to and including the first rejection; later ones
 * were never judged) and the ones it accepted. A request starts from the engine's prior (every
 * earlier request's counts, capped so that the prior never outweighs a request for long) and
 * adds its own rounds; at its end they join the prior.
 */

import type { DraftSource } from "./draft-merge.ts";

/** Confidence tenths, with the top one split at 0.99 (long drafts live there). */
const CONF_BANDS = 11;
/** Offsets 0, 1, 2-3, 4-7, 8-15, 16+. */
const OFFSET_BANDS = 6;
/** Lookup match lengths up to 2, 3, 4-7, 8-15, 16-31, 32+. */
const MATCH_BANDS = 6;
/** Weight the prior keeps per cell at most (in judged tokens). */
const PRIOR_CAP = 200;

function offsetBand(offset: number): number {
  return offset <= 0 ? 0 : Math.min(OFFSET_BANDS - 1, Math.floor(Math.log2(offset)) + 1);
}

function confidenceBand(conf: number): number {
  if (conf >= 0.99) return 10;
  return Math.max(0, Math.min(9, Math.floor(conf * 10)));
}

/** The middle of a confidence band. */
function bandMiddle(band: number): number {
  return band === 10 ? 0.995 : band === 9 ? 0.945 : (band + 0.5) / 10;
}

function matchBand(match: number): number {
  return match <= 2 ? 0 : Math.min(MATCH_BANDS - 1, Math.floor(Math.log2(match)));
}

/** What the model knows about one drafted token. */
export interface TokenSignal {
  source: DraftSource;
  /** The drafter's confidence in the token (drafter tokens). */
  confidence?: number;
  /** The lookup's match length (lookup tokens). */
  matchLength?: number;
}

/** Counts of judged and accepted tokens per cell, with Beta(1, 1)-like smoothing by a start guess. */
export class AcceptanceCounts {
  readonly judged: Float64Array;
  readonly accepted: Float64Array;

  constructor(readonly cells: number) {
    this.judged = new Float64Array(cells);
    this.accepted = new Float64Array(cells);
  }

  clone(cap = Infinity): AcceptanceCounts {
    const c = new AcceptanceCounts(this.cells);
    for (let i = 0; i < this.cells; i++) {
      const scale = this.judged[i] > cap ? cap / this.judged[i] : 1;
      c.judged[i] = this.judged[i] * scale;
      c.accepted[i] = this.accepted[i] * scale;
    }
    return c;
  }

  addAll(other: AcceptanceCounts): void {
    for (let i = 0; i < this.cells; i++) {
      this.judged[i] += other.judged[i];
      this.accepted[i] += other.accepted[i];
    }
  }
}

export const DRAFTER_CELLS = CONF_BANDS * OFFSET_BANDS;
const LOOKUP_CELLS = MATCH_BANDS * OFFSET_BANDS;
/** drafter cells, then context-lookup cells, then history-lookup cells. */
const CELLS = DRAFTER_CELLS + 2 * LOOKUP_CELLS;

/** The cell of a drafter token of confidence `conf` at `offset`. */
export function drafterCell(conf: number, offset: number): number {
  return confidenceBand(conf) * OFFSET_BANDS + offsetBand(offset);
}

function cellOf(t: TokenSignal, offset: number): number {
  const o = offsetBand(offset);
  if (t.source === "drafter") return drafterCell(t.confidence ?? 0.5, offset);
  const base = DRAFTER_CELLS + (t.source === "history" ? LOOKUP_CELLS : 0);
  return base + matchBand(t.matchLength ?? 2) * OFFSET_BANDS + o;
}

/**
 * Lookup start guesses by match band: the first token's rate, and the rate of a later token once
 * those before it held (a repeat, once on, tends to go on). From bench/lookup-probe.ts on GSM8K
 * answers; a request's own rounds take over within a few observations.
 */
const LOOKUP_FIRST = [0.56, 0.7, 0.78, 0.8, 0.9, 0.94];
const LOOKUP_LATER = [0.78, 0.8, 0.8, 0.8, 0.88, 0.94];

/** A start guess per cell before anything is observed: a drafter's confidence, or the above. */
function startGuess(cell: number): number {
  const o = cell % OFFSET_BANDS;
  if (cell < DRAFTER_CELLS) return bandMiddle(Math.floor(cell / OFFSET_BANDS));
  const m = Math.floor(((cell - DRAFTER_CELLS) % LOOKUP_CELLS) / OFFSET_BANDS);
  return o === 0 ? LOOKUP_FIRST[m] : LOOKUP_LATER[m];
}
/** Pseudo-observations behind the start guess. */
const GUESS_WEIGHT = 4;

/** The engine-wide prior: what every finished request has observed. */
export class AcceptancePrior {
  private readonly counts = new AcceptanceCounts(CELLS);

  /** A request's model, starting from this prior. */
  forRequest(): AcceptanceModel {
    return new AcceptanceModel(this.counts.clone(PRIOR_CAP), this);
  }

  /** Adds a finished request's own observations. */
  absorb(counts: AcceptanceCounts): void {
    this.counts.addAll(counts);
  }
}

/** One request's acceptance model. */
export class AcceptanceModel {
  /** This request's own observations (joined to the prior at the end). */
  private readonly own = new AcceptanceCounts(CELLS);

  constructor(
    private readonly prior: AcceptanceCounts,
    private readonly parent?: AcceptancePrior,
  ) {}

  /** A model with no prior beyond the start guesses (tests, and the first request). */
  static fresh(): AcceptanceModel {
    return new AcceptanceModel(new AcceptanceCounts(CELLS));
  }

  /** P(token at `offset` accepted | every token before it accepted). */
  probability(t: TokenSignal, offset: number): number {
    return this.cellProbability(cellOf(t, offset));
  }

  /** The probability of every drafter cell (drafterCell), as plain data for a remote drafter. */
  drafterTable(): number[] {
    return Array.from({ length: DRAFTER_CELLS }, (_, c) => this.cellProbability(c));
  }

  private cellProbability(c: number): number {
    const judged = this.prior.judged[c] + this.own.judged[c];
    const accepted = this.prior.accepted[c] + this.own.accepted[c];
    return (accepted + GUESS_WEIGHT * startGuess(c)) / (judged + GUESS_WEIGHT);
  }

  /** Probabilities of a whole draft's tokens, each conditional on those before it. */
  probabilities(tokens: readonly TokenSignal[]): number[] {
    return tokens.map((t, i) => this.probability(t, i));
  }

  /** Records a verified round: `accepted` of the draft's tokens were accepted. */
  observe(tokens: readonly TokenSignal[], accepted: number): void {
    const judged = Math.min(tokens.length, accepted + 1);
    for (let i = 0; i < judged; i++) {
      const c = cellOf(tokens[i], i);
      this.own.judged[c]++;
      if (i < accepted) this.own.accepted[c]++;
    }
  }

  /** Hands this request's observations to the engine's prior. */
  finish(): void {
    this.parent?.absorb(this.own);
  }
}
