/**
 * `deno task serve`: loads the configuration, starts the HTTP server at once (`/health` answers
 * 503 while the models load), then loads the engine. Exits with code 2 on invalid configuration,
 * 1 when the engine fails to load or the server fails to start; on SIGINT / SIGTERM it stops
 * admitting requests, lets in-flight generations finish (10 s grace, then cancels them), closes
 * the engine and exits 0. A second signal exits at once.
 */
import { loadConfig } from "../config.ts";
import { ConfigError } from "../errors.ts";
import { Logger } from "../log.ts";
import { serve } from "../server/serve.ts";
import type { FailFastEngine } from "../engine/engine.ts";
import { benchFigures, createEngine } from "../platform/deno.ts";
import { ensurePolicyBuilt } from "./policy-build.ts";
import { serveModelServer } from "./serve-model-server.ts";

let config;
try {
  config = loadConfig();
} catch (e) {
  console.error(`error: ${(e as Error).message}`);
  Deno.exit(e instanceof ConfigError ? 2 : 1);
}
const log = new Logger(config.logLevel);

try {
  await ensurePolicyBuilt((msg) => log.info(msg));
} catch (e) {
  log.error("start-up failed", { reason: (e as Error).message });
  Deno.exit(1);
}

if (config.role === "model-server") {
  let server;
  try {
    server = serveModelServer(config, log);
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    Deno.exit(e instanceof ConfigError ? 2 : 1);
  }
  const stop = async (signal: string) => {
    log.info("shutting down", { signal });
    await server.shutdown().catch(() => {});
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", () => stop("SIGINT"));
  Deno.addSignalListener("SIGTERM", () => stop("SIGTERM"));
  try {
    await server.ready;
  } catch (e) {
    log.error("exiting: the models failed to load", { reason: (e as Error).message });
    Deno.exit(1);
  }
  await server.finished;
  Deno.exit(0);
}

let engine: FailFastEngine | null = null;
const enginePromise = createEngine(config, log, {
  onProgress: (msg) => log.info("loading", { msg }),
}).then((e) => {
  engine = e;
  log.info("engine ready", { model: e.modelName, context_length: e.contextLength });
  return e;
});

let server;
try {
  server = serve({ config, log, engine: enginePromise, figures: benchFigures() });
} catch (e) {
  log.error("start-up failed", { err: e });
  Deno.exit(1);
}

let signals = 0;
const stop = async (signal: string) => {
  if (++signals > 1) {
    log.warn("second signal: exiting now", { signal });
    Deno.exit(1);
  }
  log.info("shutting down", { signal });
  try {
    await server.shutdown();
    await engine?.close();
  } catch (e) {
    log.error("shutdown failed", { err: e });
    Deno.exit(1);
  }
  log.info("stopped");
  Deno.exit(0);
};
Deno.addSignalListener("SIGINT", () => stop("SIGINT"));
Deno.addSignalListener("SIGTERM", () => stop("SIGTERM"));

try {
  await enginePromise;
} catch (e) {
  log.error("exiting: the engine failed to load", { reason: (e as Error).message });
  await server.shutdown(0).catch(() => {});
  Deno.exit(1);
}
await server.finished;
