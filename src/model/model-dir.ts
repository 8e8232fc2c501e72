/**
 * Loading a Hugging Face / optimum model directory:
 *   config.json, generation_config.json (optional), tokenizer.json, tokenizer_config.json,
 *   onnx/model.onnx
 * Every missing or corrupt file fails with a ModelLoadError naming the file.
 */

import { ModelLoadError } from "../errors.ts";
import { type ModelConfig, type ModelKind, parseModelConfig } from "./config.ts";
import { TextTokenizer } from "./tokenizer.ts";

/** The text files of a model besides its graph: what a model server sends a remote engine. */
export interface ModelSources {
  config: string;
  generationConfig: string | null;
  tokenizer: string;
  tokenizerConfig: string;
}

/** A model as the engine sees it: config and tokenizer, wherever its graph runs. */
export interface ModelInfo {
  /** Where it came from (a directory, or a model server's URL), for messages. */
  dir: string;
  kind: ModelKind;
  config: ModelConfig;
  tokenizer: TextTokenizer;
  sources: ModelSources;
}

/** A model directory on this host. */
export interface ModelDir extends ModelInfo {
  /** Path of the ONNX graph. */
  onnxPath: string;
}

async function readText(path: string, what: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    const reason = e instanceof Deno.errors.NotFound ? "missing" : (e as Error).message;
    throw new ModelLoadError(path, `cannot read ${what}: ${reason}`);
  }
}

function parseJson(path: string, what: string, text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new ModelLoadError(path, `${what} is not valid JSON: ${(e as Error).message}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new ModelLoadError(path, `${what} must hold a JSON object`);
  }
  return value as Record<string, unknown>;
}

/** Loads and checks a model directory of the given kind. */
export async function loadModelDir(dir: string, kind: ModelKind): Promise<ModelDir> {
  dir = dir.replace(/\/+$/, "");
  try {
    const stat = await Deno.stat(dir);
    if (!stat.isDirectory) throw new ModelLoadError(dir, "is not a directory");
  } catch (e) {
    if (e instanceof ModelLoadError) throw e;
    throw new ModelLoadError(dir, "model directory not found");
  }
  let generationConfig: string | null;
  try {
    generationConfig = await Deno.readTextFile(`${dir}/generation_config.json`);
  } catch {
    generationConfig = null; // optional
  }
  const info = modelFromSources(dir, kind, {
    config: await readText(`${dir}/config.json`, "config.json"),
    generationConfig,
    tokenizer: await readText(`${dir}/tokenizer.json`, "tokenizer.json"),
    tokenizerConfig: await readText(`${dir}/tokenizer_config.json`, "tokenizer_config.json"),
  });
  const onnxPath = `${dir}/onnx/model.onnx`;
  try {
    const stat = await Deno.stat(onnxPath);
    if (!stat.isFile || stat.size === 0) throw new Error("empty");
  } catch {
    throw new ModelLoadError(onnxPath, "ONNX graph missing or empty");
  }
  return { ...info, onnxPath };
}

/** Parses and checks a model's text files (read from a directory or received from a server). */
export function modelFromSources(dir: string, kind: ModelKind, sources: ModelSources): ModelInfo {
  const config = parseModelConfig(
    `${dir}/config.json`,
    sources.config,
    kind,
    sources.generationConfig ?? undefined,
  );
  const tokenizer = new TextTokenizer(
    dir,
    parseJson(`${dir}/tokenizer.json`, "tokenizer.json", sources.tokenizer),
    parseJson(`${dir}/tokenizer_config.json`, "tokenizer_config.json", sources.tokenizerConfig),
  );
  if (tokenizer.size > config.vocabSize) {
    throw new ModelLoadError(
      `${dir}/tokenizer.json`,
      `the tokenizer has ${tokenizer.size} ids but config.json says vocab_size ${config.vocabSize}`,
    );
  }
  return { dir, kind, config, tokenizer, sources };
}

/**
 * Checks that a drafter speaks the verifier's vocabulary: same size, and the same ids for a
 * probe of texts (a drafter proposing ids in another vocabulary would be rejected every time).
 */
export function checkSameVocabulary(verifier: ModelInfo, drafter: ModelInfo): void {
  const probe = ["The answer is 42.", "<|im_start|>user\nHi<|im_end|>", " 3 + 4 = 7\n#### 7"];
  const sameSize = verifier.config.vocabSize === drafter.config.vocabSize;
  const sameIds = probe.every((t) =>
    JSON.stringify(verifier.tokenizer.encode(t)) === JSON.stringify(drafter.tokenizer.encode(t))
  );
  if (!sameSize || !sameIds) {
    throw new ModelLoadError(
      `${drafter.dir}/tokenizer.json`,
      `the drafter's vocabulary does not match the verifier's (${verifier.dir}): ` +
        (sameSize
          ? "the same text encodes to different ids"
          : `vocab_size ${drafter.config.vocabSize} vs ${verifier.config.vocabSize}`),
    );
  }
}
