/**
 * The HTTP application (Hono): OpenAI-compatible routes over an `Engine`. It knows the engine
 * only through `ServerDeps`, never a runtime, so the same app runs under Deno, Node and
 * Cloudflare Workers.
 *
 * Routes: `POST /v1/chat/completions`, `POST /v1/completions` (streaming and not, in
 * generation.ts), `GET /v1/models`, `GET /v1/models/:id`, `GET /health` (503 until the engine is
 * ready), `GET /metrics` (Prometheus text), `GET /` (the demo page), `GET /figures/:name` (the
 * benchmark's figures, where the host has them). Middleware: middleware.ts.
 */
import { Hono } from "hono";
import { cors } from "hono/cors";
import type { Config } from "../config.ts";
import { STRATEGIES } from "../params.ts";
import type { Logger } from "../log.ts";
import { InvalidRequestError } from "../errors.ts";
import type { Engine } from "../engine/types.ts";
import { type GenerationDeps, generationRoute } from "./generation.ts";
import { errorResponse, HttpError, statusOf } from "./http-errors.ts";
import { Limiter } from "./limits.ts";
import { Metrics } from "./metrics.ts";
import { apiKeyAuth, apiKeysOf, limitBody, requestMetrics } from "./middleware.ts";
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

  app.use("*", requestMetrics(metrics));

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

  const apiKeys = apiKeysOf(config.apiKey);
  if (apiKeys.length > 0) app.use("/v1/*", apiKeyAuth(apiKeys));
  app.use("/v1/*", limitBody(config.maxBodyBytes));

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

  const generation: GenerationDeps = {
    config,
    log,
    metrics,
    limiter,
    apiKeys,
    engine: () => {
      if (draining) throw new HttpError(503, "the server is shutting down", "server_shutting_down");
      if (engine) return engine;
      throw loadError
        ? new HttpError(503, `the models failed to load: ${loadError.message}`, "model_load_failed")
        : new HttpError(503, "the models are still loading; retry shortly", "model_loading", {
          headers: { "retry-after": "5" },
        });
    },
    begin: () => {
      const flight = new AbortController();
      flights.add(flight);
      return flight;
    },
    end: endFlight,
  };
  app.post("/v1/chat/completions", generationRoute(generation, "chat"));
  app.post("/v1/completions", generationRoute(generation, "completions"));
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
