/**
 * A request's drafting policy: which source drafts each round and how far. It wraps the model
 * drafter of the strategy (or none: the `lookup` strategy) and, when lookup is on, a context
 * lookup (this request's text, and earlier outputs in its scope).
 *
 * Two ways to decide:
 * - fixed: the model drafter's own plan (FailFast's tau, N0, N, N_max, or a fixed k), merged with
 *   the lookup by draft-merge.ts's rule;
 * - cost (draft-controller.ts): each option is priced (a plain step, the lookup alone, the
 *   drafter's draft, the two merged) from measured pass costs and live acceptance, and the round
 *   takes the one with the best expected rate, cut at its best length.
 *
 * The model drafter's cache holds its own tokens, which the proposed draft may have replaced: it
 * is told only the part of the verified prefix that its own draft agreed with.
 */

import type { DraftAhead } from "../runtime/types.ts";
import type { TokenSignal } from "./acceptance-model.ts";
import { ContextLookup, type LookupCandidate } from "./context-lookup.ts";
import { beats, type DraftController, type LengthChoice } from "./draft-controller.ts";
import type { Draft, Drafter } from "./drafter.ts";
import {
  chooseCandidate,
  type DraftSource,
  lookupDraftsAlone,
  mergeDrafts,
  type MergeRule,
  type SourcedDraft,
} from "./draft-merge.ts";
import type { LookupHistory } from "./lookup-history.ts";
import type { TimeBuckets } from "./stats.ts";

/** Earlier outputs to draft from, and the scope this request may see. */
export interface HistoryAccess {
  store: LookupHistory;
  scope: string;
}

/** How many leading tokens of the proposed draft are the model drafter's own. */
function agreement(p: Proposal): number {
  let agree = 0;
  while (agree < p.own.length && p.own[agree] === p.proposed[agree]) agree++;
  return agree;
}

/** What the policy knows of the round it proposed, to learn from its verdict. */
interface Proposal {
  at: number;
  /** The model drafter's own tokens (empty if it did not run). */
  own: number[];
  proposed: number[];
  signals: TokenSignal[];
  /** Drafter time spent this round (ms); null if the drafter did not run. */
  drafterMs: number | null;
}

export class PolicyDrafter implements Drafter {
  private readonly context: ContextLookup | null;
  private readonly history: HistoryAccess | null;
  private readonly controller: DraftController | null;
  private last: Proposal | null = null;

  constructor(
    /** The model drafter whose draft is merged; null: lookup alone. */
    private readonly inner: Drafter | null,
    private readonly rule: MergeRule,
    options: {
      /** Draft from a context lookup (null: no lookup). */
      lookupKeyLength: number | null;
      history: HistoryAccess | null;
      /** null: the fixed rule. */
      controller: DraftController | null;
    },
  ) {
    this.context = options.lookupKeyLength === null
      ? null
      : new ContextLookup(options.lookupKeyLength);
    this.history = options.lookupKeyLength === null ? null : options.history;
    this.controller = options.controller;
  }

  private lookup(context: readonly number[], maxLen: number, time: TimeBuckets) {
    if (!this.context) return null;
    const t0 = performance.now();
    const want = Math.min(maxLen, this.rule.maxLookup);
    const candidate = chooseCandidate(
      this.context.lookup(context, want),
      this.history?.store.lookup(this.history.scope, context, want) ?? null,
      this.rule,
    );
    time.policy += performance.now() - t0;
    return candidate;
  }

  async propose(context: readonly number[], maxLen: number, time: TimeBuckets): Promise<Draft> {
    const candidate = this.lookup(context, maxLen, time);
    const drafted = this.controller
      ? await this.proposeByCost(context, maxLen, candidate, time)
      : await this.proposeByRule(context, maxLen, candidate, time);
    const { draft, own, drafterMs } = drafted;
    this.last = {
      at: context.length,
      own: own.tokens,
      proposed: draft.tokens,
      // only the controller learns from the verdict
      signals: this.controller ? signalsOf(draft, own, candidate) : [],
      drafterMs,
    };
    return {
      tokens: draft.tokens,
      passes: own.passes,
      sources: draft.sources,
      callMs: own.callMs,
    };
  }

  /** The fixed rule: the drafter's own plan, merged with the lookup by draft-merge.ts. */
  private async proposeByRule(
    context: readonly number[],
    maxLen: number,
    candidate: LookupCandidate | null,
    time: TimeBuckets,
  ) {
    let own: Draft = { tokens: [], confidences: [], passes: 0 };
    let drafterMs: number | null = null;
    if (this.inner && !lookupDraftsAlone(candidate, this.rule)) {
      const d0 = time.drafter;
      own = await this.inner.propose(context, maxLen, time);
      drafterMs = time.drafter - d0;
    }
    const t1 = performance.now();
    const draft = mergeDrafts(
      withConfidences(own),
      candidate,
      this.rule,
      maxLen,
    );
    time.policy += performance.now() - t1;
    return { draft, own, drafterMs };
  }

