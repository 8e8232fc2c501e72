/**
 * Loads the engine factory `createEngine` from `src/platform/deno.ts` at run time. The module is
 * imported dynamically so that `--help` and usage errors answer without loading onnxruntime, and a
 * failure to load it is a clear runtime error (exit 1); the import is still type-checked.
 */
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import type { Engine } from "../engine/types.ts";

/** An engine that owns resources (model sessions) until `close()`. */
export type ClosableEngine = Engine & { close(): Promise<void> };

/** The signature `src/platform/deno.ts` exports as `createEngine`. */
export type CreateEngine = (
  config: Config,
  log: Logger,
  options?: { onProgress?: (msg: string) => void },
) => Promise<ClosableEngine>;

/** Imports `createEngine`; throws an Error naming the module when it cannot. */
export async function loadCreateEngine(): Promise<CreateEngine> {
  let mod: { createEngine: CreateEngine };
  try {
    mod = await import("../platform/deno.ts");
  } catch (e) {
    throw new Error(`cannot load the engine (src/platform/deno.ts): ${(e as Error).message}`, {
      cause: e,
    });
  }
  if (typeof mod.createEngine !== "function") {
    throw new Error("src/platform/deno.ts does not export createEngine");
  }
  return mod.createEngine;
}
