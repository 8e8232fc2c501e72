/**
 * The HTTP application (Hono). It knows the engine only through `ServerDeps`, never a runtime,
 * so the same app runs under Deno, Node and Cloudflare Workers.
 */
import { Hono } from "hono";
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import { FailFastError, InvalidRequestError } from "../errors.ts";
import type { PolicyCore } from "../policy/core.ts";

/** What the app needs from its host. */
export interface ServerDeps {
  config: Config;
  log: Logger;
  policy: PolicyCore;
}

/** OpenAI-style error body. */
export function errorBody(e: FailFastError | Error) {
  const ff = e instanceof FailFastError ? e : null;
  return {
    error: {
      message: e.message,
      type: e instanceof InvalidRequestError ? "invalid_request_error" : "server_error",
      param: e instanceof InvalidRequestError ? e.param : null,
      code: ff?.code ?? null,
    },
  };
}

/** Builds the Hono app. */
export function createApp(deps: ServerDeps): Hono {
  const app = new Hono();
  app.get("/health", (c) =>
    c.json({
      status: "ok",
      policy: "loaded",
      strategy: deps.config.strategy,
    }));
  app.notFound((c) =>
    c.json(errorBody(new InvalidRequestError(`no route ${c.req.method} ${c.req.path}`)), 404)
  );
  app.onError((e, c) => {
    deps.log.error("request failed", { path: c.req.path, err: e });
    return c.json(errorBody(e), e instanceof InvalidRequestError ? 400 : 500);
  });
  return app;
}
