/** Test helpers for the server: configs, a silent logger, SSE reading. */
import { type Config, defaultConfig } from "../../src/config.ts";
import { Logger } from "../../src/log.ts";
import { parseSseData } from "../../src/server/sse.ts";

/** The default configuration with overrides (port 0: a free one). */
export function testConfig(overrides: Partial<Config> = {}): Config {
  return { ...defaultConfig(), host: "127.0.0.1", port: 0, logLevel: "silent", ...overrides };
}

export const silentLog: Logger = new Logger("silent");

/** Reads a whole SSE response: the raw text and its parsed `data:` payloads. */
export async function readSse(res: Response): Promise<{ raw: string; events: string[] }> {
  const raw = await res.text();
  return { raw, events: parseSseData(raw) };
}

/** A loosely typed JSON object, for assertions on response bodies. */
// deno-lint-ignore no-explicit-any
export type Json = Record<string, any>;

/** JSON payloads of an SSE stream (without `[DONE]`). */
export function jsonEvents(events: string[]): Json[] {
  return events.filter((e) => e !== "[DONE]").map((e) => JSON.parse(e));
}

/** POSTs JSON to an app's `fetch`-like function (or `app.request`). */
export function postJson(
  request: (path: string, init: RequestInit) => Response | Promise<Response>,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return Promise.resolve(request(path, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  }));
}
