/**
 * One generation's statistics, for the tests of what the server makes of them (usage, metrics),
 * and the rounds they sum up (engine_stats_test.ts checks that they do): a plain step, a drafter
 * draft of 2 rejected at once, a draft of 2 lookup + 2 drafter tokens with the lookup's 2
 * accepted, and one of 1 lookup + 3 drafter tokens with 3 accepted.
 */
import type { GenerationStats, RoundStats } from "../../src/engine/types.ts";

const by = (drafter: number, context: number) => ({ drafter, context, history: 0 });
const round = (drafted: number, accepted: number, d: [number, number], a: [number, number]) => ({
  drafted,
  accepted,
  drafterPasses: drafted > 0 ? 1 : 0,
  verifierPasses: 1,
  drafterMs: 0,
  verifierMs: 0,
  policyMs: 0,
  draftedBySource: by(...d),
  acceptedBySource: by(...a),
});

export const sampleRounds: RoundStats[] = [
  round(0, 0, [0, 0], [0, 0]),
  round(2, 0, [2, 0], [0, 0]),
  round(4, 2, [2, 2], [0, 2]),
  round(4, 3, [3, 1], [2, 1]),
];

export const sampleStats: GenerationStats = {
  strategy: "failfast",
  promptTokens: 12,
  completionTokens: 9,
  rounds: 4,
  draftedTokens: 10,
  acceptedTokens: 5,
  meanAcceptedLength: 9 / 4,
  acceptanceRate: 5 / 10,
  maxAccepted: 3,
  drafterPassesPerRound: 3 / 4,
  drafterPasses: 3,
  verifierPasses: 4,
  acceptedLengthCounts: [0, 2, 0, 1, 1],
  draftedBySource: { drafter: 7, context: 3, history: 0 },
  acceptedBySource: { drafter: 2, context: 3, history: 0 },
  draftLengthCounts: [1, 0, 1, 0, 2],
  acceptedByDraftLength: { 2: [1, 0, 0], 4: [0, 0, 1, 1, 0] },
  timeMs: { total: 10.12345, prefill: 1, drafter: 2, verifier: 6, policy: 0.5, other: 0.62345 },
};
