/**
 * Per-round and per-request statistics of speculative decoding (FAILFAST.md section 5).
 * Mean accepted length counts the verifier's own token too (accepted + 1 per round), the
 * convention vLLM uses.
 */

import type { Strategy } from "../params.ts";
import type { DraftSource } from "./draft-merge.ts";
import type { GenerationStats, RoundStats, SourceCounts } from "./types.ts";

export function emptySourceCounts(): SourceCounts {
  return { drafter: 0, context: 0, history: 0 };
}

/** Counts of the first `n` tokens of a draft by source (tokens without a source: the drafter's). */
export function countBySource(
  sources: readonly DraftSource[] | undefined,
  length: number,
  n: number,
): SourceCounts {
  const c = emptySourceCounts();
  for (let i = 0; i < Math.min(n, length); i++) c[sources?.[i] ?? "drafter"]++;
  return c;
}

/** Adds `b` into `a`. */
export function addSourceCounts(a: SourceCounts, b: SourceCounts): void {
  a.drafter += b.drafter;
  a.context += b.context;
  a.history += b.history;
}

/** Where time goes inside a request. */
export interface TimeBuckets {
  prefill: number;
  drafter: number;
  verifier: number;
  policy: number;
}

export function newTimeBuckets(): TimeBuckets {
  return { prefill: 0, drafter: 0, verifier: 0, policy: 0 };
}

export class StatsCollector {
  readonly rounds: RoundStats[] = [];
  readonly time = newTimeBuckets();
  private readonly started = performance.now();

  constructor(readonly strategy: Strategy, readonly promptTokens: number) {}

  addRound(round: RoundStats): void {
    this.rounds.push(round);
  }

  /** Summary of the request so far; `completionTokens` is what was actually emitted. */
  summary(completionTokens: number): GenerationStats {
    const rounds = this.rounds.length;
    let drafted = 0, accepted = 0, maxAccepted = 0, drafterPasses = 0, verifierPasses = 0;
    const counts: number[] = [];
    const draftLengths: number[] = [];
    const byDraftLength: Record<number, number[]> = {};
    const draftedBySource = emptySourceCounts();
    const acceptedBySource = emptySourceCounts();
    for (const r of this.rounds) {
      addSourceCounts(draftedBySource, r.draftedBySource);
      addSourceCounts(acceptedBySource, r.acceptedBySource);
      while (draftLengths.length <= r.drafted) draftLengths.push(0);
      draftLengths[r.drafted]++;
      if (r.drafted > 0) {
        const row = byDraftLength[r.drafted] ??= new Array(r.drafted + 1).fill(0);
        row[Math.min(r.accepted, r.drafted)]++;
      }
      drafted += r.drafted;
      accepted += r.accepted;
      maxAccepted = Math.max(maxAccepted, r.accepted);
      drafterPasses += r.drafterPasses;
      verifierPasses += r.verifierPasses;
      const emitted = r.accepted + 1;
      while (counts.length <= emitted) counts.push(0);
      counts[emitted]++;
    }
    const total = performance.now() - this.started;
    const { prefill, drafter, verifier, policy } = this.time;
    return {
      strategy: this.strategy,
      promptTokens: this.promptTokens,
      completionTokens,
      rounds,
      draftedTokens: drafted,
      acceptedTokens: accepted,
      meanAcceptedLength: rounds ? (accepted + rounds) / rounds : 0,
      acceptanceRate: drafted ? accepted / drafted : 0,
      maxAccepted,
      drafterPassesPerRound: rounds ? drafterPasses / rounds : 0,
      drafterPasses,
      verifierPasses,
      acceptedLengthCounts: counts,
      draftedBySource,
      acceptedBySource,
      draftLengthCounts: draftLengths,
      acceptedByDraftLength: byDraftLength,
      timeMs: {
        total,
        prefill,
        drafter,
        verifier,
        policy,
        other: Math.max(0, total - prefill - drafter - verifier - policy),
      },
    };
  }
}