  /** The controller: every option priced, the best expected rate taken. */
  private async proposeByCost(
    context: readonly number[],
    maxLen: number,
    candidate: LookupCandidate | null,
    time: TimeBuckets,
  ) {
    const ctl = this.controller!;
    const none: Draft = { tokens: [], confidences: [], passes: 0 };
    const t0 = performance.now();
    const lookupDraft = candidate ? lookupOnly(candidate, this.rule, maxLen) : null;
    const lookupChoice = lookupDraft
      ? ctl.choose(signalsOf(lookupDraft, none, candidate), 0, false)
      : null;
    const plain = ctl.plainRate();
    const alternative = Math.max(plain, lookupChoice?.rate ?? 0);
    const runDrafter = ctl.runDrafter(alternative);
    time.policy += performance.now() - t0;
    if (!runDrafter || !this.inner) {
      const useLookup = lookupDraft && lookupChoice && lookupChoice.k > 0 &&
        beats(lookupChoice.rate, plain);
      const draft = useLookup ? cut(lookupDraft, lookupChoice.k) : { tokens: [], sources: [] };
      return { draft, own: none, drafterMs: null };
    }
    const d0 = time.drafter;
    const own = await this.inner.propose(context, maxLen, time);
    const spent = time.drafter - d0;
    const t1 = performance.now();
    const options: { draft: SourcedDraft; choice: LengthChoice }[] = [];
    const consider = (draft: SourcedDraft) =>
      options.push({ draft, choice: ctl.choose(signalsOf(draft, own, candidate), spent, true) });
    consider({ tokens: own.tokens, sources: own.tokens.map(() => "drafter") });
    if (candidate) {
      consider(mergeDrafts(
        withConfidences(own),
        candidate,
        { ...this.rule, overrideBelow: 0 },
        maxLen,
      ));
      consider(lookupDraft!);
    }
    const best = options.reduce((a, b) => (b.choice.rate > a.choice.rate ? b : a));
    time.policy += performance.now() - t1;
    return { draft: cut(best.draft, best.choice.k), own, drafterMs: spent };
  }

  /** Drafts the next round ahead on the model server, when the drafter ran this round. */
  ahead(budget: number): DraftAhead | null {
    const p = this.last;
    if (!this.inner?.ahead || !p || p.drafterMs === null) return null;
    return this.inner.ahead(budget, p.at + agreement(p));
  }

  onVerified(validPrefix: number): void {
    const p = this.last;
    if (!p) return;
    const accepted = validPrefix - p.at;
    if (this.controller) {
      this.controller.model.observe(p.signals, accepted);
      if (p.drafterMs !== null) {
        const c = this.controller.costs;
        const ms = p.drafterMs + c.verifyMs(p.proposed.length + 1, true) + c.roundMs();
        this.controller.observeDrafterRound(accepted + 1, ms);
      }
    }
    if (!this.inner) return;
    this.inner.onVerified(Math.min(validPrefix, p.at + agreement(p)));
  }

  release(): void {
    this.controller?.finish();
    this.inner?.release();
  }
}

/** A drafter's draft with its confidences (1 where a drafter gives none). */
function withConfidences(d: Draft): { tokens: number[]; confidences: readonly number[] } {
  return { tokens: d.tokens, confidences: d.confidences ?? d.tokens.map(() => 1) };
}

/** The lookup's continuation alone, at its rule's length. */
function lookupOnly(c: LookupCandidate, rule: MergeRule, maxLen: number): SourcedDraft {
  return mergeDrafts({ tokens: [], confidences: [] }, c, rule, maxLen);
}

/** The first `k` tokens of a draft. */
function cut(d: SourcedDraft, k: number): SourcedDraft {
  return { tokens: d.tokens.slice(0, k), sources: d.sources.slice(0, k) };
}

/** What the acceptance model knows of each token of a draft. */
function signalsOf(
  draft: SourcedDraft,
  own: Draft,
  candidate: LookupCandidate | null,
): TokenSignal[] {
  return draft.tokens.map((t, i) => {
    const source: DraftSource = draft.sources[i] ?? "drafter";
    if (source === "drafter") {
      return { source, confidence: own.tokens[i] === t ? own.confidences?.[i] ?? 0.5 : 0.5 };
    }
    return { source, matchLength: candidate?.matchLength ?? 2 };
  });
}
