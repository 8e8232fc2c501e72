/**
 * The model-server role (FAILFAST_ROLE=model-server): serves forward passes and whole drafts of
 * its loaded models to remote engines (the `remote` runtime), over HTTP with binary frames
 * (runtime/wire.ts). It does not serve the OpenAI API.
 *
 * Routes (all but /health need `Authorization: Bearer <FAILFAST_MODEL_SERVER_KEY>` when a key is
 * set; 401 otherwise):
 *   GET    /health                  ready or loading, live sessions
 *   GET    /metrics                 Prometheus text: live sessions and positions, calls, bytes
 *   GET    /v1/model                models' config files and tokenizer (JSON), protocol, instance
 *   GET    /v1/costs                the pass-cost profile of this host (profiled once)
 *   POST   /v1/sessions             {model, drafter?} -> 201 {id}: a KV cache, or a drafter
 *   POST   /v1/sessions/:id/forward a pass (frame): optional cut, tokens, and the rows wanted
 *   POST   /v1/sessions/:id/draft   a whole draft (frame) by the drafter beside its model
 *   DELETE /v1/sessions/:id         frees it
 * A session's id that was never issued is a 404, one that was freed (by its caller or the TTL)
 * a 409. Every request is checked before it touches a session: a bad one changes nothing.
 */

