/**
 * Cloudflare Workers entry: the same app, with the policy core imported as a compiled wasm
 * module (workerd refuses to compile wasm bytes at run time). Inference will go to a remote
 * backend (`FAILFAST_BACKEND=remote`), since onnxruntime does not fit in a worker.
 */
// @ts-ignore: wrangler bundles .wasm imports as WebAssembly.Module (a CompiledWasm rule)
import policyWasm from "../build/policy.wasm";
import { loadConfig } from "./config.ts";
import { Logger } from "./log.ts";
import { loadPolicy } from "./policy/load-workers.ts";
import { createApp } from "./server/app.ts";
import { InferenceError } from "./errors.ts";
import type { Hono } from "hono";

let app: Promise<Hono> | undefined;

function start(env: Record<string, unknown>): Promise<Hono> {
  const config = loadConfig({
    env: (name) => typeof env[name] === "string" ? env[name] as string : undefined,
  });
  const log = new Logger(config.logLevel);
  // The engine of the edge worker (policy core here, forward passes on a remote backend) is not
  // built yet: the app serves /health (503 with this reason), /v1/models, /metrics and the page.
  const engine = loadPolicy(policyWasm as WebAssembly.Module).then(() => {
    throw new InferenceError(
      "the Workers entry has no engine yet (the remote backend is in progress)",
    );
  });
  return Promise.resolve(createApp({ config, log, engine }));
}

export default {
  async fetch(request: Request, env: Record<string, unknown>, ctx: unknown): Promise<Response> {
    app ??= start(env);
    return (await app).fetch(request, env, ctx as never);
  },
};
