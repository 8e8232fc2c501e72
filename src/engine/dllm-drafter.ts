/**
 * Block-diffusion drafting (Fast-dLLM v2 decoding, FAILFAST.md sections 2 and 3).
 *
 * Positions are decided block by block (B, from the model's bd_size) and, inside a block,
 * sub-block by sub-block (S: on the block's grid, or S positions from the first undecided one
 * when the plan slides them). A denoising pass runs the current block window (committed tokens
 * plus [MASK]s) against the cache of complete blocks and writes nothing; the policy core commits
 * every masked position of the current sub-block above the unmask threshold (at least one).
 * A complete block gets one more pass that writes its keys and values to the cache; its last row
 * predicts the first token of the next block, AR style. Token shift: the row of position p - 1
 * predicts position p.
 *
 * The draft window [L, L + k) grows by the plan: a fixed k (`dllm-fixed`), or FailFast's
 * Algorithm 1 — once the window is committed, stop if any of its tokens is below tau (fail fast)
 * or k reached N_max, else extend k by N (win big). Optionally a window that failed fast is cut
 * at its first token below tau.
 *
 * The cache keeps complete blocks only; after verification it is cut back to the last complete
 * block inside the verified prefix.
 *
 * A drafter whose config.json says `"denoise_window": "sub_block_end"` (trained so) gets windows
 * that end with the sub-block being decided instead of the block: the later sub-blocks hold only
 * masks, and leaving them out saves their rows in every layer.
 *
 * Only the logits rows a pass uses are asked for: the last row of a block-completion pass, the
 * sub-block's rows of a denoising pass. The window lies inside one block that starts at the
 * cache's end, where block-causal attention does not depend on the order of the tokens, so the
 * needed rows are moved last and the runtime skips the others' vocabulary projection.
 */

import type { PolicyCore } from "../policy/core.ts";
import type { ForwardOptions, KvCache, ModelSession } from "../runtime/types.ts";
import type { Draft, Drafter, ExtendDecision } from "./drafter.ts";
import type { TimeBuckets } from "./stats.ts";

/** How long a draft grows. */
export interface DraftPlan {
  /** First window length (N0, or the fixed k; at most `max`). */
  initial: number;
  /** Extension step N (0: never extend). */
  step: number;
  /** Cap on the draft length (N_max, or the fixed k). */
  max: number;
  /** Stop threshold tau; null: no confidence test (fixed length). */
  tau: number | null;
  /** Unmask threshold of a denoising pass. */
  threshold: number;
  /**
   * Round every window length up so the window ends on a sub-block boundary: a denoising pass
   * drafts its whole sub-block anyway (one pass per sub-block at a low unmask threshold), so
   * an aligned window uses all it drafts and never pays a pass for a sub-block it cuts short.
   */
  align: boolean;
  /**
   * A denoising pass decides the S positions from the draft's first undecided one (within the
   * block) rather than the sub-block of the block's fixed grid. Fast-dLLM v2's grid suits
   * decoding a block from its start; a speculative draft starts wherever verification stopped,
   * and on the grid a draft that starts late in a sub-block runs out of decided positions after
   * a token or two and pays a second pass to extend. Sliding, one pass decides S positions
   * wherever the draft starts (the drafter was trained on masks from any point of a block).
   */
  slide: boolean;
  /**
   * When set, decides instead of tau whether the draft goes on by another pass (the
   * draft-length controller), from the confidences so far, the drafter time this draft has
   * spent and what the extension takes and drafts; `max` still caps the length (`step` > 0
   * only enables it). The window first takes in the positions its last pass decided, so the
   * decision comes only where going on costs a pass.
   */
  extend?: ExtendDecision;
  /**
   * When a window fails fast, propose it only up to its first token below tau (FAILFAST.md
   * section 3: the paper's code proposes the whole window): the verifier then skips tokens that
   * are likely wrong, and on a CPU every verified row costs.
   */
  trim: boolean;
}

/** Prediction of the first token of the block starting at `at` (from a block-completion pass). */
interface Boundary {
  at: number;
  token: number;
  conf: number;
}

export class DllmDrafter implements Drafter {
  private readonly cache: KvCache;
  private boundary: Boundary | null = null;
  private readonly B: number;
  private readonly S: number;
  private readonly maskId: number;
  private readonly eos: Set<number>;
  /** Denoising windows end with the current sub-block (else with the block). */
  private readonly toSubBlockEnd: boolean;

