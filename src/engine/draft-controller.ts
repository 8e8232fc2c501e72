/**
 * The draft-length controller: per round and per request, whether to speculate and how far,
 * from what passes cost (pass-costs.ts) and how likely each drafted token is to be accepted
 * (acceptance-model.ts). It maximises the round's expected rate, tokens emitted per millisecond:
 *
 *   rate(k) = E[tokens | first k drafted] / (fixed cost + verify(k + 1 rows) + round overhead)
 *   E[tokens | k] = 1 + sum over j <= k of P(tokens 1..j all accepted)
 *
 * where the fixed cost is the drafter time the round has spent (0 for a lookup draft). So a
 * window stops where one more token adds less expected output than its verify row costs
 * (FailFast's tau, derived instead of fixed); a drafter extends its draft while the expected
 * gain of one more pass beats the pass; and a round drafts nothing, a plain decoding step, when
 * no draft is expected to beat it. That last choice bounds the loss on text the drafter cannot
 * predict. On a GPU, where a verify pass is flat in its rows, the same rule proposes long windows,
 * as the paper does; on a CPU, where rows cost, shorter ones.
 */

import { type AcceptanceModel, drafterCell, type TokenSignal } from "./acceptance-model.ts";
import type { ExtendDecision, Extension } from "./drafter.ts";
import type { PassCosts } from "./pass-costs.ts";

/**
 * The request's estimate of a drafter round is the mean of its own drafter rounds, started from
 * the engine's prior (earlier requests' rounds) weighted as PRIOR_ROUNDS rounds; past
 * 1 / MIN_ROUND_WEIGHT rounds it becomes a moving average, so that it follows a request whose
 * text changes character. A mean, not a short moving average: whether the drafter's next draft is
 * accepted hardly depends on whether its last ones were (a rejection does not make the next one
 * likelier), so an estimate that dips after a few bad rounds only pauses a drafter that pays.
 */
const PRIOR_ROUNDS = 4;
const MIN_ROUND_WEIGHT = 0.05;
/** Rounds the engine-wide prior keeps at most: the prior follows the machine's load. */
const PRIOR_ROUNDS_CAP = 2000;

/** What drafter rounds yielded in earlier requests: tokens emitted and ms, summed. */
export class RoundPrior {
  private tokens = 0;
  private ms = 0;
  private rounds = 0;

  /** The mean drafter round, or null before any. */
  mean(): { tokens: number; ms: number } | null {
    return this.rounds > 0
      ? { tokens: this.tokens / this.rounds, ms: this.ms / this.rounds }
      : null;
  }

  /** Adds a finished request's drafter rounds (sums). */
  absorb(tokens: number, ms: number, rounds: number): void {
    this.tokens += tokens;
    this.ms += ms;
    this.rounds += rounds;
    if (this.rounds > PRIOR_ROUNDS_CAP) {
      const scale = PRIOR_ROUNDS_CAP / this.rounds;
      this.tokens *= scale;
      this.ms *= scale;
      this.rounds = PRIOR_ROUNDS_CAP;
    }
  }
}

/**
 * A paused drafter runs once anyway after this many paused rounds, to keep its estimate current;
 * each exploration that the estimate did not call for doubles the wait, up to MAX_EXPLORE_EVERY,
 * so a drafter that does not pay (sampled text, a drafter out of its domain) costs a handful of
 * rounds per request rather than one in eight.
 */
const EXPLORE_EVERY = 8;
const MAX_EXPLORE_EVERY = 64;
/**
 * A round drafts instead of decoding plainly only when its expected rate beats a plain step's by
 * this share: the estimates are noisy, and where drafting only breaks even (sampled text, a
 * drafter out of its domain) choosing it on a coin flip loses what exploration and misses cost.
 * Where drafting pays, it pays by far more than this.
 */
export const DRAFT_MARGIN = 0.1;

/** Whether drafting at `rate` is expected to beat an `alternative` rate by DRAFT_MARGIN. */
export function beats(rate: number, alternative: number): boolean {
  return rate > alternative * (1 + DRAFT_MARGIN);
}

/** The best length to propose and its expected rate. */
export interface LengthChoice {
  k: number;
  /** Expected tokens emitted (accepted + 1). */
  expected: number;
  /** Expected tokens per millisecond. */
  rate: number;
}

