/**
 * A deterministic, test-only `Engine`: no models, scripted rounds. Each round emits its accepted
 * draft tokens plus one verifier token as one delta (one word per token), so the server's
 * streaming, statistics and cancellation can be tested exactly. It honours the abort signal
 * between rounds (and during its optional per-round delay) and records what it saw.
 */
import type { Strategy } from "../../src/config.ts";
import { InvalidRequestError } from "../../src/errors.ts";
import type {
  Engine,
  FinishReason,
  GenerateEvent,
  GenerateRequest,
  GenerationStats,
} from "../../src/engine/types.ts";

/** One scripted speculation round: draft length and accepted draft tokens. */
export interface FakeRound {
  drafted: number;
  accepted: number;
}

export interface FakeEngineOptions {
  modelName?: string;
  contextLength?: number;
  /** Milliseconds each round takes (abortable); 0 by default. */
  roundDelayMs?: number;
  /** Rounds of a request (cycled); the default depends on the strategy. */
  rounds?: (request: GenerateRequest) => FakeRound[];
  /** Tokens after which a generation stops by itself ("stop"); 40 by default. */
  naturalLength?: number;
  /** Throw an Error after this many rounds (a runtime failure mid-stream). */
  failAfterRounds?: number;
}

const VOCAB = [
  "alpha",
  "beta",
  "gamma",
  "delta",
  "eps",
  "zeta",
  "eta",
  "theta",
  "iota",
  "kappa",
  "lambda",
  "mu",
];

/** FailFast-like rounds: short drafts that fail, long ones that win. */
export const DEFAULT_ROUNDS: FakeRound[] = [
  { drafted: 10, accepted: 9 },
  { drafted: 20, accepted: 14 },
  { drafted: 10, accepted: 0 },
  { drafted: 10, accepted: 2 },
  { drafted: 30, accepted: 30 },
];

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** The text of the request's prompt (what the fake "conditions" on). */
export function promptText(request: GenerateRequest): string {
  return request.prompt ??
    (request.messages ?? []).map((m) => `${m.role}: ${m.content}`).join("\n");
}