  constructor(
    private readonly session: ModelSession,
    private readonly policy: PolicyCore,
    private readonly plan: DraftPlan,
    eosTokenIds: number[],
  ) {
    const c = session.config;
    this.B = c.blockSize!;
    this.S = c.subBlockSize!;
    this.maskId = c.maskTokenId!;
    this.toSubBlockEnd = c.denoiseWindow === "sub_block_end";
    this.eos = new Set(eosTokenIds);
    this.cache = session.createCache();
  }

  /** Runs a forward pass, timing it as drafter time. */
  private async forward(
    tokens: ArrayLike<number>,
    options: ForwardOptions,
    time: TimeBuckets,
  ) {
    const r = await this.session.forward(this.cache, tokens, options);
    time.drafter += r.timing.totalMs;
    return r;
  }

  /**
   * A denoising pass over `window` (the current block from its start, committed tokens and
   * masks) that returns only its rows [from, to) (in order): those rows go last, the rest first,
   * each token with its own position.
   */
  private async denoise(window: Int32Array, from: number, to: number, time: TimeBuckets) {
    const order: number[] = [];
    for (let i = 0; i < window.length; i++) if (i < from || i >= to) order.push(i);
    for (let i = from; i < to; i++) order.push(i);
    const start = this.cache.length;
    return await this.forward(order.map((i) => window[i]), {
      commit: false,
      lastRows: to - from,
      positions: order.map((i) => start + i),
    }, time);
  }

  /** argmax (never the mask) and confidence of one row, timed as policy time. */
  private predict(
    row: Float32Array,
    vocab: number,
    time: TimeBuckets,
  ): { token: number; conf: number } {
    const t0 = performance.now();
    const { tokens, confidences } = this.policy.confidences(row, vocab, this.maskId);
    time.policy += performance.now() - t0;
    return { token: tokens[0], conf: confidences[0] };
  }

  /** Commits the block [start, start + B) of `tokens` to the cache; records the boundary. */
  private async commitBlocks(
    tokens: ArrayLike<number>,
    end: number,
    time: TimeBuckets,
  ): Promise<void> {
    const r = await this.forward(tokens, { commit: true, lastRows: 1 }, time);
    const last = r.logits.subarray((r.rows - 1) * r.vocab, r.rows * r.vocab);
    this.boundary = { at: end, ...this.predict(last, r.vocab, time) };
  }

  /**
   * Makes the cache hold exactly the complete blocks before `blockStart` (all verified context),
   * and, when the draft starts on a block boundary, a valid boundary prediction. Returns passes.
   */
  private async syncCache(
    context: readonly number[],
    blockStart: number,
    time: TimeBuckets,
  ): Promise<number> {
    let passes = 0;
    if (this.cache.length > blockStart) this.session.truncate(this.cache, blockStart);
    if (this.cache.length < blockStart) {
      await this.commitBlocks(context.slice(this.cache.length, blockStart), blockStart, time);
      passes++;
    }
    if (context.length === blockStart && this.boundary?.at !== blockStart) {
      // The first draft token comes from the last block's completion pass: redo that pass.
      const prev = blockStart - this.B;
      this.session.truncate(this.cache, prev);
      await this.commitBlocks(context.slice(prev, blockStart), blockStart, time);
      passes++;
    }
    return passes;
  }

