/**
 * config.json and generation_config.json of a Hugging Face model directory, reduced to what the
 * engine needs. Qwen2 keys (as in the public Qwen2.5 exports); a block-diffusion drafter adds
 * `mask_token_id` and `bd_size`.
 */

import { ModelLoadError } from "../errors.ts";

/** What kind of model a directory must hold. */
export type ModelKind = "ar" | "dllm";

export interface ModelConfig {
  modelType: string;
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  maxPositions: number;
  bosTokenId: number | null;
  /** Every id that ends generation (config and generation_config together). */
  eosTokenIds: number[];
  padTokenId: number | null;
  /** dLLM only. */
  maskTokenId: number | null;
  /** dLLM only: block size B of block-causal attention. */
  blockSize: number | null;
  /** dLLM only: sub-block size S (default 8). */
  subBlockSize: number | null;
  /**
   * dLLM only: where a denoising pass's window ends (`denoise_window`). "block_end" (the
   * default, Fast-dLLM v2): the whole current block, later sub-blocks as masks; "sub_block_end":
   * the end of the sub-block being decided, for a drafter trained with such windows (fewer rows).
   */
  denoiseWindow: DenoiseWindow | null;
}

export const DENOISE_WINDOWS = ["block_end", "sub_block_end"] as const;
export type DenoiseWindow = typeof DENOISE_WINDOWS[number];

function ids(value: unknown): number[] {
  if (value === undefined || value === null) return [];
  const list = Array.isArray(value) ? value : [value];
  return list.filter((v): v is number => Number.isInteger(v) && v >= 0);
}

/**
 * Parses config.json (and optionally generation_config.json) text. `path` names the file in
 * errors.
 */
export function parseModelConfig(
  path: string,
  text: string,
  kind: ModelKind,
  generationText?: string,
): ModelConfig {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ModelLoadError(path, `not valid JSON: ${(e as Error).message}`);
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new ModelLoadError(path, "must hold a JSON object");
  }
  const int = (key: string, fallback?: number): number => {
    const v = raw[key] ?? fallback;
    if (!Number.isInteger(v) || (v as number) <= 0) {
      throw new ModelLoadError(
        path,
        `"${key}" must be a positive integer, got ${JSON.stringify(raw[key])}`,
      );
    }
    return v as number;
  };
  const hiddenSize = int("hidden_size");
  const numHeads = int("num_attention_heads");
  const numKvHeads = int("num_key_value_heads", numHeads);
  const headDim = int("head_dim", Math.floor(hiddenSize / numHeads));
  let generation: Record<string, unknown> = {};
  if (generationText !== undefined) {
    try {
      generation = JSON.parse(generationText);
    } catch (e) {
      throw new ModelLoadError(
        path.replace(/config\.json$/, "generation_config.json"),
        `not valid JSON: ${(e as Error).message}`,
      );
    }
  }
  const eos = [...new Set([...ids(raw.eos_token_id), ...ids(generation.eos_token_id)])];
  const config: ModelConfig = {
    modelType: typeof raw.model_type === "string" ? raw.model_type : "unknown",
    vocabSize: int("vocab_size"),
    hiddenSize,
    numLayers: int("num_hidden_layers"),
    numHeads,
    numKvHeads,
    headDim,
    maxPositions: int("max_position_embeddings"),
    bosTokenId: ids(raw.bos_token_id)[0] ?? null,
    eosTokenIds: eos,
    padTokenId: ids(raw.pad_token_id)[0] ?? null,
    maskTokenId: ids(raw.mask_token_id)[0] ?? null,
    blockSize: ids(raw.bd_size)[0] ?? null,
    subBlockSize: ids(raw.sub_block_size)[0] ?? null,
    denoiseWindow: null,
  };
  if (eos.length === 0) {
    throw new ModelLoadError(path, `no "eos_token_id": generation could never stop`);
  }
  if (kind === "dllm") {
    if (config.maskTokenId === null) {
      throw new ModelLoadError(path, `a diffusion drafter needs "mask_token_id"`);
    }
    if (config.blockSize === null || config.blockSize < 1) {
      throw new ModelLoadError(path, `a diffusion drafter needs "bd_size" (its block size)`);
    }
    config.subBlockSize ??= Math.min(8, config.blockSize);
    if (config.blockSize % config.subBlockSize !== 0) {
      throw new ModelLoadError(path, `"sub_block_size" must divide "bd_size"`);
    }
    const window = raw.denoise_window ?? "block_end";
    if (!DENOISE_WINDOWS.includes(window as DenoiseWindow)) {
      throw new ModelLoadError(
        path,
        `"denoise_window" must be one of ${DENOISE_WINDOWS.map((w) => `"${w}"`).join(", ")}, got ${
          JSON.stringify(raw.denoise_window)
        }`,
      );
    }
    config.denoiseWindow = window as DenoiseWindow;
    if (config.maskTokenId >= config.vocabSize) {
      throw new ModelLoadError(
        path,
        `"mask_token_id" ${config.maskTokenId} is outside the vocabulary`,
      );
    }
  }
  return config;
}
