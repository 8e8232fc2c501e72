/**
 * The engine's contract with its callers (server, CLI, benchmark): a request in, an async
 * iterable of events out. Nothing here knows HTTP or onnxruntime.
 */

import type { Controller, Strategy } from "../params.ts";
import type { ChatMessage } from "../model/tokenizer.ts";
import type { DraftSource } from "./draft-merge.ts";

export type { ChatMessage };

/** Token counts by the source that drafted them. */
export type SourceCounts = Record<DraftSource, number>;

/** Per-request strategy parameters; unset fields take the server's configured defaults. */
export interface StrategyParams {
  /** FailFast stop threshold tau. */
  tau?: number;
  /** FailFast first window length N0. */
  n0?: number;
  /** FailFast extension step N. */
  n?: number;
  /** FailFast cap on the draft length N_max. */
  nMax?: number;
  /** Drafter unmask threshold (failfast and dllm-fixed). */
  unmaskThreshold?: number;
  /** Fixed draft length k (dllm-fixed, ar-draft). */
  k?: number;
  /** ar-draft only: stop a draft early when a drafted token's probability is below this. */
  stopBelow?: number;
  /** Re-propose the rejected tail of the previous draft when it re-synchronises. */
  draftReuse?: boolean;
  /** FailFast: windows end on the drafter's sub-block boundaries (N0 and N rounded up). */
  alignWindows?: boolean;
  /** FailFast, dllm-fixed: a denoising pass decides the sub-block starting at the draft, not the grid's. */
  slideSubBlocks?: boolean;
  /** FailFast: a window that fails fast is proposed only up to its first token below tau. */
  trimLowConfidence?: boolean;
  /** failfast, dllm-fixed, ar-draft: merge a context lookup into the model's draft. */
  lookup?: boolean;
  /** Lookup tokens proposed at most (the `lookup` strategy's draft length, the merge's cap). */
  lookupMax?: number;
  /** failfast (default: configured), ar-draft and lookup (default fixed): how draft lengths are decided. */
  controller?: Controller;
}

/** A generation request. Exactly one of `prompt` and `messages` is set. */
export interface GenerateRequest {
  /** Raw text continued as is (completions API). */
  prompt?: string;
  /** Chat messages rendered with the verifier's chat template (chat completions API). */
  messages?: ChatMessage[];
  /** New tokens at most. */
  maxTokens: number;
  /** 0 = greedy (the default). */
  temperature?: number;
  topP?: number;
  /** 0 disables. */
  topK?: number;
  /** Seed of the sampling generator (a default one is used when unset). */
  seed?: number;
  /** Generation stops before the first occurrence of any of these strings. */
  stop?: string[];
  strategy?: Strategy;
  params?: StrategyParams;
  /**
   * Which earlier outputs this request may draft from, and add its own to (the server passes
   * one scope per API key). Unset: the shared default scope.
   */
  cacheScope?: string;
}

/** Statistics of one speculation round. */
export interface RoundStats {
  /** Draft length proposed (k). */
  drafted: number;
  /** Draft tokens accepted (a); the round emits a + 1 tokens (the verifier adds one). */
  accepted: number;
  /** Drafter forward passes spent on this round's draft. */
  drafterPasses: number;
  /** Verifier forward passes (1 per round). */
  verifierPasses: number;
  drafterMs: number;
  verifierMs: number;
  policyMs: number;
  /** Drafted and accepted tokens by the source that drafted them. */
  draftedBySource: SourceCounts;
  acceptedBySource: SourceCounts;
}

/** Statistics of a whole request. */
export interface GenerationStats {
  strategy: Strategy;
  promptTokens: number;
  completionTokens: number;
  rounds: number;
  /** Draft tokens proposed and accepted over all rounds. */
  draftedTokens: number;
  acceptedTokens: number;
  /** Mean tokens emitted per round (accepted + 1, vLLM's convention). */
  meanAcceptedLength: number;
  /** sum(accepted) / sum(drafted); 0 when nothing was drafted. */
  acceptanceRate: number;
  maxAccepted: number;
  drafterPassesPerRound: number;
  drafterPasses: number;
  verifierPasses: number;
  /** Histogram: acceptedLengthCounts[n] = rounds that emitted n tokens. */
  acceptedLengthCounts: number[];
  /** Drafted and accepted tokens by the source that drafted them (drafter, context, history). */
  draftedBySource: SourceCounts;
  acceptedBySource: SourceCounts;
  /** Histogram: draftLengthCounts[k] = rounds that proposed k draft tokens (0: a plain step). */
  draftLengthCounts: number[];
  /**
   * Accepted draft tokens by draft length: acceptedByDraftLength[k][a] = rounds that proposed k
   * tokens (k >= 1) and had a of them accepted.
   */
  acceptedByDraftLength: Record<number, number[]>;
  timeMs: {
    total: number;
    prefill: number;
    drafter: number;
    verifier: number;
    policy: number;
    other: number;
  };
}

/** Why generation ended (OpenAI's finish_reason). */
export type FinishReason = "stop" | "length" | "cancelled";

/** Events of a generation, in order: zero or more `delta`, then exactly one `done`. */
export type GenerateEvent =
  | {
    type: "delta";
    /** New text (never splits a UTF-8 character; stop strings are never emitted). */
    text: string;
    /** Token ids this delta covers. */
    tokens: number[];
    /** Of those, how many were accepted draft tokens of this round (the rest: the verifier's). */
    acceptedDraft: number;
    /** Draft length proposed in the round that produced this delta (0 for plain decoding). */
    drafted: number;
    /** Of the accepted draft tokens, how many a lookup (context or history) drafted. */
    acceptedLookup: number;
  }
  | {
    type: "done";
    finishReason: FinishReason;
    stats: GenerationStats;
  };

/**
 * What an engine takes from its deployment: the served name, the default strategy, the defaults
 * of every strategy parameter a request leaves out, and the lookup's settings. The deployment's
 * configuration (src/config.ts) has all of these among its keys.
 */
export interface EngineSettings {
  modelName: string;
  strategy: Strategy;
  controller: Controller;
  tau: number;
  n0: number;
  n: number;
  /** Longest draft; also the rows the controller's cost profile covers (nMax + 1). */
  nMax: number;
  unmaskThreshold: number;
  fixedK: number;
  fixedThreshold: number;
  arDraftK: number;
  draftReuse: boolean;
  alignWindows: boolean;
  slideSubBlocks: boolean;
  trimLowConfidence: boolean;
  lookup: boolean;
  lookupMax: number;
  lookupKeyLength: number;
  /** Tokens of earlier outputs the lookup keeps (0: none). */
  lookupHistoryTokens: number;
}

/** What the server and CLI call. */
export interface Engine {
  /** Served model id. */
  readonly modelName: string;
  /** Context window of the verifier, in tokens. */
  readonly contextLength: number;
  /** Token count of a request's prompt (after the chat template), to check limits up front. */
  countPromptTokens(request: GenerateRequest): number;
  /**
   * Streams a generation. Aborting `signal` stops it within one round and frees its caches;
   * the iterator then ends with a `done` event whose finishReason is "cancelled".
   * Throws InvalidRequestError for requests the engine cannot serve.
   */
  generate(request: GenerateRequest, signal?: AbortSignal): AsyncIterable<GenerateEvent>;
}