  async propose(context: readonly number[], maxLen: number, time: TimeBuckets): Promise<Draft> {
    const { B, S, maskId, plan } = this;
    const L = context.length;
    /** A window length, rounded up to a sub-block end when aligned, within the caps. */
    const windowOf = (n: number) =>
      Math.min(plan.align ? Math.ceil((L + n) / S) * S - L : n, plan.max, maxLen);
    let k = windowOf(plan.initial);
    if (k <= 0) return { tokens: [], passes: 0 };
    const spentFrom = time.drafter;
    let blockStart = Math.floor(L / B) * B;
    let passes = await this.syncCache(context, blockStart, time);

    // Decisions about positions L.. (index p - L): token and confidence; -1 = undecided.
    const tokens: number[] = [];
    const confs: number[] = [];
    const decide = (p: number, token: number, conf: number) => {
      tokens[p - L] = token;
      confs[p - L] = conf;
      block[p - blockStart] = token;
    };
    // The current block window: context tokens, decided draft tokens, masks.
    let block = new Int32Array(B).fill(maskId);
    for (let p = blockStart; p < L; p++) block[p - blockStart] = context[p];
    if (L === blockStart) decide(L, this.boundary!.token, this.boundary!.conf);

    /** First undecided position in [L, L + k), or -1. */
    const firstUndecided = () => {
      for (let i = 0; i < k; i++) if (tokens[i] === undefined) return L + i;
      return -1;
    };
    /** Length of the draft if it ends at an EOS with everything before it decided. */
    const eosEnd = (): number => {
      for (let i = 0; i < k; i++) {
        if (tokens[i] === undefined) return -1;
        if (this.eos.has(tokens[i])) return i + 1;
      }
      return -1;
    };

    while (true) {
      const stopAt = eosEnd();
      if (stopAt >= 0) {
        return { tokens: tokens.slice(0, stopAt), confidences: confs.slice(0, stopAt), passes };
      }
      const q = firstUndecided();
      if (q < 0) {
        // The window is committed: Algorithm 1's decision (or the fixed length is reached).
        const cap = Math.min(plan.max, maxLen);
        if (plan.extend) {
          // The controller's window takes in, for free, what the last pass decided past it; it
          // is asked only when going on takes another pass (two where a block must be
          // completed first), so no pass is paid before the draft so far says it pays.
          while (k < cap && tokens[k] !== undefined) k++;
          if (eosEnd() >= 0) continue; // the draft ends at an EOS (returned above)
          if (k >= cap || plan.step <= 0) break;
          const t0 = performance.now();
          const next = L + k;
          const blockEnds = next >= blockStart + B;
          const more = plan.extend(
            confs.slice(0, k),
            time.drafter - spentFrom,
            blockEnds
              ? { passes: 2, tokens: 1 + S } // the completion pass's token, then a sub-block
              : { passes: 1, tokens: Math.min(S, blockStart + B - next) },
          );
          time.policy += performance.now() - t0;
          if (!more) break;
          k = windowOf(k + (blockEnds ? 2 : 1)); // what the pass decides past that comes free
          continue;
        }
        if (k >= cap || plan.step <= 0) break;
        if (plan.tau === null) break;
        const t0 = performance.now();
        const windowConfs = confs.slice(0, k);
        const decision = this.policy.windowDecision(windowConfs, plan.tau, plan.max);
        if (decision === "fail-fast" && plan.trim) {
          k = this.policy.firstBelow(windowConfs, plan.tau);
        }
        time.policy += performance.now() - t0;
        if (decision !== "extend") break;
        k = windowOf(k + plan.step);
        continue;
      }
      if (q >= blockStart + B) {
        // The block is complete: write it to the cache; its last row gives the next block's
        // first token.
        await this.commitBlocks(block, blockStart + B, time);
        passes++;
        blockStart += B;
        block = new Int32Array(B).fill(maskId);
        decide(blockStart, this.boundary!.token, this.boundary!.conf);
        continue;
      }
      // Denoise the sub-block holding q (or starting at q) until it has no mask left.
      const sbStart = plan.slide ? q : blockStart + Math.floor((q - blockStart) / S) * S;
      const first = Math.max(sbStart, blockStart + 1); // the block's first position is never masked here
      const sbEnd = Math.min(sbStart + S, blockStart + B);
      while (true) {
        const masked: boolean[] = [];
        for (let p = first; p < sbEnd; p++) masked.push(block[p - blockStart] === maskId);
        if (!masked.some(Boolean)) break;
        // Row of position p is p - 1 - blockStart (token shift).
        const window = this.toSubBlockEnd ? block.subarray(0, sbEnd - blockStart) : block;
        const r = await this.denoise(window, first - 1 - blockStart, sbEnd - 1 - blockStart, time);
        passes++;
        const t0 = performance.now();
        const u = this.policy.unmask(r.logits, r.vocab, masked, maskId, plan.threshold);
        time.policy += performance.now() - t0;
        for (let i = 0; i < masked.length; i++) {
          if (u.commit[i]) decide(first + i, u.tokens[i], u.confidences[i]);
        }
      }
    }
    return { tokens: tokens.slice(0, k), confidences: confs.slice(0, k), passes };
  }

  onVerified(validPrefix: number): void {
    const keep = Math.floor(validPrefix / this.B) * this.B;
    if (this.cache.length > keep) this.session.truncate(this.cache, keep);
  }

  release(): void {
    this.session.release(this.cache);
  }
}
