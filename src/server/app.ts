/**
 * The HTTP application (Hono): OpenAI-compatible routes over an `Engine`. It knows the engine
 * only through `ServerDeps`, never a runtime, so the same app runs under Deno, Node and
 * Cloudflare Workers.
 *
 * Routes: `POST /v1/chat/completions`, `POST /v1/completions` (streaming and not),
 * `GET /v1/models`, `GET /v1/models/:id`, `GET /health` (503 until the engine is ready),
 * `GET /metrics` (Prometheus text), `GET /` (the demo page).
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { cors } from "hono/cors";
import type { Config } from "../config.ts";
import { STRATEGIES } from "../config.ts";
import type { Logger } from "../log.ts";
import { InvalidRequestError } from "../errors.ts";
import type { Engine, GenerateEvent } from "../engine/types.ts";
import { type Endpoint, parseRequest } from "./openai-schema.ts";
import {
  chunks,
  completionBody,
  newResponseId,
  type ResponseMeta,
  usageOf,
} from "./openai-response.ts";
import { errorBody, errorResponse, HttpError, statusOf } from "./http-errors.ts";
import { Limiter } from "./limits.ts";
import { Metrics } from "./metrics.ts";
import { SSE_DONE, SSE_HEADERS, sseData } from "./sse.ts";
import { renderPage } from "./ui.ts";

export { errorBody } from "./http-errors.ts";

/** What the app needs from its host. */
export interface ServerDeps {
  config: Config;
  log: Logger;
  /**
   * The engine, or a promise of it while the models load: until it resolves `/health` and the
   * generation routes answer 503; if it rejects they keep answering 503 with the reason.
   */
  engine: Engine | Promise<Engine>;
  /** The benchmark's figures, served at /figures/:name and linked from the page (optional). */
  figures?: FigureSource;
}

/** Where the benchmark's SVG figures come from (the host's files; none in a worker). */
export interface FigureSource {
  list(): Promise<string[]>;
  /** The figure's SVG, or null when there is no such figure. */
  read(name: string): Promise<string | null>;
}

/** The app plus the controls its host needs (readiness, draining, cancellation). */
export interface ServerHandle {
  app: Hono;
  /** `app.fetch`, bound. */
  fetch: (request: Request) => Response | Promise<Response>;
  metrics: Metrics;
  limiter: Limiter;
  /** True once the engine is loaded. */
  readonly ready: boolean;
  /** Generations admitted and not yet finished (running or queued). */
  readonly inFlight: number;
  /** Refuses new generations (503) from now on; running ones continue. */
  drain(): void;
  /** Resolves when no generation is in flight. */
  idle(): Promise<void>;
  /** Cancels every in-flight generation; streams end with an error event naming `reason`. */
  cancelAll(reason?: string): void;
}

const KNOWN_ROUTES = new Set([
  "/",
  "/health",
  "/metrics",
  "/v1/models",
  "/v1/chat/completions",
  "/v1/completions",
]);

function routeLabel(path: string): string {
  if (KNOWN_ROUTES.has(path)) return path;
  if (path.startsWith("/figures/")) return "/figures/:name";
  if (path.startsWith("/v1/models/")) return "/v1/models/:id";
  return "other";
}

/** Compares two strings in time independent of where they differ. */
function safeEqual(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/**
 * The configured API keys (`FAILFAST_API_KEY`, comma-separated for several); none: no auth.
 * Each key is a scope of the engine's lookup cache, so that one client's speed never tells what
 * another generated.
 */
function apiKeysOf(config: Config): string[] {
  return config.apiKey.split(",").map((k) => k.trim()).filter((k) => k !== "");
}

/** The index of the key a request's `Authorization: Bearer` header carries, or -1. */
function keyIndex(keys: readonly string[], header: string): number {
  const match = /^Bearer\s+(.+)$/i.exec(header.trim());
  if (!match) return -1;
  let found = -1;
  // every key is compared, so the time taken does not tell which one matched
  keys.forEach((k, i) => {
    if (safeEqual(match[1], k)) found = i;
  });
  return found;
}

/** Reads a request body as JSON, refusing more than `maxBytes` (413). */
async function readJson(request: Request, maxBytes: number): Promise<unknown> {
  const tooLarge = () =>
    new HttpError(
      413,
      `the request body is larger than this server's limit of ${maxBytes} bytes`,
      "request_too_large",
    );
  const declared = Number(request.headers.get("content-length") ?? "NaN");
  if (declared > maxBytes) throw tooLarge();
  const parts: Uint8Array[] = [];
  let size = 0;
  if (request.body) {
    const reader = request.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel().catch(() => {});
        throw tooLarge();
      }
      parts.push(value);
    }
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const p of parts) {
    bytes.set(p, offset);
    offset += p.byteLength;
  }
  const text = new TextDecoder().decode(bytes);
  if (text.trim() === "") {
    throw new InvalidRequestError(
      "the request body is empty: send a JSON object",
      null,
      "invalid_json",
    );
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new InvalidRequestError(
      `the request body is not valid JSON: ${(e as Error).message}`,
      null,
      "invalid_json",
    );
  }
}

