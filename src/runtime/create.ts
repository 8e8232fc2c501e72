/**
 * Chooses the inference backend at deploy time (FAILFAST_BACKEND) and opens a model on it.
 * onnxruntime packages are imported lazily, so a deployment only loads the one it uses.
 */

import { InferenceError } from "../errors.ts";
import type { ModelDir } from "../model/model-dir.ts";
import { type Ort, OrtModelSession } from "./ort-session.ts";
import { QuantizeError, quantizeMatMulWeights } from "./quantize-weights.ts";
import type { Backend, Device, GraphOptLevel, ModelSession } from "./types.ts";

export interface RuntimeOptions {
  backend: Backend;
  device: Device;
  /** Intra-op threads (0: the runtime's choice). */
  threads: number;
  graphOptimization: GraphOptLevel;
  /**
   * onnxruntime-node only: let the session's intra-op threads spin-wait after a pass (the
   * runtime's default). false puts them to sleep at once, so they do not take the cores the
   * next pass of another session needs.
   */
  spin?: boolean;
  /**
   * "int8": run the model's constant-weight MatMuls in int8, rewritten in memory at load time
   * (quantize-weights.ts). For drafters only: a verifier's logits must stay exact.
   */
  quantize?: "int8";
}

let ortWebWasm: Promise<Ort> | undefined;
let ortWebGpu: Promise<Ort> | undefined;

async function importOrt(backend: RuntimeOptions["backend"]): Promise<Ort> {
  switch (backend) {
    case "ort-node":
      return await import("onnxruntime-node");
    case "ort-web-wasm":
      ortWebWasm ??= import("onnxruntime-web") as unknown as Promise<Ort>;
      return await ortWebWasm;
    case "ort-web-webgpu":
      ortWebGpu ??= import("onnxruntime-web/webgpu") as unknown as Promise<Ort>;
      return await ortWebGpu;
    case "remote":
      // a remote engine's models are sessions on a model server (runtime/remote.ts), never files
      throw new InferenceError(
        "FAILFAST_BACKEND=remote runs an engine on a model server's models; the model server " +
          "itself needs a local backend: ort-node, ort-web-wasm or ort-web-webgpu",
      );
  }
}

/** Opens `model` on the configured backend; the session is created once and reused. */
export async function openModel(model: ModelDir, options: RuntimeOptions): Promise<ModelSession> {
  const ort = await importOrt(options.backend);
  const sessionOptions: Record<string, unknown> = {
    graphOptimizationLevel: options.graphOptimization,
    logSeverityLevel: 3, // errors only: node-placement warnings are noise here
  };
  let backend: string = options.backend;
  let source: string | Uint8Array = model.onnxPath;
  if (options.backend === "ort-node") {
    if (options.threads > 0) sessionOptions.intraOpNumThreads = options.threads;
    if (options.spin === false) {
      sessionOptions.extra = { session: { intra_op: { allow_spinning: "0" } } };
    }
    sessionOptions.executionProviders = options.device === "cuda" ? ["cuda"] : ["cpu"];
    backend = `ort-node/${options.device}`;
  } else {
    if (options.threads > 0) ort.env.wasm.numThreads = options.threads;
    sessionOptions.executionProviders = [options.backend === "ort-web-webgpu" ? "webgpu" : "wasm"];
    source = await Deno.readFile(model.onnxPath);
  }
  if (options.quantize === "int8") {
    const bytes = source instanceof Uint8Array ? source : await Deno.readFile(model.onnxPath);
    try {
      source = quantizeMatMulWeights(bytes).model;
    } catch (e) {
      if (!(e instanceof QuantizeError)) throw e;
      throw new InferenceError(`cannot quantize ${model.onnxPath} to int8: ${e.message}`, {
        cause: e,
      });
    }
  }
  let session;
  try {
    session = await ort.InferenceSession.create(source as string, sessionOptions);
  } catch (e) {
    const hint = options.device === "cuda"
      ? " (is the CUDA execution provider installed? onnxruntime-node needs its CUDA binaries)"
      : "";
    throw new InferenceError(
      `cannot open ${model.onnxPath} on ${backend}: ${(e as Error).message}${hint}`,
      {
        cause: e,
      },
    );
  }
  return new OrtModelSession(ort, session, model.config, backend, model.onnxPath);
}
