/**
 * The model-server role of `deno task serve` (FAILFAST_ROLE=model-server): loads the configured
 * models and serves their passes and drafts to remote engines. /health answers 503 until the
 * models are loaded. Without FAILFAST_MODEL_SERVER_KEY it binds only to a loopback address.
 */
import type { Config } from "../config.ts";
import { ConfigError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { createModelServer, type ModelServerHandle } from "../model-server/app.ts";
import { openModels } from "../platform/deno.ts";

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);

/** A running model server. */
export interface RunningModelServer {
  url: string;
  ready: Promise<ModelServerHandle>;
  shutdown(): Promise<void>;
  finished: Promise<void>;
}

export function serveModelServer(config: Config, log: Logger): RunningModelServer {
  if (config.backend === "remote") {
    throw new ConfigError(
      "FAILFAST_BACKEND",
      "a model server runs its models itself: use ort-node, ort-web-wasm or ort-web-webgpu",
    );
  }
  if (!config.modelServerKey && !LOOPBACK.has(config.host)) {
    throw new ConfigError(
      "FAILFAST_MODEL_SERVER_KEY",
      `a model server on ${config.host} needs a key (or bind HOST to 127.0.0.1)`,
    );
  }
  let handle: ModelServerHandle | null = null;
  const ready = openModels(config, log, (msg) => log.info("loading", { msg })).then((parts) => {
    handle = createModelServer({ config, log, parts });
    log.info("model server ready", {
      models: "verifier" + (parts.drafter ? ",drafter" : "") +
        (parts.arDrafter ? ",ar-drafter" : ""),
    });
    return handle;
  });
  ready.catch(() => {});
  const server = Deno.serve(
    {
      hostname: config.host,
      port: config.port,
      onListen: () => {},
    },
    (request) =>
      handle
        ? handle.fetch(request)
        : Response.json({ status: "loading" }, { status: 503, headers: { "retry-after": "1" } }),
  );
  const addr = server.addr as Deno.NetAddr;
  const url = `http://${
    addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname
  }:${addr.port}`;
  log.info("listening", { url, role: "model-server" });
  return {
    url,
    ready,
    finished: server.finished,
    async shutdown() {
      await server.shutdown();
      (handle as ModelServerHandle | null)?.close();
    },
  };
}