const CLIENT_GONE = () =>
  new HttpError(499, "the client closed the request", "client_closed_request");

/** Builds the Hono app and its controls. */
export function createServer(deps: ServerDeps): ServerHandle {
  const { config, log } = deps;
  const limiter = new Limiter(config.maxConcurrent, config.maxQueue);
  let engine: Engine | null = null;
  let loadError: Error | null = null;
  let draining = false;
  const flights = new Set<AbortController>();
  let idleWaiters: (() => void)[] = [];

  if (deps.engine instanceof Promise) {
    deps.engine.then(
      (e) => {
        engine = e;
      },
      (e) => {
        loadError = e instanceof Error ? e : new Error(String(e));
        log.error("engine failed to load", { err: loadError });
      },
    );
  } else {
    engine = deps.engine;
  }

  const metrics = new Metrics({
    queueDepth: () => limiter.queued,
    active: () => limiter.active,
    ready: () => engine !== null,
  }, { model_name: config.modelName, engine: "0" });

  const endFlight = (ac: AbortController) => {
    flights.delete(ac);
    if (flights.size === 0) {
      const waiters = idleWaiters;
      idleWaiters = [];
      for (const w of waiters) w();
    }
  };

  const app = new Hono();

  app.use("*", async (c, next) => {
    await next();
    metrics.requests.inc({ route: routeLabel(c.req.path), code: String(c.res.status) });
  });

  if (config.corsOrigin) {
    app.use(
      "*",
      cors({
        origin: config.corsOrigin,
        allowMethods: ["GET", "POST", "OPTIONS"],
        allowHeaders: ["Authorization", "Content-Type"],
        exposeHeaders: ["Retry-After", "X-Request-Id"],
        maxAge: 600,
      }),
    );
  }

  const apiKeys = apiKeysOf(config);
  if (apiKeys.length > 0) {
    app.use("/v1/*", async (c, next) => {
      const header = c.req.header("authorization") ?? "";
      if (keyIndex(apiKeys, header) < 0) {
        throw new HttpError(
          401,
          /^Bearer\s+\S/i.test(header.trim())
            ? "Incorrect API key provided."
            : "Missing API key: send an Authorization: Bearer <key> header.",
          "invalid_api_key",
          { headers: { "www-authenticate": "Bearer" } },
        );
      }
      await next();
    });
  }

  app.get("/", async (c) =>
    c.html(renderPage({
      modelName: config.modelName,
      strategy: config.strategy,
      strategies: [...STRATEGIES],
      authRequired: apiKeys.length > 0,
      maxTokens: config.maxTokens,
      lookup: config.lookup,
      figures: await deps.figures?.list().catch(() => []) ?? [],
    })));

  app.get("/figures/:name", async (c) => {
    const name = c.req.param("name");
    const svg = /^[a-z0-9-]+\.svg$/.test(name) ? await deps.figures?.read(name) : null;
    if (!svg) throw new HttpError(404, `no figure ${JSON.stringify(name)}`, "not_found");
    return c.body(svg, 200, { "content-type": "image/svg+xml; charset=utf-8" });
  });

  app.get("/health", (c) => {
    if (engine && !draining) {
      return c.json({
        status: "ok",
        model: engine.modelName,
        context_length: engine.contextLength,
        strategy: config.strategy,
        active: limiter.active,
        queued: limiter.queued,
      });
    }
    const status = draining ? "draining" : loadError ? "failed" : "loading";
    return c.json(
      { status, ...(loadError ? { error: loadError.message } : {}) },
      503,
      status === "loading" ? { "retry-after": "5" } : {},
    );
  });

  app.get(
    "/metrics",
    (c) =>
      c.body(metrics.render(), 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" }),
  );

  const modelObject = () => ({
    id: config.modelName,
    object: "model",
    created: 0,
    owned_by: "failfast",
    ...(engine ? { max_model_len: engine.contextLength } : {}),
  });
  app.get("/v1/models", (c) => c.json({ object: "list", data: [modelObject()] }));
  app.get("/v1/models/:id", (c) => {
    if (c.req.param("id") !== config.modelName) {
      throw new InvalidRequestError(
        `The model '${c.req.param("id")}' does not exist`,
        "model",
        "model_not_found",
      );
    }
    return c.json(modelObject());
  });

  app.post("/v1/chat/completions", (c) => generate(c, "chat"));
  app.post("/v1/completions", (c) => generate(c, "completions"));
  for (const path of ["/v1/chat/completions", "/v1/completions"]) {
    app.all(path, (c) => {
      throw new HttpError(
        405,
        `${c.req.method} is not allowed on ${path}: use POST`,
        "method_not_allowed",
        {
          headers: { allow: "POST" },
        },
      );
    });
  }

  app.notFound(() => errorResponse(new HttpError(404, "no such route", "not_found")));
  app.onError((e, c) => {
    const status = statusOf(e);
    if (status >= 500) log.error("request failed", { path: c.req.path, err: e });
    else log.debug("request refused", { path: c.req.path, status, err: e });
    const res = errorResponse(e);
    // Keep headers set by middleware (CORS) on error responses.
    c.res.headers.forEach((value, key) => {
      if (key.startsWith("access-control-") && !res.headers.has(key)) res.headers.set(key, value);
    });
    return res;
  });

  async function generate(c: Context, endpoint: Endpoint): Promise<Response> {
    const arrival = performance.now();
    const route = endpoint === "chat" ? "/v1/chat/completions" : "/v1/completions";
    if (draining) throw new HttpError(503, "the server is shutting down", "server_shutting_down");
    const eng = engine;
    if (!eng) {
      throw loadError
        ? new HttpError(503, `the models failed to load: ${loadError.message}`, "model_load_failed")
        : new HttpError(503, "the models are still loading; retry shortly", "model_loading", {
          headers: { "retry-after": "5" },
        });
    }
    const parsed = parseRequest(endpoint, await readJson(c.req.raw, config.maxBodyBytes), config);
    const request = parsed.request;
    if (apiKeys.length > 0) {
      request.cacheScope = `key ${keyIndex(apiKeys, c.req.header("authorization") ?? "")}`;
    }
    const promptTokens = eng.countPromptTokens(request);
    const ctx = eng.contextLength;
    const promptParam = endpoint === "chat" ? "messages" : "prompt";
    if (promptTokens >= ctx) {
      throw new InvalidRequestError(
        `This model's maximum context length is ${ctx} tokens; the prompt is ${promptTokens} tokens, leaving none for the completion. Shorten the prompt.`,
        promptParam,
        "context_length_exceeded",
      );
    }
    if (promptTokens + request.maxTokens > ctx) {
      if (parsed.maxTokensExplicit) {
        throw new InvalidRequestError(
          `This model's maximum context length is ${ctx} tokens; the prompt is ${promptTokens} tokens and max_tokens asks for ${request.maxTokens}. Lower max_tokens to at most ${
            ctx - promptTokens
          }.`,
          "max_tokens",
          "context_length_exceeded",
        );
      }
      request.maxTokens = ctx - promptTokens;
    }

    const meta: ResponseMeta = {
      endpoint,
      id: newResponseId(endpoint),
      created: Math.floor(Date.now() / 1000),
      model: parsed.model,
    };
    const rlog = log.child({ request: meta.id });
    const ac = new AbortController();
    flights.add(ac);
    const clientSignal = c.req.raw.signal;
    const onClientGone = () => ac.abort(CLIENT_GONE());
    clientSignal.addEventListener("abort", onClientGone, { once: true });
    const timer = config.requestTimeoutMs > 0
      ? setTimeout(
        () =>
          ac.abort(
            new HttpError(
              408,
              `the request exceeded this server's time limit of ${config.requestTimeoutMs} ms`,
              "timeout",
              { type: "timeout_error" },
            ),
          ),
        config.requestTimeoutMs,
      )
      : undefined;
    let release: (() => void) | undefined;
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      clientSignal.removeEventListener("abort", onClientGone);
      release?.();
      endFlight(ac);
      metrics.requestSeconds.observe((performance.now() - arrival) / 1000, { route });
    };

    let iter: AsyncIterator<GenerateEvent>;
    let first: IteratorResult<GenerateEvent>;
    try {
      release = await limiter.acquire(ac.signal);
      metrics.queueSeconds.observe((performance.now() - arrival) / 1000);
      iter = eng.generate(request, ac.signal)[Symbol.asyncIterator]();
      first = await iter.next();
    } catch (e) {
      finish();
      throw e;
    }
    const abortReason = () => ac.signal.aborted ? ac.signal.reason : null;
    let ttftRecorded = false;
    const onDelta = () => {
      if (ttftRecorded) return;
      ttftRecorded = true;
      metrics.ttftSeconds.observe((performance.now() - arrival) / 1000);
    };
    const onDone = (ev: Extract<GenerateEvent, { type: "done" }>) => {
      metrics.recordGeneration(ev.stats, ev.finishReason);
      rlog.info("generation finished", {
        endpoint,
        stream: parsed.stream,
        strategy: ev.stats.strategy,
        finish: ev.finishReason,
        prompt_tokens: ev.stats.promptTokens,
        completion_tokens: ev.stats.completionTokens,
        rounds: ev.stats.rounds,
        ms: Math.round(performance.now() - arrival),
      });
    };

    if (!parsed.stream) {
      try {
        let text = "";
        let done: Extract<GenerateEvent, { type: "done" }> | null = null;
        for (let r = first; !r.done; r = await iter.next()) {
          const ev = r.value;
          if (ev.type === "delta") {
            onDelta();
            text += ev.text;
          } else done = ev;
        }
        if (!done) throw new Error("the engine ended a generation without a done event");
        onDone(done);
        const reason = abortReason();
        if (done.finishReason === "cancelled" && reason) throw reason;
        return c.json(
          completionBody(meta, text, done.finishReason, usageOf(done.stats)),
          200,
          {
            "x-request-id": meta.id,
          },
        );
      } finally {
        finish();
      }
    }

    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        let open = true;
        const send = (bytes: Uint8Array) => {
          if (!open) return;
          try {
            controller.enqueue(bytes);
          } catch {
            open = false;
          }
        };
        const pump = async () => {
          try {
            const opening = chunks.opening(meta, parsed.includeUsage);
            if (opening) send(sseData(opening));
            let done: Extract<GenerateEvent, { type: "done" }> | null = null;
            for (let r = first; !r.done; r = await iter.next()) {
              const ev = r.value;
              if (ev.type === "delta") {
                onDelta();
                send(sseData(chunks.delta(meta, ev, parsed.includeUsage)));
              } else done = ev;
            }
            if (!done) throw new Error("the engine ended a generation without a done event");
            onDone(done);
            const reason = abortReason();
            if (done.finishReason === "cancelled" && reason) {
              if (statusOf(reason) !== 499) send(sseData(errorBody(reason)));
              return;
            }
            send(sseData(chunks.finish(meta, done.finishReason, parsed.includeUsage)));
            if (parsed.includeUsage) {
              send(
                sseData(chunks.usage(meta, usageOf(done.stats))),
              );
            }
            send(SSE_DONE);
          } catch (e) {
            rlog.error("generation failed", { err: e });
            send(sseData(errorBody(e)));
          } finally {
            finish();
            if (open) {
              try {
                controller.close();
              } catch { /* already closed by the client */ }
            }
          }
        };
        pump();
      },
      cancel() {
        ac.abort(CLIENT_GONE());
      },
    });
    return new Response(stream, {
      status: 200,
      headers: { ...SSE_HEADERS, "x-request-id": meta.id },
    });
  }

  return {
    app,
    fetch: (request: Request) => app.fetch(request),
    metrics,
    limiter,
    get ready() {
      return engine !== null;
    },
    get inFlight() {
      return flights.size;
    },
    drain() {
      draining = true;
    },
    idle() {
      return flights.size === 0
        ? Promise.resolve()
        : new Promise((resolve) => idleWaiters.push(resolve));
    },
    cancelAll(reason = "the server is shutting down") {
      for (const ac of flights) ac.abort(new HttpError(503, reason, "server_shutting_down"));
    },
  };
}

/** Builds the Hono app alone (see `createServer` for its controls). */
export function createApp(deps: ServerDeps): Hono {
  return createServer(deps).app;
}
