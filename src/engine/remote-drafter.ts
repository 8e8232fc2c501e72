/**
 * The engine's side of a drafter that runs on a model server: one call per draft, carrying the
 * context the server has not seen yet and, when the controller decides extensions, its rule for
 * this round (draft-controller.ts ExtensionRule). The server builds the drafter from the same
 * spec (drafter-spec.ts), so its draft is the local one's.
 *
 * Fused rounds: the drafter asks the verify pass to draft the next round on the server right
 * after its verdict (ahead()); the next propose() then takes that draft without a call of its
 * own, and a round costs one round trip instead of two.
 */

import type { DraftAhead, DraftReply, DraftSessionHandle } from "../runtime/types.ts";
import type { DraftController, ExtensionRule } from "./draft-controller.ts";
import type { Draft, Drafter } from "./drafter.ts";
import type { TimeBuckets } from "./stats.ts";

/** The rule as it travels: its numbers to a precision that changes no decision that matters. */
function compact(rule: ExtensionRule | null): ExtensionRule | null {
  if (!rule) return null;
  const round = (x: number, step: number) => Math.round(x / step) * step;
  return {
    ...rule,
    acceptance: rule.acceptance.map((p) => round(p, 1e-3)),
    verifyMs: rule.verifyMs.map((ms) => round(ms, 1e-2)),
  };
}

export class RemoteDrafter implements Drafter {
  /** Context tokens the server holds (a prefix of every later context). */
  private sent = 0;
  private verified: number | null = null;
  /** A draft the server made ahead, for the context of length `from`. */
  private early: { reply: DraftReply; from: number } | null = null;
  /** The cut the server made before drafting ahead (the round's own, not to be sent again). */
  private applied: number | null = null;

  constructor(
    private readonly session: DraftSessionHandle,
    private readonly controller: DraftController | null,
    /** Tokens one drafter pass drafts, for the extension rule. */
    private readonly step: number,
    /** The drafter's own cap on a draft (its spec's). */
    private readonly maxDraft: number,
  ) {}

  private rule(maxLen: number): ExtensionRule | null {
    return compact(this.controller?.extensionRule(this.step, maxLen) ?? null);
  }

  async propose(context: readonly number[], maxLen: number, time: TimeBuckets): Promise<Draft> {
    const early = this.early;
    this.early = null;
    if (early && early.from === context.length) {
      // the server's passes ran inside the last verify call, which did not count them
      time.drafter += early.reply.drafterMs;
      time.policy += early.reply.policyMs;
      const { tokens, confidences, passes } = early.reply;
      return {
        tokens: tokens.slice(0, maxLen),
        confidences: confidences.slice(0, maxLen),
        passes,
        callMs: 0, // no call of its own: it came with the verdict
      };
    }
    const reply = await this.session.draft({
      append: context.slice(this.sent),
      from: this.sent,
      verified: this.verified,
      maxLen,
      rule: this.rule(Math.min(maxLen, this.maxDraft)),
    });
    this.sent = context.length;
    this.verified = null;
    // the round trip counts as drafter time: it is what drafting costs this engine
    time.drafter += reply.wallMs - reply.policyMs;
    time.policy += reply.policyMs;
    return {
      tokens: reply.tokens,
      confidences: reply.confidences,
      passes: reply.passes,
      callMs: Math.max(0, reply.wallMs - reply.drafterMs - reply.policyMs),
    };
  }

  ahead(budget: number, cap = Number.MAX_SAFE_INTEGER): DraftAhead | null {
    if (this.verified !== null) return null; // a cut not yet sent: the server is out of step
    return {
      session: this.session,
      cap,
      maxLen: this.maxDraft,
      budget,
      rule: this.rule(this.maxDraft),
      onDraft: (reply, from, verified) => {
        this.early = { reply, from };
        this.applied = verified;
        this.sent = from; // the server appended the verdict's tokens
      },
    };
  }

  onVerified(validPrefix: number): void {
    const applied = this.applied;
    this.applied = null;
    // the round that drafted ahead: the server made this cut before drafting
    if (applied !== null && validPrefix >= applied) return;
    // any other cut also drops a draft made ahead (the server's drafter must forget it)
    this.early = null;
    // cuts compose to the shortest one, so several before the next call travel as one
    this.verified = Math.min(this.verified ?? Infinity, validPrefix);
  }

  release(): void {
    this.session.release();
  }
}