/**
 * The length k in [0, probs.length] that maximises the expected rate, given per-token
 * conditional acceptance probabilities, the time already spent (`fixedMs`) and the verify cost
 * of k + 1 rows (`verifyMs`).
 *
 * @example
 * // a flat verify cost: propose everything likely enough
 * bestLength([0.9, 0.9, 0.9], 0, () => 10).k; // 3
 */
export function bestLength(
  probs: readonly number[],
  fixedMs: number,
  verifyMs: (rows: number) => number,
  roundMs = 0,
): LengthChoice {
  let reach = 1;
  let expected = 1;
  let best: LengthChoice = { k: 0, expected: 1, rate: 1 / (fixedMs + verifyMs(1) + roundMs) };
  for (let k = 1; k <= probs.length; k++) {
    reach *= Math.min(1, Math.max(0, probs[k - 1]));
    expected += reach;
    const rate = expected / (fixedMs + verifyMs(k + 1) + roundMs);
    if (rate > best.rate) best = { k, expected, rate };
    if (reach < 1e-4) break;
  }
  return best;
}

/**
 * Whether one more drafter pass, drafting `step` more tokens after `signals`, is expected to
 * raise the round's rate, `spentMs` spent so far. The new tokens are guessed at the signal of the
 * draft's last token (confidence runs in stretches).
 */
function extendPays(
  probabilities: (signals: readonly TokenSignal[]) => number[],
  signals: readonly TokenSignal[],
  step: number,
  spentMs: number,
  passMs: number,
  verifyMs: (rows: number) => number,
  roundMs: number,
): boolean {
  const now = bestLength(probabilities(signals), spentMs, verifyMs, roundMs);
  if (now.k < signals.length) return false; // the draft is already longer than pays
  const last = signals[signals.length - 1];
  const more = [...signals, ...Array.from({ length: step }, () => ({ ...last }))];
  const next = bestLength(probabilities(more), spentMs + passMs, verifyMs, roundMs);
  return next.rate > now.rate;
}

/**
 * The controller's extension decision as plain data, for a drafter that runs beside its model on
 * a model server: the acceptance of each drafter cell and the costs, as the controller sees them
 * when the round starts.
 */
export interface ExtensionRule {
  /** P(accepted | those before accepted) per drafter cell (acceptance-model.ts drafterCell). */
  acceptance: number[];
  /** Verify cost after a draft of 1, 2, ... rows (the last entry holds beyond). */
  verifyMs: number[];
  /** Cost of one drafter pass. */
  passMs: number;
  roundMs: number;
  /** Tokens one drafter pass drafts. */
  step: number;
  /** What the draft's call costs besides its passes (a round trip), already spent. */
  callMs: number;
}

/** The extension decision of a rule: (confidences of the draft so far, ms spent) => extend? */
export function extensionByRule(rule: ExtensionRule): ExtendDecision {
  const probabilities = (signals: readonly TokenSignal[]) =>
    signals.map((t, i) => rule.acceptance[drafterCell(t.confidence ?? 0.5, i)] ?? 0);
  const verifyMs = (rows: number) =>
    rule.verifyMs[Math.min(rows, rule.verifyMs.length) - 1] ?? Infinity;
  return (confidences, spentMs, next = { passes: 1, tokens: rule.step }) =>
    extendPays(
      probabilities,
      confidences.map((confidence) => ({ source: "drafter" as const, confidence })),
      next.tokens,
      spentMs + rule.callMs,
      rule.passMs * next.passes,
      verifyMs,
      rule.roundMs,
    );
}

/** Per-request controller: the decisions, and the running estimate of a drafter round. */
export class DraftController {
  /** The request's running estimate of a drafter round: tokens emitted and milliseconds. */
  private drafterTokens: number;
  private drafterMs: number;
  /** The weight the estimate's start carries, in rounds. */
  private readonly startWeight: number;
  /** This request's own drafter rounds, summed, for the engine's prior at the end. */
  private readonly own = { tokens: 0, ms: 0, rounds: 0 };
  /** Rounds paused in a row, and how many make the next exploration. */
  private paused = 0;
  private exploreEvery = EXPLORE_EVERY;

