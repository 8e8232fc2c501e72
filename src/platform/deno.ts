/**
 * The Deno host: opens the configured models from their directories on onnxruntime (or, with
 * FAILFAST_BACKEND=remote, from a model server), loads the policy core from build/policy.wasm,
 * and keeps profiled pass costs in a cache file. Nothing host-neutral lives here.
 */

import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import {
  type EngineParts,
  FailFastEngine,
  type LoadedModel,
  readyEngine,
} from "../engine/engine.ts";
import { fileCostCache } from "../engine/pass-cost-cache.ts";
import { checkSameVocabulary, loadModelDir, type ModelDir } from "../model/model-dir.ts";
import { loadPolicy } from "../policy/load-deno.ts";
import { openModel, type RuntimeOptions } from "../runtime/create.ts";
import type { FigureSource } from "../server/app.ts";
import { openRemoteEngine } from "./remote-engine.ts";

type Progress = (message: string) => void;

/** The configured cost-cache file: FAILFAST_COST_CACHE, or the user's cache folder; null: off. */
function costCachePath(config: Config): string | null {
  if (config.costCache === "off") return null;
  if (config.costCache) return config.costCache;
  const env = (name: string) => {
    try {
      return Deno.env.get(name);
    } catch {
      return undefined;
    }
  };
  const base = env("XDG_CACHE_HOME") || (env("HOME") ? `${env("HOME")}/.cache` : "");
  return base ? `${base}/failfast/pass-costs.json` : null;
}

/** What the pass costs depend on: the model files and how they run. */
async function costKey(config: Config, models: (ModelDir | null)[]): Promise<string> {
  const files = await Promise.all(models.map(async (m) => {
    if (!m) return null;
    const stat = await Deno.stat(m.onnxPath);
    return { path: m.onnxPath, size: stat.size, mtime: stat.mtime?.getTime() ?? 0 };
  }));
  return JSON.stringify({
    files,
    backend: config.backend,
    device: config.device,
    threads: config.threads,
    drafterThreads: config.drafterThreads,
    drafterSpin: config.drafterSpin,
    drafterQuantize: config.drafterQuantize,
    graphOptimization: config.graphOptimization,
    maxRows: config.nMax + 1,
  });
}

/** Opens one model directory on the configured runtime, with `runtime` overriding the config. */
async function openLoaded(
  config: Config,
  log: Logger,
  progress: Progress,
  dir: string,
  kind: "ar" | "dllm",
  what: string,
  runtime: Partial<RuntimeOptions> = {},
): Promise<LoadedModel & { dir: ModelDir }> {
  progress(`loading ${what} from ${dir}`);
  const model = await loadModelDir(dir, kind);
  const session = await openModel(model, { ...config, ...runtime });
  log.info("model loaded", { what, dir, backend: session.backend });
  return { dir: model, session };
}

/**
 * Opens the configured drafters as an engine runs them (directories set to "" give null).
 * Drafter passes alternate with verifier passes on the same cores, and onnxruntime-node's pools
 * spin-wait after a pass: the verifier's, which plain decoding wants, takes the cores a
 * multi-threaded drafter pass needs, and a spinning drafter pool slows the verifier's next pass
 * (bench/results/runtime.md, the "after a ... pass" rows). So drafters run on one thread by
 * default, and sleep at once when given more; with FAILFAST_DRAFTER_QUANTIZE=int8 their weight
 * matrices run in int8.
 */
export async function openDrafters(
  config: Config,
  log: Logger,
  progress: Progress = () => {},
): Promise<{ drafter: LoadedModel | null; arDrafter: LoadedModel | null }> {
  const runtime: Partial<RuntimeOptions> = {
    spin: config.drafterSpin,
    ...(config.backend === "ort-node" && config.drafterThreads > 0
      ? { threads: config.drafterThreads }
      : {}),
    ...(config.drafterQuantize === "int8" ? { quantize: "int8" as const } : {}),
  };
  const open = (dir: string, kind: "ar" | "dllm", what: string) =>
    openLoaded(config, log, progress, dir, kind, what, runtime);
  const drafter = config.drafterDir
    ? await open(config.drafterDir, "dllm", "diffusion drafter")
    : null;
  const arDrafter = config.arDrafterDir
    ? await open(config.arDrafterDir, "ar", "AR drafter")
    : null;
  return { drafter, arDrafter };
}

/** The verifier and drafters of the configuration, opened on this host, with the policy core. */
export async function openModels(
  config: Config,
  log: Logger,
  progress: Progress = () => {},
): Promise<EngineParts & { verifier: LoadedModel & { dir: ModelDir } }> {
  progress("loading the policy core");
  const policy = await loadPolicy();
  const verifier = await openLoaded(config, log, progress, config.verifierDir, "ar", "verifier");
  const { drafter, arDrafter } = await openDrafters(config, log, progress);
  for (const d of [drafter, arDrafter]) if (d) checkSameVocabulary(verifier.dir, d.dir);
  return { verifier, drafter, arDrafter, policy };
}

/**
 * Loads the configured models and the policy core and returns a ready engine. Drafter
 * directories set to "" are skipped (their strategies are unavailable); the configured default
 * strategy must be runnable. With FAILFAST_BACKEND=remote the models are a model server's.
 */
export async function createEngine(
  config: Config,
  log: Logger,
  options: { onProgress?: Progress } = {},
): Promise<FailFastEngine> {
  const progress = options.onProgress ?? (() => {});
  if (config.backend === "remote") {
    progress("loading the policy core");
    return await openRemoteEngine(config, log, await loadPolicy(), { progress });
  }
  const parts = await openModels(config, log, progress);
  const { verifier, drafter, arDrafter } = parts;
  const cachePath = costCachePath(config);
  const costCache = cachePath
    ? {
      cache: fileCostCache(cachePath, log),
      key: await costKey(config, [
        verifier.dir,
        (drafter?.dir as ModelDir | undefined) ?? null,
        (arDrafter?.dir as ModelDir | undefined) ?? null,
      ]),
    }
    : undefined;
  return await readyEngine(new FailFastEngine(parts, config, log, { costCache }), config, progress);
}

/** The benchmark's figures in bench/results/figures/ beside the source, if there are any. */
export function benchFigures(
  dir: URL = new URL("../../bench/results/figures/", import.meta.url),
): FigureSource {
  return {
    async list() {
      const names: string[] = [];
      try {
        for await (const e of Deno.readDir(dir)) {
          if (e.isFile && e.name.endsWith(".svg")) names.push(e.name);
        }
      } catch {
        return []; // no benchmark figures in this installation
      }
      return names.sort();
    },
    async read(name) {
      try {
        return await Deno.readTextFile(new URL(name, dir));
      } catch {
        return null;
      }
    },
  };
}
