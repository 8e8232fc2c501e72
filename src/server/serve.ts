/**
 * Serving the app with `Deno.serve`, and its graceful shutdown: stop admitting generations,
 * let in-flight ones finish for a grace period, cancel what is left, close the listener.
 */
import { createServer, type ServerDeps, type ServerHandle } from "./app.ts";

/** True when the handle has no generation in flight within `ms`. */
async function idleWithin(handle: ServerHandle, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([handle.idle().then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A running server. */
export interface RunningServer {
  handle: ServerHandle;
  /** Base URL, e.g. `http://127.0.0.1:8000`. */
  url: string;
  port: number;
  /**
   * Graceful shutdown: refuses new generations, waits up to `graceMs` for in-flight ones,
   * cancels the rest, then closes the listener. Safe to call more than once.
   */
  shutdown(graceMs?: number): Promise<void>;
  /** Resolves when the listener has closed. */
  finished: Promise<void>;
}

/**
 * Starts the app on `config.host:config.port` (port 0 picks a free one).
 *
 * @example
 * const server = serve({ config, log, engine: createEngine(config, log) });
 * console.log(server.url);
 * await server.shutdown();
 */
export function serve(
  deps: ServerDeps,
): RunningServer {
  const handle = createServer(deps);
  const { log } = deps;
  const server = Deno.serve({
    hostname: deps.config.host,
    port: deps.config.port,
    onListen: () => {},
    onError: (e) => {
      log.error("unhandled request error", { err: e });
      return new Response(
        JSON.stringify({
          error: { message: "internal error", type: "server_error", param: null, code: null },
        }),
        {
          status: 500,
          headers: { "content-type": "application/json" },
        },
      );
    },
  }, handle.fetch);
  const addr = server.addr as Deno.NetAddr;
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  const url = `http://${host}:${addr.port}`;
  log.info("listening", { url });
  let stopping: Promise<void> | null = null;
  return {
    handle,
    url,
    port: addr.port,
    finished: server.finished,
    shutdown(graceMs = 10_000) {
      stopping ??= (async () => {
        handle.drain();
        if (handle.inFlight > 0) {
          log.info("waiting for in-flight generations", {
            count: handle.inFlight,
            grace_ms: graceMs,
          });
          if (!await idleWithin(handle, graceMs)) {
            log.warn("cancelling in-flight generations", { count: handle.inFlight });
            handle.cancelAll();
            // The engine stops within one round; don't wait forever for one that does not.
            if (!await idleWithin(handle, 5_000)) {
              log.error("generations still running after cancellation", { count: handle.inFlight });
            }
          }
        }
        await server.shutdown();
      })();
      return stopping;
    },
  };
}
