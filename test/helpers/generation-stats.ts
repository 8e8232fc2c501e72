/**
 * One generation's statistics, consistent with each other, for the tests of what the server
 * makes of them (usage, metrics): 4 rounds emitting 1 (a plain step), 1, 3 and 4 tokens, from
 * drafts of 0, 2, 4 and 4 tokens.
 */
import type { GenerationStats } from "../../src/engine/types.ts";

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
  drafterPassesPerRound: 2 / 4,
  drafterPasses: 2,
  verifierPasses: 4,
  acceptedLengthCounts: [0, 2, 0, 1, 1],
  draftedBySource: { drafter: 7, context: 3, history: 0 },
  acceptedBySource: { drafter: 2, context: 3, history: 0 },
  draftLengthCounts: [1, 0, 1, 0, 2],
  acceptedByDraftLength: { 2: [1, 0, 0], 4: [0, 0, 1, 1, 0] },
  timeMs: { total: 10.12345, prefill: 1, drafter: 2, verifier: 6, policy: 0.5, other: 0.62345 },
};