  constructor(
    readonly costs: PassCosts,
    readonly model: AcceptanceModel,
    /** Which model drafter the request has, for the price of its pass. */
    private readonly drafter: "dllm" | "ar" | null,
    /** Tokens one drafter pass drafts (a sub-block for the dLLM, 1 for the AR drafter). */
    private readonly tokensPerPass: number,
    /** Earlier requests' drafter rounds (null: none kept). */
    private readonly prior: RoundPrior | null = null,
  ) {
    const earlier = prior?.mean();
    if (earlier) {
      this.drafterTokens = earlier.tokens;
      this.drafterMs = earlier.ms;
      this.startWeight = PRIOR_ROUNDS;
      return;
    }
    // Before any drafter round: assume a pass drafts tokens at the drafter's own confidence
    // of 0.55 and price it; the first rounds correct it.
    const pass = this.passMs();
    const guess = bestLength(
      Array.from(
        { length: tokensPerPass },
        (_, i) => model.probability({ source: "drafter", confidence: 0.55 }, i),
      ),
      pass,
      (r) => costs.verifyMs(r, true),
      costs.roundMs(),
    );
    this.drafterTokens = guess.expected;
    this.drafterMs = pass + costs.callMs() + costs.verifyMs(guess.k + 1, true) + costs.roundMs();
    this.startWeight = 1;
  }

  /** Cost of one drafter pass. */
  passMs(): number {
    if (this.drafter === "dllm") return this.costs.denoiseMs();
    if (this.drafter === "ar") return this.costs.arStepMs();
    return Infinity;
  }

  private verify = (afterDraft: boolean) => (rows: number) => this.costs.verifyMs(rows, afterDraft);

  /** Expected rate of a plain decoding step. */
  plainRate(): number {
    return 1 / (this.costs.verifyMs(1, false) + this.costs.roundMs());
  }

  /** The best length of a draft of known tokens, `spentMs` already spent on it. */
  choose(signals: readonly TokenSignal[], spentMs: number, afterDraft: boolean): LengthChoice {
    return bestLength(
      this.model.probabilities(signals),
      spentMs,
      this.verify(afterDraft),
      this.costs.roundMs(),
    );
  }

  /**
   * Whether to run the model drafter this round, when the best alternative (a plain step, or a
   * lookup draft) has rate `alternative`.
   */
  runDrafter(alternative: number): boolean {
    if (this.drafter === null) return false;
    const pays = beats(this.drafterTokens / this.drafterMs, alternative);
    const explore = !pays && this.paused >= this.exploreEvery;
    if (pays) this.exploreEvery = EXPLORE_EVERY;
    else if (explore) this.exploreEvery = Math.min(MAX_EXPLORE_EVERY, 2 * this.exploreEvery);
    this.paused = pays || explore ? 0 : this.paused + 1;
    return pays || explore;
  }

  /**
   * Whether going on after `signals` (by default one pass drafting the drafter's usual step) is
   * expected to raise the round's rate, `spentMs` spent so far. The new tokens are guessed at
   * the confidence of the draft's last token (confidence runs in stretches).
   */
  extend(
    signals: readonly TokenSignal[],
    spentMs: number,
    next: Extension = { passes: 1, tokens: this.tokensPerPass },
  ): boolean {
    return extendPays(
      (s) => this.model.probabilities(s),
      signals,
      next.tokens,
      spentMs,
      this.passMs() * next.passes,
      this.verify(true),
      this.costs.roundMs(),
    );
  }

  /** This round's extension decision as plain data, for drafts of at most `maxLen` tokens. */
  extensionRule(step: number, maxLen: number): ExtensionRule {
    const verify = this.verify(true);
    return {
      acceptance: this.model.drafterTable(),
      verifyMs: Array.from({ length: maxLen + 1 }, (_, i) => verify(i + 1)),
      passMs: this.passMs(),
      roundMs: this.costs.roundMs(),
      step,
      callMs: this.costs.callMs(),
    };
  }

  /** Records a drafter round's outcome into the running estimate. */
  observeDrafterRound(emitted: number, ms: number): void {
    const own = this.own;
    own.rounds++;
    own.tokens += emitted;
    own.ms += ms;
    const weight = Math.max(MIN_ROUND_WEIGHT, 1 / (this.startWeight + own.rounds));
    this.drafterTokens += weight * (emitted - this.drafterTokens);
    this.drafterMs += weight * (ms - this.drafterMs);
  }

  /** Hands this request's observations to the engine's priors. */
  finish(): void {
    this.model.finish();
    this.prior?.absorb(this.own.tokens, this.own.ms, this.own.rounds);
  }

  /** The current estimate of a drafter round (tokens, ms), for statistics and tests. */
  get drafterRound(): { tokens: number; ms: number } {
    return { tokens: this.drafterTokens, ms: this.drafterMs };
  }
}
