/**
 * The decoding engine: turns a request into a stream of text deltas using one of five
 * strategies over the same verifier (FAILFAST.md section 5):
 *   ar          plain decoding, one verifier pass per token
 *   dllm-fixed  block-diffusion drafter, fixed draft length, unmask threshold 0.9
 *   ar-draft    small AR drafter, fixed draft length (optionally stopping on low confidence)
 *   failfast    block-diffusion drafter with FailFast's dynamic draft length (Algorithm 1)
 *   lookup      prompt lookup decoding: drafts only where the text repeats, no model
 * The three model-drafting strategies may merge a context lookup into their drafts (`lookup`
 * parameter, draft-merge.ts).
 * Every strategy emits exactly the verifier's output: greedy verification keeps the longest
 * prefix the verifier agrees with; sampling uses lossless speculative sampling.
 */

import { accepts, drafterOf, findParam, refusal, STRATEGIES, type Strategy } from "../params.ts";
import { ConfigError, InvalidRequestError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { checkSameVocabulary, type ModelInfo } from "../model/model-dir.ts";
import type { PolicyCore, SamplingParams } from "../policy/core.ts";
import type { DraftChannel, ModelSession } from "../runtime/types.ts";
import type { Drafter, ExtendDecision } from "./drafter.ts";
import { buildDrafter, drafterRoom, type DrafterSpec } from "./drafter-spec.ts";
import { RemoteDrafter } from "./remote-drafter.ts";
import { AcceptancePrior } from "./acceptance-model.ts";
import { DraftController, RoundPrior } from "./draft-controller.ts";
import type { CostCache } from "./pass-cost-cache.ts";
import { type CostProfile, PassCosts, type PassKind, profilePassCosts } from "./pass-costs.ts";
import { DEFAULT_MERGE_RULE } from "./draft-merge.ts";
import { PolicyDrafter } from "./policy-drafter.ts";
import { HISTORY_MIN_MATCH, LookupHistory } from "./lookup-history.ts";
import { countBySource, StatsCollector } from "./stats.ts";
import { TextStream } from "./text-stream.ts";
import type {
  Engine,
  EngineSettings,
  FinishReason,
  GenerateEvent,
  GenerateRequest,
  StrategyParams,
} from "./types.ts";
import { VerifierState } from "./verifier.ts";

/** A loaded model: config and tokenizer, and its session on the chosen backend. */
export interface LoadedModel {
  dir: ModelInfo;
  session: ModelSession;
}

/** The models and policy an engine runs on; drafters may be absent (their strategies are off). */
export interface EngineParts {
  verifier: LoadedModel;
  drafter: LoadedModel | null;
  arDrafter: LoadedModel | null;
  policy: PolicyCore;
  /**
   * Where the model drafters run when they run on a model server (the remote runtime): a whole
   * draft per call, beside the drafter model. Absent: beside the engine, on the sessions above.
   */
  remoteDrafters?: DraftChannel;
}

/** A request after validation and defaults. */
interface Resolved {
  prompt: number[];
  maxTokens: number;
  sampling: SamplingParams;
  seed: number;
  stop: string[];
  strategy: Strategy;
  cacheScope: string;
  params: Required<Omit<StrategyParams, "stopBelow">> & { stopBelow: number | null };
}

function invalid(message: string, param: string): never {
  throw new InvalidRequestError(message, param);
}

/** Refuses a value its declaration (params.ts) does not accept, naming its field. */
function checkParam(name: string, value: unknown): void {
  if (value === undefined) return;
  const decl = findParam(name);
  if (!decl) invalid(`unknown parameter ${name}`, name);
  if (!accepts(decl.kind, value)) {
    invalid(`${decl.field}: ${refusal(decl.kind, value)}`, decl.field);
  }
}

export class FailFastEngine implements Engine {
  readonly modelName: string;
  readonly contextLength: number;
  private readonly eos: number[];
  /**
   * Prompt ids per request object: the server counts a prompt's tokens before generating, and
   * a long prompt is encoded once (the request's prompt and messages are not changed after).
   */
  private readonly encoded = new WeakMap<GenerateRequest, number[]>();
  /** Earlier outputs of this model, for lookups across requests (bounded, scoped). */
  private readonly history: LookupHistory;
  /**
   * What finished requests observed of drafted tokens' acceptance, by the model drafter that
   * drafted them (each drafter's confidence means its own thing: 0.9 from the AR drafter is not
   * 0.9 from the dLLM) and greedy and sampled apart (a sampled token matches a draft less often
   * than the argmax does). Keyed `${drafter, or "lookup"}:${greedy|sampled}`.
   */
  private readonly priors = new Map<string, { acceptance: AcceptancePrior; rounds: RoundPrior }>();
  /** Pass costs for the draft-length controller: profiled on first use, corrected in flight. */
  private costs: Promise<PassCosts> | null;
  /** Where profiled costs are kept between processes (null: profiled by every process). */
  private readonly costCache: { cache: CostCache; key: string } | null;
  private readonly profiler: (() => Promise<CostProfile>) | null;
  /** The sessions `close()` frees. */
  private readonly owns: "all" | "drafters" | "none";

  constructor(
    private readonly parts: EngineParts,
    private readonly config: EngineSettings,
    private readonly log: Logger,
    options: {
      /**
       * The sessions this engine closes: all (default), only its drafters (withDrafters: the
       * verifier is another engine's) or none (withCostProfile: all are another engine's).
       */
      owns?: "all" | "drafters" | "none";
      /** Fixed costs for the controller (a latency model) instead of profiled ones. */
      costProfile?: CostProfile;
      /** Where profiled costs are kept between processes, under this engine's key. */
      costCache?: { cache: CostCache; key: string };
      /** How to profile the costs (default: passes on this engine's own sessions). */
      profiler?: () => Promise<CostProfile>;
    } = {},
  ) {
    this.profiler = options.profiler ?? null;
    this.costCache = options.costCache ?? null;
    this.owns = options.owns ?? "all";
    this.costs = options.costProfile ? Promise.resolve(new PassCosts(options.costProfile)) : null;
    this.modelName = config.modelName;
    const v = parts.verifier.dir.config;
    this.contextLength = v.maxPositions;
    this.eos = v.eosTokenIds;
    this.history = new LookupHistory(
      config.lookupHistoryTokens,
      Math.max(config.lookupKeyLength, HISTORY_MIN_MATCH),
    );
  }

  /** Strategies this engine can run (those whose drafter is loaded). */
  get strategies(): Strategy[] {
    return STRATEGIES.filter((s) => {
      const kind = drafterOf(s);
      return kind === null || this.drafterPart(kind) !== null;
    });
  }

  private encodePrompt(request: GenerateRequest): number[] {
    const known = this.encoded.get(request);
    if (known) return known;
    const tok = this.parts.verifier.dir.tokenizer;
    if ((request.prompt === undefined) === (request.messages === undefined)) {
      invalid(
        "give exactly one of prompt and messages",
        request.prompt === undefined ? "messages" : "prompt",
      );
    }
    let text: string;
    if (request.messages !== undefined) {
      if (!Array.isArray(request.messages) || request.messages.length === 0) {
        invalid("messages must be a non-empty list", "messages");
      }
      if (!tok.hasChatTemplate) {
        invalid("this model has no chat template: use the completions API", "messages");
      }
      text = tok.renderChat(request.messages);
    } else {
      text = request.prompt!;
    }
    const ids = tok.encode(text);
    if (ids.length === 0) invalid("the prompt is empty", request.messages ? "messages" : "prompt");
    this.encoded.set(request, ids);
    return ids;
  }

  countPromptTokens(request: GenerateRequest): number {
    return this.encodePrompt(request).length;
  }

  /** Validates a request and fills in the configured defaults. */
  private resolve(request: GenerateRequest): Resolved {
    const c = this.config;
    const strategy = request.strategy ?? c.strategy;
    if (!STRATEGIES.includes(strategy)) {
      invalid(
        `unknown strategy ${JSON.stringify(strategy)}; accepted: ${STRATEGIES.join(", ")}`,
        "strategy",
      );
    }
    if (!this.strategies.includes(strategy)) {
      invalid(
        `strategy ${strategy} needs a drafter model that is not loaded on this server`,
        "strategy",
      );
    }
    for (const name of ["maxTokens", "temperature", "topP", "topK", "seed"] as const) {
      checkParam(name, request[name]);
    }
    const stop = request.stop ?? [];
    if (!Array.isArray(stop) || stop.some((s) => typeof s !== "string" || s.length === 0)) {
      invalid("stop must be a list of non-empty strings", "stop");
    }
    const p = request.params ?? {};
    for (const [name, value] of Object.entries(p)) checkParam(name, value);
    if (request.cacheScope !== undefined && typeof request.cacheScope !== "string") {
      invalid("cacheScope must be a string", "cacheScope");
    }
    const n0 = p.n0 ?? c.n0;
    const nMax = p.nMax ?? Math.max(c.nMax, n0);
    if (nMax < n0) invalid(`n_max (${nMax}) must be at least n0 (${n0})`, "n_max");
    const alignWindows = p.alignWindows ?? c.alignWindows;
    const slideSubBlocks = p.slideSubBlocks ?? c.slideSubBlocks;
    if (alignWindows && slideSubBlocks) {
      invalid(
        "align_windows rounds windows to the sub-block grid that slide_sub_blocks leaves: set at most one",
        p.slideSubBlocks !== undefined ? "slide_sub_blocks" : "align_windows",
      );
    }
    const prompt = this.encodePrompt(request);
    if (prompt.length >= this.contextLength) {
      invalid(
        `the prompt has ${prompt.length} tokens; this model's context window is ${this.contextLength}`,
        request.messages ? "messages" : "prompt",
      );
    }
    return {
      prompt,
      maxTokens: request.maxTokens,
      sampling: {
        temperature: request.temperature ?? 0,
        topP: request.topP ?? 1,
        topK: Math.max(0, request.topK ?? 0), // -1 and 0 both mean all tokens
      },
      seed: request.seed ?? Math.floor(Math.random() * 2 ** 32),
      stop,
      strategy,
      params: {
        tau: p.tau ?? c.tau,
        n0,
        n: p.n ?? c.n,
        nMax,
        unmaskThreshold: p.unmaskThreshold ??
          (strategy === "dllm-fixed" ? c.fixedThreshold : c.unmaskThreshold),
        k: p.k ?? (strategy === "ar-draft" ? c.arDraftK : c.fixedK),
        stopBelow: p.stopBelow ?? null,
        draftReuse: p.draftReuse ?? c.draftReuse,
        alignWindows,
        slideSubBlocks,
        trimLowConfidence: p.trimLowConfidence ?? c.trimLowConfidence,
        lookup: p.lookup ?? c.lookup,
        lookupMax: p.lookupMax ?? c.lookupMax,
        controller: p.controller ??
          (strategy === "failfast" ? c.controller : "fixed"),
      },
      cacheScope: request.cacheScope ?? "",
    };
  }

  /** Whether the draft-length controller decides this request's drafts. */
  private controlled(r: Resolved): boolean {
    return r.params.controller === "cost" &&
      (r.strategy === "failfast" || r.strategy === "ar-draft" || r.strategy === "lookup");
  }

  /**
   * The pass costs the controller prices with: profiled once on this engine's sessions (a few
   * hundred passes), then kept current by the passes requests run.
   */
  passCosts(): Promise<PassCosts> {
    this.costs ??= (async () => {
      const cached = await this.costCache?.cache.load(this.costCache.key);
      if (cached) {
        this.log.info("pass costs from the cache", { verifyMs: describeCurve(cached) });
        return new PassCosts(cached);
      }
      const { verifier, drafter, arDrafter } = this.parts;
      const profile = this.profiler ? await this.profiler() : await profilePassCosts({
        verifier: verifier.session,
        drafter: drafter?.session ?? null,
        arDrafter: arDrafter?.session ?? null,
      }, { maxRows: this.config.nMax + 1 });
      this.log.info("pass costs profiled", {
        verifyMs: describeCurve(profile),
        denoiseMs: profile.denoiseMs,
        arStepMs: profile.arStepMs,
      });
      await this.costCache?.cache.save(this.costCache.key, profile);
      return new PassCosts(profile);
    })();
    this.costs.catch(() => (this.costs = null)); // a failed profile is retried by the next request
    return this.costs;
  }

  /** Profiles the pass costs again (after the machine or its load changed). */
  refreshPassCosts(): Promise<PassCosts> {
    this.costs = null;
    return this.passCosts();
  }

  /** The priors of requests drafting with `drafter`, greedy or sampled. */
  private priorsOf(drafter: "dllm" | "ar" | null, sampled: boolean) {
    const key = `${drafter ?? "lookup"}:${sampled ? "sampled" : "greedy"}`;
    let priors = this.priors.get(key);
    if (!priors) {
      priors = { acceptance: new AcceptancePrior(), rounds: new RoundPrior() };
      this.priors.set(key, priors);
    }
    return priors;
  }

  /**
   * The drafter of a strategy, with its per-request cache; null for plain decoding. With lookup
   * (the `lookup` strategy, or the `lookup` parameter) or the controller it is wrapped by the
   * request's drafting policy.
   */
  private makeDrafter(r: Resolved, costs: PassCosts | null): Drafter | null {
    if (r.strategy === "ar") return null;
    const kind = drafterOf(r.strategy);
    let controller: DraftController | null = null;
    if (costs) {
      const priors = this.priorsOf(kind, r.sampling.temperature > 0);
      controller = new DraftController(
        costs,
        priors.acceptance.forRequest(),
        kind,
        kind === "dllm" ? this.parts.drafter!.dir.config.subBlockSize! : 1,
        priors.rounds,
      );
    }
    const model = this.makeModelDrafter(r, controller);
    const lookupOn = r.strategy === "lookup" || r.params.lookup;
    if (!lookupOn && !controller) return model;
    const history = this.history.capacityTokens > 0
      ? { store: this.history, scope: r.cacheScope }
      : null;
    const rule = { ...DEFAULT_MERGE_RULE, maxLookup: r.params.lookupMax };
    return new PolicyDrafter(model, rule, {
      lookupKeyLength: lookupOn ? this.config.lookupKeyLength : null,
      history,
      controller,
    });
  }

  /**
   * The model drafter of a strategy (null for plain decoding and lookup alone): built from its
   * spec beside the engine, or on the model server when the engine's parts are remote.
   */
  private makeModelDrafter(r: Resolved, controller: DraftController | null): Drafter | null {
    const spec = this.drafterSpec(r, controller !== null);
    if (!spec) return null;
    const step = spec.kind === "dllm" ? this.parts.drafter!.dir.config.subBlockSize! : 1;
    if (this.parts.remoteDrafters) {
      const max = spec.kind === "dllm" ? spec.plan.max : spec.k;
      return new RemoteDrafter(this.parts.remoteDrafters.open(spec), controller, step, max);
    }
    const session = spec.kind === "dllm"
      ? this.parts.drafter!.session
      : this.parts.arDrafter!.session;
    const extend: ExtendDecision | undefined = controller
      ? (confs, spent, next) =>
        controller.extend(
          confs.map((confidence) => ({ source: "drafter" as const, confidence })),
          spent,
          next,
        )
      : undefined;
    return buildDrafter(spec, session, this.parts.policy, extend);
  }

  /**
   * A strategy's model drafter as plain data. Under the controller, FailFast drafts a sliding
   * sub-block per pass and extends while the controller says another pass pays (N_max caps it);
   * the AR drafter drafts while one more token pays.
   */
  private drafterSpec(r: Resolved, controlled: boolean): DrafterSpec | null {
    const p = r.params;
    const eos = this.eos;
    switch (r.strategy) {
      case "ar":
      case "lookup":
        return null;
      case "ar-draft":
        return controlled
          ? { kind: "ar", k: p.nMax, stopBelow: null, controlled, eos }
          : { kind: "ar", k: p.k, stopBelow: p.stopBelow, controlled, eos };
      case "dllm-fixed":
        return {
          kind: "dllm",
          plan: {
            initial: p.k,
            step: 0,
            max: p.k,
            tau: null,
            threshold: p.unmaskThreshold,
            align: false,
            slide: p.slideSubBlocks,
            trim: false,
          },
          controlled: false,
          eos,
        };
      case "failfast": {
        const S = this.parts.drafter!.dir.config.subBlockSize!;
        const plan = controlled
          ? {
            // one position: the first pass decides S of them, and each further pass is the
            // controller's to pay for
            initial: 1,
            step: S,
            max: p.nMax,
            tau: null,
            threshold: p.unmaskThreshold,
            align: false,
            slide: true,
            trim: false,
          }
          : {
            initial: p.n0,
            step: p.n,
            max: p.nMax,
            tau: p.tau,
            threshold: p.unmaskThreshold,
            align: p.alignWindows,
            slide: p.slideSubBlocks,
            trim: p.trimLowConfidence,
          };
        return { kind: "dllm", plan, controlled, eos };
      }
    }
  }

  /** The loaded model drafter of a kind, or null. */
  private drafterPart(kind: "dllm" | "ar" | null): LoadedModel | null {
    return kind === "dllm" ? this.parts.drafter : kind === "ar" ? this.parts.arDrafter : null;
  }

  /** Longest draft the drafter's own context window allows after `contextLength` tokens. */
  private drafterRoom(strategy: Strategy, contextLength: number): number {
    const kind = drafterOf(strategy);
    // no model drafter (a caller's own): only the verifier's window limits it
    if (!kind) return Infinity;
    return drafterRoom(this.drafterPart(kind)!.dir.config, kind, contextLength);
  }

  generate(request: GenerateRequest, signal?: AbortSignal): AsyncIterable<GenerateEvent> {
    const r = this.resolve(request); // throws InvalidRequestError before anything streams
    return this.run(r, async () => {
      const costs = this.controlled(r) ? await this.passCosts() : null;
      return this.makeDrafter(r, costs);
    }, signal);
  }

  /**
   * Like generate(), with a drafter of the caller's (a research drafter, or a test's forced
   * drafts). The request's strategy only names the run in the statistics. `makeDrafter` is
   * called once per request; the engine releases what it returns.
   */
  generateWithDrafter(
    request: GenerateRequest,
    makeDrafter: () => Drafter | null,
    signal?: AbortSignal,
  ): AsyncIterable<GenerateEvent> {
    return this.run(this.resolve(request), () => Promise.resolve(makeDrafter()), signal);
  }

  private async *run(
    r: Resolved,
    makeDrafter: () => Promise<Drafter | null>,
    signal?: AbortSignal,
  ): AsyncGenerator<GenerateEvent> {
    const { policy, verifier: v } = this.parts;
    const drafter = await makeDrafter();
    // fed with every pass's timing (once profiled); the drafter's passes, and the verify passes
    // right after them, only by the controller's own drafts: a fixed plan's passes (a whole
    // block window, many passes per sub-block) are not the passes the controller prices
    const costs = this.costs ? await this.costs.catch(() => null) : null;
    const learnsDrafter = this.controlled(r);
    const drafterPass: PassKind = r.strategy === "ar-draft" ? "arStep" : "denoise";
    const verifier = new VerifierState(v.session, policy, r.prompt, r.sampling, r.seed);
    const stats = new StatsCollector(r.strategy, r.prompt.length);
    const tokenizer = v.dir.tokenizer;
    const text = new TextStream((ids) => tokenizer.decode(ids), r.stop);
    const eos = new Set(this.eos);
    let emitted = 0;
    let staleTail: number[] = []; // rejected draft tokens after the last correction
    let finish: FinishReason = "length";
    try {
      await verifier.prefill(stats.time);
      while (true) {
        if (signal?.aborted) {
          finish = "cancelled";
          break;
        }
        const remaining = r.maxTokens - emitted;
        if (remaining <= 0 || verifier.room < 0) break;
        const L = verifier.context.length;
        const maxDraft = Math.min(remaining - 1, verifier.room, this.drafterRoom(r.strategy, L));
        const t0 = { ...stats.time };
        const roundStart = performance.now();
        const draft = drafter && maxDraft > 0
          ? await drafter.propose(verifier.context, maxDraft, stats.time)
          : { tokens: [], passes: 0 };
        let reused = false;
        if (r.params.draftReuse && staleTail.length > draft.tokens.length) {
          // Draft reuse (paper appendix E): the last round's rejected draft continued past the
          // correction; when the new draft agrees with that tail, propose the rest for free.
          const agrees = draft.tokens.every((t, i) => t === staleTail[i]);
          if (agrees && draft.tokens.length > 0) {
            draft.tokens = staleTail.slice(0, maxDraft);
            reused = true;
          }
        }
        // a drafter on a model server may draft the next round right after this verdict there
        const ahead = drafter && !reused ? drafter.ahead?.(remaining) ?? null : null;
        const verdict = await verifier.verify(draft.tokens, stats.time, ahead);
        drafter?.onVerified(L + verdict.accepted);
        const k = draft.tokens.length;
        const round = {
          draftedBySource: countBySource(draft.sources, k, k),
          acceptedBySource: countBySource(draft.sources, k, verdict.accepted),
          drafted: draft.tokens.length,
          accepted: verdict.accepted,
          drafterPasses: draft.passes,
          verifierPasses: 1,
          drafterMs: stats.time.drafter - t0.drafter,
          verifierMs: stats.time.verifier - t0.verifier,
          policyMs: stats.time.policy - t0.policy,
        };
        stats.addRound(round);
        if (costs) {
          if (draft.passes === 0) costs.observe("verify", round.verifierMs, k + 1);
          else if (learnsDrafter) {
            costs.observe("verifyAfterDraft", round.verifierMs, k + 1);
            costs.observe(drafterPass, (round.drafterMs - (draft.callMs ?? 0)) / draft.passes);
          }
          const wall = performance.now() - roundStart;
          costs.observe("round", wall - round.drafterMs - round.verifierMs);
        }
        staleTail = draft.tokens.slice(verdict.accepted + 1);
        let tokens = [...draft.tokens.slice(0, verdict.accepted), verdict.next];
        let ended = false;
        const eosAt = tokens.findIndex((t) => eos.has(t));
        if (eosAt >= 0) {
          tokens = tokens.slice(0, eosAt);
          finish = "stop";
          ended = true;
        }
        if (tokens.length >= remaining) {
          tokens = tokens.slice(0, remaining);
          if (!ended) finish = "length";
          ended = true;
        }
        emitted += tokens.length;
        const delta = text.push(tokens);
        if (text.stopped) {
          finish = "stop";
          ended = true;
        }
        if (tokens.length > 0 || delta) {
          const acceptedDraft = Math.min(verdict.accepted, tokens.length);
          const emittedDraft = countBySource(draft.sources, k, acceptedDraft);
          yield {
            type: "delta",
            text: delta,
            tokens,
            acceptedDraft,
            drafted: draft.tokens.length,
            acceptedLookup: emittedDraft.context + emittedDraft.history,
          };
        }
        if (ended) break;
      }
      const tail = text.flush();
      if (tail) {
        yield {
          type: "delta",
          text: tail,
          tokens: [],
          acceptedDraft: 0,
          drafted: 0,
          acceptedLookup: 0,
        };
      }
      if (finish !== "cancelled") {
        this.history.add(
          r.cacheScope,
          r.prompt,
          verifier.context.slice(r.prompt.length, r.prompt.length + emitted),
        );
      }
      yield { type: "done", finishReason: finish, stats: stats.summary(emitted) };
    } finally {
      verifier.release();
      drafter?.release();
    }
  }

  /**
   * An engine over the same verifier session and policy core with other drafters (the benchmark
   * runs int8 drafters beside float ones this way, without a second verifier competing for the
   * cores); it closes only its own drafters.
   */
  withDrafters(drafters: Pick<EngineParts, "drafter" | "arDrafter">): FailFastEngine {
    for (const d of [drafters.drafter, drafters.arDrafter]) {
      if (d) checkSameVocabulary(this.parts.verifier.dir, d.dir);
    }
    return new FailFastEngine({ ...this.parts, ...drafters }, this.config, this.log, {
      owns: "drafters",
    });
  }

  /**
   * An engine over the same models whose controller prices passes with fixed costs (the paper's
   * latency model, `paperCosts()`), to see what lengths it would choose there; it closes nothing.
   */
  withCostProfile(profile: CostProfile): FailFastEngine {
    return new FailFastEngine(this.parts, this.config, this.log, {
      owns: "none",
      costProfile: profile,
    });
  }

  /** Frees every session it owns. */
  async close(): Promise<void> {
    const { verifier, drafter, arDrafter } = this.parts;
    const owned = this.owns === "all"
      ? [verifier, drafter, arDrafter]
      : this.owns === "drafters"
      ? [drafter, arDrafter]
      : [];
    await Promise.all(owned.map((m) => m?.session.close()));
  }
}

/** A cost curve for the log: `rows:ms` pairs. */
function describeCurve(p: CostProfile): string {
  return p.verify.table.map(([rows, ms]) => `${rows}:${ms.toFixed(2)}`).join(" ");
}

/**
 * Gets a new engine ready to serve: profiles its pass costs when the controller is on, and checks
 * that the configured default strategy can run (else closes it and throws a ConfigError).
 */
export async function readyEngine(
  engine: FailFastEngine,
  config: Pick<EngineSettings, "controller" | "strategy">,
  progress: (message: string) => void,
): Promise<FailFastEngine> {
  if (config.controller === "cost") {
    progress("profiling pass costs");
    await engine.passCosts();
  }
  if (!engine.strategies.includes(config.strategy)) {
    await engine.close();
    throw new ConfigError(
      "FAILFAST_STRATEGY",
      `${config.strategy} needs a drafter model that is not loaded`,
    );
  }
  progress("ready");
  return engine;
}
