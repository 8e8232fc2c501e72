/**
 * The app's middleware: request metrics, API-key auth, and the JSON body of a generation request
 * (Hono's bodyLimit, answered in OpenAI's error shape).
 */
import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { timingSafeEqual } from "hono/utils/buffer";
import { InvalidRequestError } from "../errors.ts";
import { HttpError } from "./http-errors.ts";
import type { Metrics } from "./metrics.ts";

const KNOWN_ROUTES = new Set([
  "/",
  "/health",
  "/metrics",
  "/v1/models",
  "/v1/chat/completions",
  "/v1/completions",
]);

/** A bounded label for a request path (unknown paths are "other"). */
export function routeLabel(path: string): string {
  if (KNOWN_ROUTES.has(path)) return path;
  if (path.startsWith("/v1/models/")) return "/v1/models/:id";
  if (path.startsWith("/figures/")) return "/figures/:name";
  return "other";
}

/** Counts every request by route and status. */
export function requestMetrics(metrics: Metrics): MiddlewareHandler {
  return async (c, next) => {
    await next();
    metrics.requests.inc({ route: routeLabel(c.req.path), code: String(c.res.status) });
  };
}

/**
 * The configured API keys (`FAILFAST_API_KEY`, comma-separated for several); none: no auth.
 * Each key is a scope of the engine's lookup cache, so that one client's speed never tells what
 * another generated.
 */
export function apiKeysOf(apiKey: string): string[] {
  return apiKey.split(",").map((k) => k.trim()).filter((k) => k !== "");
}

const encoder = new TextEncoder();

/**
 * The index of the key a request's `Authorization: Bearer` header carries, or -1. Every key is
 * compared (Hono's timingSafeEqual hashes both sides), so the time taken tells neither which key
 * matched nor how much of one did.
 */
export async function keyIndex(keys: readonly string[], header: string): Promise<number> {
  const match = /^Bearer\s+(.+)$/i.exec(header.trim());
  if (!match) return -1;
  const presented = encoder.encode(match[1]).buffer;
  let found = -1;
  for (const [i, k] of keys.entries()) {
    if (await timingSafeEqual(presented, encoder.encode(k).buffer)) found = i;
  }
  return found;
}

declare module "hono" {
  interface ContextVariableMap {
    /** The index of the configured key an authenticated request carried (apiKeyAuth). */
    apiKeyIndex: number;
  }
}

/** Which of the configured keys `c`'s request carried; -1 when the app checks no keys. */
export function requestKeyIndex(c: Context): number {
  return c.get("apiKeyIndex") ?? -1;
}

/**
 * Refuses /v1/* requests without one of `keys` (401, with OpenAI's messages); the key an accepted
 * request carried is kept for requestKeyIndex.
 */
export function apiKeyAuth(keys: readonly string[]): MiddlewareHandler {
  return async (c, next) => {
    const header = c.req.header("authorization") ?? "";
    const index = await keyIndex(keys, header);
    if (index < 0) {
      throw new HttpError(
        401,
        /^Bearer\s+\S/i.test(header.trim())
          ? "Incorrect API key provided."
          : "Missing API key: send an Authorization: Bearer <key> header.",
        "invalid_api_key",
        { headers: { "www-authenticate": "Bearer" } },
      );
    }
    c.set("apiKeyIndex", index);
    await next();
  };
}

/** Refuses a body larger than `maxBytes` with 413 (declared or streamed; Hono's bodyLimit). */
export function limitBody(maxBytes: number): MiddlewareHandler {
  return bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new HttpError(
        413,
        `the request body is larger than this server's limit of ${maxBytes} bytes`,
        "request_too_large",
      );
    },
  });
}

/** The request's body as JSON; an empty or malformed one is a 400 naming what is wrong. */
export async function jsonBody(c: Context): Promise<unknown> {
  const text = await c.req.text();
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