import { Hono } from "hono";
import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { Config } from "../config.ts";
import { PolicyInputError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { EngineParts } from "../engine/engine.ts";
import type { ExtensionRule } from "../engine/draft-controller.ts";
import { extensionByRule } from "../engine/draft-controller.ts";
import type { Drafter } from "../engine/drafter.ts";
import {
  buildDrafter,
  drafterModelOf,
  drafterRoom,
  type DrafterSpec,
  specProblem,
} from "../engine/drafter-spec.ts";
import { verdictOfRows } from "../engine/verifier.ts";
import { DRAFTER_CELLS } from "../engine/acceptance-model.ts";
import { type CostProfile, profilePassCosts } from "../engine/pass-costs.ts";
import { newTimeBuckets } from "../engine/stats.ts";
import type { ModelInfo } from "../model/model-dir.ts";
import { checkSampling } from "../policy/core.ts";
import { MAX_TOP_K, reduceRows } from "../policy/reduce-rows.ts";
import type { ForwardOptions, RowOutput } from "../runtime/types.ts";
import {
  decodeFrame,
  encodeFrame,
  type Frame,
  FRAME_CONTENT_TYPE,
  PROTOCOL_VERSION,
  WireError,
} from "../runtime/wire.ts";
import { Counter, Histogram, labelKey } from "../server/metrics.ts";
import { keyIndex } from "../server/middleware.ts";
import { MODEL_ROLES, type ModelRole, type Session, SessionStore } from "./sessions.ts";

/** An error answered with its status (and headers). */
class ModelServerError extends Error {
  constructor(
    readonly status: 400 | 401 | 404 | 409 | 413 | 500 | 503,
    message: string,
    readonly code: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const bad = (message: string) => new ModelServerError(400, message, "invalid_request");

export interface ModelServerHandle {
  app: Hono;
  fetch: (request: Request) => Response | Promise<Response>;
  sessions: SessionStore;
  /** Frees every session. */
  close(): void;
}

/** The routes `calls` counts by name; any other path is "other", so a scan adds no series. */
const ROUTES = new Set([
  "GET /health",
  "GET /metrics",
  "GET /v1/model",
  "GET /v1/costs",
  "POST /v1/sessions",
  "POST /v1/sessions/:id/forward",
  "POST /v1/sessions/:id/draft",
  "DELETE /v1/sessions/:id",
]);

function routeOf(method: string, path: string): string {
  const route = `${method} ${path.replace(/^\/v1\/sessions\/[^/]+/, "/v1/sessions/:id")}`;
  return ROUTES.has(route) ? route : "other";
}

function metadataOf(model: ModelInfo) {
  return {
    kind: model.kind,
    config: model.sources.config,
    generationConfig: model.sources.generationConfig,
  };
}

/** Milliseconds to the microsecond: a header need not carry 17 digits. */
const ms = (x: number) => Math.round(x * 1000) / 1000;

function isInt(v: unknown, min: number, max: number): v is number {
  return Number.isInteger(v) && (v as number) >= min && (v as number) <= max;
}

/** An i32 section whose values all lie in [0, `limit`): token ids, or positions. */
function checkInts(
  values: Int32Array | Float32Array | undefined,
  limit: number,
  what: string,
): Int32Array {
  if (!(values instanceof Int32Array)) throw bad(`${what} must be an i32 section`);
  for (const v of values) {
    if (v < 0 || v >= limit) throw bad(`${what} holds ${v}, outside [0, ${limit})`);
  }
  return values;
}

/** Parses a pass's row output from a frame header. */
function outputOf(h: Record<string, unknown>): RowOutput | null {
  switch (h.output) {
    case undefined:
    case "logits":
      return null;
    case "argmax":
      return { kind: "argmax" };
    case "topk":
      if (!isInt(h.k, 1, MAX_TOP_K)) throw bad(`k must be an integer from 1 to ${MAX_TOP_K}`);
      return { kind: "topk", k: h.k };
    case "sample": {
      const s = h.sampling as Record<string, unknown> | null;
      const ok = s && typeof s === "object" && typeof s.temperature === "number" &&
        s.temperature > 0 && typeof s.topK === "number" && typeof s.topP === "number";
      if (!ok) throw bad("sampling must be {temperature > 0, topK >= 0, topP in (0, 1]}");
      try {
        // the policy core's own ranges, which the rows are sampled under
        checkSampling(s as { temperature: number; topK: number; topP: number });
      } catch (e) {
        if (e instanceof PolicyInputError) throw bad(`sampling: ${e.message}`);
        throw e;
      }
      if (!isInt(h.seed, 0, Number.MAX_SAFE_INTEGER)) throw bad("seed must be an integer >= 0");
      if (!isInt(h.position, 0, 2 ** 32 - 1)) throw bad("position must be an integer >= 0");
      return {
        kind: "sample",
        sampling: s as { temperature: number; topK: number; topP: number },
        seed: h.seed,
        position: h.position,
      };
    }
    default:
      throw bad(`unknown output ${JSON.stringify(h.output)}: logits, argmax, topk or sample`);
  }
}

function ruleOf(raw: unknown): ExtensionRule {
  const r = raw as Record<string, unknown> | null;
  const numbers = (v: unknown, n?: number) =>
    Array.isArray(v) && (n === undefined || v.length === n) && v.length > 0 &&
    v.every((x) => typeof x === "number" && Number.isFinite(x) && x >= 0);
  const ok = r && typeof r === "object" && numbers(r.acceptance, DRAFTER_CELLS) &&
    numbers(r.verifyMs) && (r.verifyMs as number[]).length <= 1024 &&
    typeof r.passMs === "number" && r.passMs >= 0 && typeof r.roundMs === "number" &&
    r.roundMs >= 0 && isInt(r.step, 1, 512) && typeof r.callMs === "number" && r.callMs >= 0;
  if (!ok) {
    throw bad(
      "rule must be an extension rule (acceptance, verifyMs, passMs, roundMs, step, callMs)",
    );
  }
  return r as unknown as ExtensionRule;
}

/** What a pass's `then` asks for: the next round's draft, right after this pass's verdict. */
interface AheadRequest {
  session: string;
  cap: number;
  maxLen: number;
  budget: number;
  rule: ExtensionRule | null;
}

/** Checks a pass's `then` before the pass changes anything. */
function aheadRequestOf(then: unknown): AheadRequest {
  if (then === null || typeof then !== "object") throw bad("then must be an object");
  const t = then as Record<string, unknown>;
  if (typeof t.session !== "string") throw bad("then.session must be a session id");
  if (!isInt(t.cap, 0, Number.MAX_SAFE_INTEGER) || !isInt(t.maxLen, 0, 512)) {
    throw bad("then.cap and then.maxLen must be integers");
  }
  if (!isInt(t.budget, 0, 1 << 20)) throw bad("then.budget must be an integer");
  const rule = t.rule === null || t.rule === undefined ? null : ruleOf(t.rule);
  return { session: t.session, cap: t.cap, maxLen: t.maxLen, budget: t.budget, rule };
}

/**
 * Builds the model server over loaded models.
 *
 * @example
 * const parts = await openModels(config, log);
 * const server = createModelServer({ config, log, parts });
 * Deno.serve({ port: 8100 }, server.fetch);
 */
export function createModelServer(
  deps: { config: Config; log: Logger; parts: EngineParts },
): ModelServerHandle {
  const { config, log, parts } = deps;
  const models: Record<ModelRole, EngineParts["verifier"] | null> = {
    verifier: parts.verifier,
    drafter: parts.drafter,
    "ar-drafter": parts.arDrafter,
  };
  const sessions = new SessionStore({ ttlMs: config.sessionTtlMs, max: config.maxSessions });
  const instance = crypto.randomUUID();
  const calls = new Counter("failfast_model_server_calls_total", "Calls by route and status.");
  const bytesOut = new Counter(
    "failfast_model_server_response_bytes_total",
    "Bytes of pass and draft replies, by route.",
  );
  const callSeconds = new Histogram(
    "failfast_model_server_call_seconds",
    "Time to answer a pass or draft call, by route.",
    [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
  );
  let costs: Promise<CostProfile> | null = null;
  const vocab = parts.verifier.dir.config.vocabSize;

  const app = new Hono();

  app.onError((e, c) => {
    if (e instanceof ModelServerError) {
      return c.json({ error: { message: e.message, code: e.code } }, e.status, e.headers);
    }
    log.error("model-server call failed", { path: c.req.path, err: e });
    return c.json({ error: { message: (e as Error).message, code: "inference_failed" } }, 500);
  });
  app.notFound((c) => c.json({ error: { message: "no such route", code: "not_found" } }, 404));

  app.use("*", async (c, next) => {
    const t0 = performance.now();
    await next();
    const route = routeOf(c.req.method, c.req.path);
    calls.inc({ route, status: String(c.res.status) });
    if (route.endsWith("/forward") || route.endsWith("/draft")) {
      callSeconds.observe((performance.now() - t0) / 1000, { route });
    }
  });

  app.get(
    "/health",
    (c) => c.json({ status: "ok", role: "model-server", instance, sessions: sessions.size }),
  );

  // every other route needs the key
  app.use("*", async (c, next) => {
    const key = config.modelServerKey;
    if (key && await keyIndex([key], c.req.header("authorization") ?? "") < 0) {
      throw new ModelServerError(401, "a valid model-server key is required", "unauthorized", {
        "www-authenticate": "Bearer",
      });
    }
    await next();
  });

  app.use(
    "/v1/*",
    bodyLimit({
      maxSize: config.maxBodyBytes,
      onError: () => {
        throw new ModelServerError(
          413,
          `the request body is larger than ${config.maxBodyBytes} bytes`,
          "request_too_large",
        );
      },
    }),
  );

  app.get("/metrics", (c) => {
    const stats = sessions.stats();
    const lines = [
      "# HELP failfast_model_server_sessions Live sessions, by model.",
      "# TYPE failfast_model_server_sessions gauge",
      ...MODEL_ROLES.map((m) =>
        `failfast_model_server_sessions${labelKey({ model: m })} ${stats[m].sessions}`
      ),
      "# HELP failfast_model_server_session_positions Positions held by live sessions' caches.",
      "# TYPE failfast_model_server_session_positions gauge",
      ...MODEL_ROLES.map((m) =>
        `failfast_model_server_session_positions${labelKey({ model: m })} ${stats[m].positions}`
      ),
      ...calls.render(),
      ...bytesOut.render(),
      ...callSeconds.render(),
    ];
    return c.text(lines.join("\n") + "\n", 200, { "content-type": "text/plain; version=0.0.4" });
  });

  app.get("/v1/model", (c) =>
    c.json({
      protocol: PROTOCOL_VERSION,
      instance,
      name: config.modelName,
      tokenizer: parts.verifier.dir.sources.tokenizer,
      tokenizerConfig: parts.verifier.dir.sources.tokenizerConfig,
      models: Object.fromEntries(
        MODEL_ROLES.filter((m) => models[m]).map((m) => [m, metadataOf(models[m]!.dir)]),
      ),
    }));

  app.get("/v1/costs", async (c) => {
    costs ??= profilePassCosts({
      verifier: parts.verifier.session,
      drafter: parts.drafter?.session ?? null,
      arDrafter: parts.arDrafter?.session ?? null,
    }, { maxRows: config.nMax + 1 });
    costs.catch(() => (costs = null));
    const p = await costs;
    return c.json({
      verify: p.verify.table,
      denoiseMs: p.denoiseMs,
      arStepMs: p.arStepMs,
      roundMs: p.roundMs,
    });
  });

  app.post("/v1/sessions", async (c) => {
    let body: Record<string, unknown>;
    try {
      body = await c.req.json();
    } catch {
      throw bad("the body must be JSON: {model, drafter?}");
    }
    const model = body?.model as ModelRole;
    if (!MODEL_ROLES.includes(model)) {
      throw bad(`model must be one of ${MODEL_ROLES.join(", ")}`);
    }
    const loaded = models[model];
    if (!loaded) throw new ModelServerError(404, `this server holds no ${model}`, "no_such_model");
    let spec: DrafterSpec | null = null;
    if (body.drafter !== undefined) {
      const problem = specProblem(body.drafter);
      if (problem) throw bad(`drafter: ${problem}`);
      spec = body.drafter as DrafterSpec;
      if (model !== drafterModelOf(spec)) {
        throw bad(`a ${spec.kind} drafter does not run on the ${model}`);
      }
    }
    if (sessions.full) {
      throw new ModelServerError(
        503,
        `all ${config.maxSessions} sessions are in use; retry shortly`,
        "sessions_full",
        { "retry-after": "1" },
      );
    }
    const session = loaded.session;
    let state: Session["drafter"] = null;
    let cache;
    if (spec) {
      // each call sets the extension decision of its round (from the rule it carries)
      const drafting: NonNullable<Session["drafter"]> = {
        spec,
        context: [],
        extend: null,
        drafter: null as unknown as Drafter, // built below, around this object's decision
      };
      drafting.drafter = buildDrafter(
        spec,
        session,
        parts.policy,
        (confs, spent, next) => drafting.extend?.(confs, spent, next) ?? false,
      );
      state = drafting;
      // the drafter owns its cache; the session reports the drafter's context length
      cache = {
        get length() {
          return drafting.context.length;
        },
        released: false,
      };
    } else {
      cache = session.createCache();
    }
    const s = sessions.add({
      model,
      cache,
      drafter: state,
      free: () => state ? state.drafter.release() : session.release(cache),
    });
    return c.json({ id: s.id, model, instance }, 201);
  });

  /** The session of a call, marked busy for the call's duration. */
  async function withSession<T>(
    id: string,
    kind: "pass" | "drafter",
    run: (s: Session) => Promise<T>,
  ): Promise<T> {
    const s = sessions.get(id);
    if (s === "unknown") throw new ModelServerError(404, `no session ${id}`, "unknown_session");
    if (s === "released") {
      throw new ModelServerError(409, `session ${id} was released`, "session_released");
    }
    if ((s.drafter !== null) !== (kind === "drafter")) {
      throw new ModelServerError(
        409,
        `session ${id} is a ${s.drafter ? "drafter" : "pass"} session`,
        "wrong_session_kind",
      );
    }
    if (s.busy) throw new ModelServerError(409, `session ${id} has a call running`, "busy");
    s.busy = true;
    try {
      return await run(s);
    } finally {
      sessions.settle(s);
    }
  }

  async function readFrame(c: Context): Promise<Frame> {
    const bytes = new Uint8Array(await c.req.arrayBuffer());
    try {
      return decodeFrame(bytes);
    } catch (e) {
      if (e instanceof WireError) throw bad(e.message);
      throw e;
    }
  }

  function reply(c: Context, route: string, frame: Uint8Array<ArrayBuffer>): Response {
    bytesOut.inc({ route }, frame.length);
    return c.body(frame, 200, { "content-type": FRAME_CONTENT_TYPE });
  }

  /**
   * The next round's draft, made right after a verify pass from its verdict (a fused round), or
   * null when the drafter session is not in step with the pass (the caller then drafts the usual
   * way). `keep`: the verifier's cache length before the pass; `tokens`: the pass's input (the
   * context's last token, then the draft); `ids`: each row's own token.
   */
  async function draftAhead(
    then: AheadRequest,
    keep: number,
    tokens: Int32Array,
    ids: Int32Array,
  ) {
    const rule = then.rule;
    const ds = sessions.get(then.session);
    if (typeof ds === "string" || !ds.drafter || ds.busy) return null;
    const d = ds.drafter;
    const L = keep + 1; // the verified context: the cache plus the token fed first
    if (d.context.length !== L) return null;
    const draft = Array.from(tokens.subarray(1));
    const verdict = verdictOfRows(ids, draft);
    const emitted = [...draft.slice(0, verdict.accepted), verdict.next];
    if (emitted.some((t) => d.spec.eos.includes(t))) return null; // the generation ends
    const next = L + emitted.length;
    const model = models[ds.model]!.dir.config;
    const maxLen = Math.min(
      then.maxLen,
      then.budget - emitted.length - 1,
      parts.verifier.dir.config.maxPositions - next,
      drafterRoom(model, d.spec.kind, next),
    );
    if (maxLen <= 0) return null;
    ds.busy = true;
    try {
      const verified = Math.min(L + verdict.accepted, then.cap);
      const { header, tokens: drafted, confidences } = await draftNext(
        d,
        verified,
        emitted,
        rule,
        maxLen,
      );
      return { header: { from: next, verified, ...header }, tokens: drafted, confidences };
    } finally {
      sessions.settle(ds);
    }
  }

  /**
   * Moves a drafter session on by a verdict (`verified`: the valid prefix, null when unknown) and
   * the tokens that follow it, and drafts the next round under `rule` (null: the spec's own plan).
   */
  async function draftNext(
    d: NonNullable<Session["drafter"]>,
    verified: number | null,
    append: ArrayLike<number> & Iterable<number>,
    rule: ExtensionRule | null,
    maxLen: number,
  ) {
    if (verified !== null) d.drafter.onVerified(verified);
    d.context.push(...append);
    d.extend = rule && extensionByRule(rule);
    const time = newTimeBuckets();
    const out = await d.drafter.propose(d.context, maxLen, time);
    return {
      header: { passes: out.passes, drafterMs: ms(time.drafter), policyMs: ms(time.policy) },
      tokens: Int32Array.from(out.tokens),
      confidences: Float32Array.from(out.confidences ?? out.tokens.map(() => 0)),
    };
  }

  app.post("/v1/sessions/:id/forward", async (c) => {
    const t0 = performance.now();
    const { header: h, sections } = await readFrame(c);
    return await withSession(c.req.param("id"), "pass", async (s) => {
      const loaded = models[s.model]!;
      const maxPositions = loaded.dir.config.maxPositions;
      const tokens = checkInts(sections.tokens, vocab, "tokens");
      if (tokens.length === 0) throw bad("tokens must not be empty");
      if (typeof h.commit !== "boolean") throw bad("commit must be a boolean");
      const keep = h.keep ?? s.cache.length;
      if (!isInt(keep, 0, s.cache.length)) {
        throw bad(`keep must be an integer from 0 to the cache's ${s.cache.length} positions`);
      }
      if (keep + tokens.length > maxPositions) {
        throw bad(`${keep} + ${tokens.length} positions exceed the model's ${maxPositions}`);
      }
      if (h.lastRows !== undefined && !isInt(h.lastRows, 1, tokens.length)) {
        throw bad("lastRows must be an integer from 1 to the number of tokens");
      }
      let positions: Int32Array | undefined;
      if (sections.positions !== undefined) {
        positions = checkInts(sections.positions, keep + tokens.length, "positions");
        if (positions.length !== tokens.length || h.commit) {
          throw bad("positions need one per token, and a pass that does not commit");
        }
        const seen = new Set<number>();
        for (const p of positions) {
          if (p < keep || !seen.add(p)) throw bad("positions must permute the pass's own");
        }
      }
      const output = outputOf(h);
      if (h.then !== undefined && (output === null || output.kind === "topk" || !h.commit)) {
        throw bad("then (a draft ahead) needs a committed pass of argmax or sample rows");
      }
      const then = h.then === undefined ? null : aheadRequestOf(h.then);
      // checked: from here the call changes the session
      if (keep < s.cache.length) loaded.session.truncate(s.cache, keep);
      const options: ForwardOptions = {
        commit: h.commit,
        ...(h.lastRows !== undefined ? { lastRows: h.lastRows as number } : {}),
        ...(positions ? { positions } : {}),
      };
      const r = await loaded.session.forward(s.cache, tokens, options);
      const header: Record<string, unknown> = {
        rows: r.rows,
        vocab: r.vocab,
        length: s.cache.length,
        runMs: ms(r.timing.runMs),
        totalMs: ms(r.timing.totalMs),
      };
      if (!output) {
        header.serverMs = ms(performance.now() - t0);
        return reply(c, "forward", encodeFrame(header, { logits: r.logits }));
      }
      const reduced = reduceRows(parts.policy, r.logits, r.rows, r.vocab, output);
      const out: Frame["sections"] = { ids: reduced.ids };
      if (reduced.probs) out.probs = reduced.probs;
      const early = then ? await draftAhead(then, keep, tokens, reduced.ids) : null;
      if (early) {
        header.ahead = early.header;
        out.aheadTokens = early.tokens;
        out.aheadConfidences = early.confidences;
      }
      header.serverMs = ms(performance.now() - t0);
      return reply(c, "forward", encodeFrame(header, out));
    });
  });

  app.post("/v1/sessions/:id/draft", async (c) => {
    const { header: h, sections } = await readFrame(c);
    return await withSession(c.req.param("id"), "drafter", async (s) => {
      const d = s.drafter!;
      const maxPositions = models[s.model]!.dir.config.maxPositions;
      const append = checkInts(sections.append, vocab, "append");
      if (h.from !== d.context.length) {
        throw new ModelServerError(
          409,
          `the session holds ${d.context.length} context tokens, the call continues from ${h.from}`,
          "out_of_step",
        );
      }
      if (d.context.length + append.length > maxPositions) {
        throw bad(`the context would exceed the model's ${maxPositions} positions`);
      }
      if (h.verified !== null && !isInt(h.verified, 0, maxPositions)) {
        throw bad("verified must be null or a position");
      }
      if (!isInt(h.maxLen, 0, 512)) throw bad("maxLen must be an integer from 0 to 512");
      const rule = h.rule === null || h.rule === undefined ? null : ruleOf(h.rule);
      if (d.context.length + append.length === 0) throw bad("the context must not be empty");
      // checked: from here the call changes the session
      const draft = await draftNext(d, h.verified as number | null, append, rule, h.maxLen);
      return reply(
        c,
        "draft",
        encodeFrame(draft.header, { tokens: draft.tokens, confidences: draft.confidences }),
      );
    });
  });

  app.delete("/v1/sessions/:id", (c) => {
    const id = c.req.param("id");
    const s = sessions.get(id);
    if (s === "unknown") throw new ModelServerError(404, `no session ${id}`, "unknown_session");
    if (s === "released") {
      throw new ModelServerError(409, `session ${id} was released`, "session_released");
    }
    sessions.release(id);
    return c.body(null, 204);
  });

  return {
    app,
    fetch: (request) => app.fetch(request),
    sessions,
    close: () => sessions.close(),
  };
}
