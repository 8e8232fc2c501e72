/**
 * OpenAI response shapes built from engine events: non-streaming `chat.completion` /
 * `text_completion` objects, streaming chunks, and the usage object with its extension field
 * `usage.speculative` (FailFast statistics, like vLLM's speculative-decoding metrics).
 *
 * Extension on streaming content chunks: `choices[0].failfast = {drafted, accepted_draft,
 * accepted_lookup, tokens}` describes the speculation round that produced the delta (draft
 * length proposed, draft tokens accepted, of those the ones a lookup drafted, tokens the delta
 * covers).
 */
import type { Endpoint } from "./openai-schema.ts";
import type {
  FinishReason,
  GenerateEvent,
  GenerationStats,
  SourceCounts,
} from "../engine/types.ts";

/** `usage.speculative`: statistics of one request's speculative decoding. */
export interface SpeculativeUsage {
  strategy: string;
  rounds: number;
  /** Mean tokens emitted per round (accepted + 1). */
  mean_accepted_length: number;
  /** Accepted draft tokens / drafted tokens. */
  acceptance_rate: number;
  max_accepted: number;
  drafted_tokens: number;
  accepted_tokens: number;
  drafter_passes: number;
  drafter_passes_per_round: number;
  verifier_passes: number;
  /** accepted_length_counts[n] = rounds that emitted n tokens. */
  accepted_length_counts: number[];
  /** Draft tokens proposed and accepted by the source that drafted them. */
  drafted_by_source: SourceCounts;
  accepted_by_source: SourceCounts;
  /** draft_length_counts[k] = rounds that proposed k draft tokens (0: a plain decoding step). */
  draft_length_counts: number[];
  /** accepted_by_draft_length[k][a] = rounds that proposed k tokens and had a accepted. */
  accepted_by_draft_length: Record<number, number[]>;
  time_ms: GenerationStats["timeMs"];
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  speculative: SpeculativeUsage;
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** The usage object, speculative statistics included. */
export function usageOf(stats: GenerationStats): Usage {
  return {
    prompt_tokens: stats.promptTokens,
    completion_tokens: stats.completionTokens,
    total_tokens: stats.promptTokens + stats.completionTokens,
    speculative: {
      strategy: stats.strategy,
      rounds: stats.rounds,
      mean_accepted_length: round3(stats.meanAcceptedLength),
      acceptance_rate: round3(stats.acceptanceRate),
      max_accepted: stats.maxAccepted,
      drafted_tokens: stats.draftedTokens,
      accepted_tokens: stats.acceptedTokens,
      drafter_passes: stats.drafterPasses,
      drafter_passes_per_round: round3(stats.drafterPassesPerRound),
      verifier_passes: stats.verifierPasses,
      accepted_length_counts: stats.acceptedLengthCounts.map((c) => c ?? 0),
      drafted_by_source: { ...stats.draftedBySource },
      accepted_by_source: { ...stats.acceptedBySource },
      draft_length_counts: stats.draftLengthCounts.map((c) => c ?? 0),
      accepted_by_draft_length: stats.acceptedByDraftLength,
      time_ms: Object.fromEntries(
        Object.entries(stats.timeMs).map(([k, v]) => [k, round3(v)]),
      ) as GenerationStats["timeMs"],
    },
  };
}

/** OpenAI's finish_reason for an engine's (a cancelled generation reports "stop"). */
export function finishReasonOf(reason: FinishReason): "stop" | "length" {
  return reason === "length" ? "length" : "stop";
}

/** Identity shared by every object of one response. */
export interface ResponseMeta {
  endpoint: Endpoint;
  id: string;
  created: number;
  model: string;
}

/** A new response id (`chatcmpl-...` or `cmpl-...`). */
export function newResponseId(endpoint: Endpoint): string {
  const hex = crypto.randomUUID().replaceAll("-", "").slice(0, 24);
  return `${endpoint === "chat" ? "chatcmpl" : "cmpl"}-${hex}`;
}

/** The non-streaming response body. */
export function completionBody(
  meta: ResponseMeta,
  text: string,
  finish: FinishReason,
  usage: Usage,
): Record<string, unknown> {
  const finish_reason = finishReasonOf(finish);
  const choice = meta.endpoint === "chat"
    ? {
      index: 0,
      message: { role: "assistant", content: text, refusal: null },
      logprobs: null,
      finish_reason,
    }
    : { index: 0, text, logprobs: null, finish_reason };
  return {
    id: meta.id,
    object: meta.endpoint === "chat" ? "chat.completion" : "text_completion",
    created: meta.created,
    model: meta.model,
    choices: [choice],
    usage,
  };
}

function chunk(meta: ResponseMeta, choices: unknown[], extra: Record<string, unknown> = {}) {
  return {
    id: meta.id,
    object: meta.endpoint === "chat" ? "chat.completion.chunk" : "text_completion",
    created: meta.created,
    model: meta.model,
    choices,
    ...extra,
  };
}

/** Streaming chunks: the opening one (chat only: the assistant role), deltas, finish, usage. */
export const chunks = {
  /** Chat streams open with the role; completion streams need no opening chunk. */
  opening(meta: ResponseMeta, includeUsage: boolean): Record<string, unknown> | null {
    if (meta.endpoint !== "chat") return null;
    return chunk(
      meta,
      [{
        index: 0,
        delta: { role: "assistant", content: "" },
        logprobs: null,
        finish_reason: null,
      }],
      includeUsage ? { usage: null } : {},
    );
  },

  delta(
    meta: ResponseMeta,
    ev: Extract<GenerateEvent, { type: "delta" }>,
    includeUsage: boolean,
  ): Record<string, unknown> {
    const failfast = {
      drafted: ev.drafted,
      accepted_draft: ev.acceptedDraft,
      accepted_lookup: ev.acceptedLookup,
      tokens: ev.tokens.length,
    };
    const choice = meta.endpoint === "chat"
      ? { index: 0, delta: { content: ev.text }, logprobs: null, finish_reason: null, failfast }
      : { index: 0, text: ev.text, logprobs: null, finish_reason: null, failfast };
    return chunk(meta, [choice], includeUsage ? { usage: null } : {});
  },

  finish(meta: ResponseMeta, reason: FinishReason, includeUsage: boolean) {
    const finish_reason = finishReasonOf(reason);
    const choice = meta.endpoint === "chat"
      ? { index: 0, delta: {}, logprobs: null, finish_reason }
      : { index: 0, text: "", logprobs: null, finish_reason };
    return chunk(meta, [choice], includeUsage ? { usage: null } : {});
  },

  /** The final chunk of `stream_options.include_usage`: no choices, the usage object. */
  usage(meta: ResponseMeta, usage: Usage): Record<string, unknown> {
    return chunk(meta, [], { usage });
  },
};