/** The fake's token `i` (a word with a leading space) for a request. */
export function fakeWord(request: GenerateRequest, i: number): string {
  const h = hash(`${promptText(request)}|${request.seed ?? 0}|${request.temperature ?? 0}`);
  return " " + VOCAB[(h + i * 7) % VOCAB.length];
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** The deterministic fake engine. */
export class FakeEngine implements Engine {
  readonly modelName: string;
  readonly contextLength: number;
  /** Every request passed to generate, in order. */
  readonly requests: GenerateRequest[] = [];
  /** Generations that ended because their signal aborted. */
  cancelled = 0;
  /** Generations that ended normally. */
  completed = 0;
  /** Generations running now, and the most at once. */
  active = 0;
  maxActive = 0;
  #waiters: (() => void)[] = [];

  constructor(readonly options: FakeEngineOptions = {}) {
    this.modelName = options.modelName ?? "tiny-gsm";
    this.contextLength = options.contextLength ?? 512;
  }

  /** One token per whitespace-separated word, plus 3 per chat message (template overhead). */
  countPromptTokens(request: GenerateRequest): number {
    const words = (s: string) => s.split(/\s+/).filter(Boolean).length;
    if (request.prompt !== undefined) return Math.max(1, words(request.prompt));
    return (request.messages ?? []).reduce((n, m) => n + 3 + words(m.content), 0);
  }

  /** Resolves when some generation has finished (cancelled or not) after this call. */
  nextFinish(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** The full output the fake produces for a request with no abort (what a solo run returns). */
  expectedText(request: GenerateRequest): string {
    const n = Math.min(request.maxTokens, this.options.naturalLength ?? 40);
    let text = "";
    for (let i = 0; i < n; i++) text += fakeWord(request, i);
    for (const s of request.stop ?? []) {
      const at = text.indexOf(s);
      if (at >= 0) text = text.slice(0, at);
    }
    return text;
  }

  generate(request: GenerateRequest, signal?: AbortSignal): AsyncIterable<GenerateEvent> {
    if (request.prompt === undefined && !request.messages?.length) {
      throw new InvalidRequestError("empty request", "messages");
    }
    this.requests.push(request);
    return this.#run(request, signal);
  }

  async *#run(request: GenerateRequest, signal?: AbortSignal): AsyncGenerator<GenerateEvent> {
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    const strategy: Strategy = request.strategy ?? "failfast";
    const script = this.options.rounds?.(request) ??
      (strategy === "ar" ? [{ drafted: 0, accepted: 0 }] : DEFAULT_ROUNDS);
    const limit = Math.min(request.maxTokens, this.options.naturalLength ?? 40);
    const counts: number[] = [];
    const byDraftLength: Record<number, number[]> = {};
    let emitted = 0;
    let text = "";
    let rounds = 0;
    let drafted = 0;
    let accepted = 0;
    let maxAccepted = 0;
    let finishReason: FinishReason = "stop";
    const start = performance.now();
    try {
      for (;;) {
        if (signal?.aborted) {
          finishReason = "cancelled";
          break;
        }
        if (emitted >= limit) {
          finishReason = emitted >= request.maxTokens ? "length" : "stop";
          break;
        }
        if (this.options.failAfterRounds !== undefined && rounds >= this.options.failAfterRounds) {
          throw new Error("fake engine failure");
        }
        await sleep(this.options.roundDelayMs ?? 0, signal);
        if (signal?.aborted) {
          finishReason = "cancelled";
          break;
        }
        const r = script[rounds % script.length];
        const n = Math.min(r.accepted + 1, limit - emitted);
        const acceptedDraft = Math.min(r.accepted, n - 1);
        const tokens: number[] = [];
        let delta = "";
        for (let i = 0; i < n; i++) {
          tokens.push(hash(fakeWord(request, emitted + i)) % 1000);
          delta += fakeWord(request, emitted + i);
        }
        rounds++;
        drafted += r.drafted;
        accepted += acceptedDraft;
        maxAccepted = Math.max(maxAccepted, acceptedDraft);
        counts[n] = (counts[n] ?? 0) + 1;
        if (r.drafted > 0) {
          const row = byDraftLength[r.drafted] ??= new Array(r.drafted + 1).fill(0);
          row[Math.min(acceptedDraft, r.drafted)]++;
        }
        emitted += n;
        let stopped = false;
        for (const s of request.stop ?? []) {
          const at = (text + delta).indexOf(s);
          if (at >= 0) {
            delta = (text + delta).slice(text.length, Math.max(text.length, at));
            stopped = true;
          }
        }
        text += delta;
        if (delta) {
          yield {
            type: "delta",
            text: delta,
            tokens,
            acceptedDraft,
            drafted: r.drafted,
            acceptedLookup: 0,
          };
        }
        if (stopped) {
          finishReason = "stop";
          break;
        }
      }
      const total = performance.now() - start;
      const stats: GenerationStats = {
        strategy,
        promptTokens: this.countPromptTokens(request),
        completionTokens: emitted,
        rounds,
        draftedTokens: drafted,
        acceptedTokens: accepted,
        meanAcceptedLength: rounds ? emitted / rounds : 0,
        acceptanceRate: drafted ? accepted / drafted : 0,
        maxAccepted,
        drafterPassesPerRound: strategy === "ar" ? 0 : 1,
        drafterPasses: strategy === "ar" ? 0 : rounds,
        verifierPasses: rounds,
        acceptedLengthCounts: Array.from({ length: counts.length }, (_, i) => counts[i] ?? 0),
        draftedBySource: { drafter: drafted, context: 0, history: 0 },
        acceptedBySource: { drafter: accepted, context: 0, history: 0 },
        draftLengthCounts: [],
        acceptedByDraftLength: byDraftLength,
        timeMs: { total, prefill: 0, drafter: 0, verifier: 0, policy: 0, other: total },
      };
      if (finishReason === "cancelled") this.cancelled++;
      else this.completed++;
      yield { type: "done", finishReason, stats };
    } finally {
      this.active--;
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const w of waiters) w();
    }
  }
}
