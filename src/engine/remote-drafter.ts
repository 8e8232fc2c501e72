/**
 * The engine's side of a drafter that runs on a model server: one call per draft, carrying the
 * context the server has not seen yet and, when the controller decides extensions, its rule for
 * this round (draft-controller.ts ExtensionRule). The server builds the drafter from the same
 * spec (drafter-spec.ts), so its draft is the local one's.
 */

import type { DraftSessionHandle } from "../runtime/types.ts";
import type { DraftController } from "./draft-controller.ts";
import type { Draft, Drafter } from "./drafter.ts";
import type { TimeBuckets } from "./stats.ts";

export class RemoteDrafter implements Drafter {
  /** Context tokens the server holds (a prefix of every later context). */
  private sent = 0;
  private verified: number | null = null;

  constructor(
    private readonly session: DraftSessionHandle,
    private readonly controller: DraftController | null,
    /** Tokens one drafter pass drafts, for the extension rule. */
    private readonly step: number,
  ) {}

  async propose(context: readonly number[], maxLen: number, time: TimeBuckets): Promise<Draft> {
    const reply = await this.session.draft({
      append: context.slice(this.sent),
      from: this.sent,
      verified: this.verified,
      maxLen,
      rule: this.controller?.extensionRule(this.step, maxLen) ?? null,
    });
    this.sent = context.length;
    this.verified = null;
    // the round trip counts as drafter time: it is what drafting costs this engine
    time.drafter += reply.wallMs - reply.policyMs;
    time.policy += reply.policyMs;
    return { tokens: reply.tokens, confidences: reply.confidences, passes: reply.passes };
  }

  onVerified(validPrefix: number): void {
    // cuts compose to the shortest one, so several before the next call travel as one
    this.verified = Math.min(this.verified ?? Infinity, validPrefix);
  }

  release(): void {
    this.session.release();
  }
}
