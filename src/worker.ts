/**
 * Cloudflare Workers entry: the same app as the Deno server's, over an engine whose forward
 * passes and drafts go to the project's model server (FAILFAST_BACKEND=remote,
 * FAILFAST_REMOTE_URL, FAILFAST_REMOTE_KEY as a secret). The policy core is imported as a
 * compiled wasm module (workerd refuses to compile wasm bytes at run time). The models' config
 * and tokenizer come from the model server at the first request; if it cannot be reached, the
 * request answers 503 and a later one tries again.
 */
// @ts-ignore: wrangler bundles .wasm imports as WebAssembly.Module (a CompiledWasm rule)
import policyWasm from "../build/policy.wasm";
import { AsyncLocalStorage } from "node:async_hooks";
import { loadConfig } from "./config.ts";
import { Logger } from "./log.ts";
import { openRemoteEngine, remoteClientOf } from "./platform/remote-engine.ts";
import { loadPolicy } from "./policy/load-workers.ts";
import { createServer, type ServerHandle } from "./server/app.ts";

/** A failed engine start is retried by a request at least this long after it. */
const RETRY_AFTER_MS = 1000;

interface Started {
  handle: ServerHandle;
  ready: Promise<unknown>;
}

/** What a Workers invocation offers to outlive its response. */
interface ExecutionContext {
  waitUntil(promise: Promise<unknown>): void;
}

let app: Started | undefined;
/** The invocation a piece of work belongs to (nodejs_compat's AsyncLocalStorage). */
const invocation = new AsyncLocalStorage<{ ctx: ExecutionContext; signal: AbortSignal }>();

/**
 * Frees a session when its request's client disconnects: in the abort listener itself, the
 * invocation's last moment to start I/O (request.signal, the enable_request_signal flag).
 */
function freeOnDisconnect(free: () => Promise<unknown>): void {
  const current = invocation.getStore();
  current?.signal.addEventListener("abort", () => current.ctx.waitUntil(free()), { once: true });
}
let failedAt = 0;

/**
 * The app and its engine's start. Requests wait for the start (a worker's isolate is often
 * new: answering "loading" to its first request would fail most cold requests).
 */
function start(env: Record<string, unknown>): Started {
  const config = loadConfig({
    env: (name) => typeof env[name] === "string" ? env[name] as string : undefined,
  });
  const log = new Logger(config.logLevel);
  const t0 = Date.now();
  const engine = loadPolicy(policyWasm as WebAssembly.Module).then((policy) =>
    openRemoteEngine({ ...config, backend: "remote" }, log, policy, {
      client: remoteClientOf(config, freeOnDisconnect),
    })
  );
  const ready = engine.then(
    () => log.info("engine ready", { cold_start_ms: Date.now() - t0 }),
    (e) => {
      log.error("the engine failed to start", { reason: (e as Error).message });
      failedAt = Date.now();
    },
  );
  return { handle: createServer({ config, log, engine }), ready };
}

export default {
  async fetch(request: Request, env: Record<string, unknown>, ctx: unknown): Promise<Response> {
    if (!app || (failedAt && Date.now() - failedAt > RETRY_AFTER_MS)) {
      failedAt = 0;
      app = start(env);
    }
    const started = app;
    await started.ready;
    return await invocation.run(
      { ctx: ctx as ExecutionContext, signal: request.signal },
      () => started.handle.app.fetch(request, env, ctx as never),
    );
  },
};
