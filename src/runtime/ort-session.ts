/**
 * A model on onnxruntime: one InferenceSession, created once and reused, behind the ModelSession
 * interface. The same code drives onnxruntime-node (CPU, CUDA) and onnxruntime-web (wasm,
 * WebGPU), which share onnxruntime-common's API.
 *
 * I/O follows the Hugging Face / optimum layout: input_ids, attention_mask, position_ids,
 * past_key_values.{i}.key|value [batch, kv_heads, past, head_dim] -> logits, present.{i}.key|value.
 * Names, layer count, KV heads, head size and dtypes are read from the graph (the config is the
 * fallback for symbolic dimensions), so public exports such as Qwen2.5's load unchanged.
 */

import type * as OrtNode from "onnxruntime-node";
import { InferenceError, ModelLoadError } from "../errors.ts";
import type { ModelConfig } from "../model/config.ts";
import type { ForwardOptions, ForwardResult, KvCache, ModelSession } from "./types.ts";

/** The part of onnxruntime's API both packages share. */
export type Ort = typeof OrtNode;
type Tensor = OrtNode.Tensor;
type Session = OrtNode.InferenceSession;
type KvType = "float32" | "float16";

/** How the graph's KV cache looks. */
export interface KvLayout {
  layers: number;
  kvHeads: number;
  headDim: number;
  dtype: KvType;
  hasPositionIds: boolean;
  hasAttentionMask: boolean;
  /** The graph takes `num_logits_to_keep` (int64 scalar, 0 = all rows). */
  hasLogitsToKeep: boolean;
  logitsDtype: KvType;
}

/** Per-request cache: one key and one value tensor per layer, [1, kvHeads, length, headDim]. */
class OrtKvCache implements KvCache {
  keys: Tensor[] = [];
  values: Tensor[] = [];
  /** Positions held by the tensors (>= length after a truncation not yet applied). */
  stored = 0;
  length = 0;
  released = false;
}

/**
 * onnxruntime stores float16 tensors in Float16Array where the platform has it (Deno, recent
 * browsers) and in Uint16Array (raw bits) elsewhere.
 */
const Half: Uint16ArrayConstructor =
  (globalThis as unknown as { Float16Array?: Uint16ArrayConstructor }).Float16Array ?? Uint16Array;

/** float16 logits to float32 (from a Float16Array, or from raw bits in a Uint16Array). */
function halfToFloat(data: Uint16Array): Float32Array {
  if (!(data instanceof Uint16Array)) return Float32Array.from(data as ArrayLike<number>);
  const bits = data;
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i];
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    out[i] = exp === 0
      ? sign * frac * 2 ** -24
      : exp === 31
      ? (frac ? NaN : sign * Infinity)
      : sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  return out;
}

/** Reads the KV layout from the session's metadata, falling back to the config. */
export function readKvLayout(session: Session, config: ModelConfig, path: string): KvLayout {
  const inputs = session.inputNames;
  const outputs = session.outputNames;
  if (!inputs.includes("input_ids")) {
    throw new ModelLoadError(path, `the graph has no "input_ids" input`);
  }
  if (!outputs.includes("logits")) {
    throw new ModelLoadError(path, `the graph has no "logits" output`);
  }
  let layers = 0;
  while (inputs.includes(`past_key_values.${layers}.key`)) layers++;
  if (layers === 0) {
    throw new ModelLoadError(
      path,
      `the graph has no KV-cache inputs "past_key_values.{i}.key|value"`,
    );
  }
  for (let i = 0; i < layers; i++) {
    const value = `past_key_values.${i}.value`;
    if (!inputs.includes(value)) {
      throw new ModelLoadError(path, `the graph has no "${value}" input`);
    }
    for (const n of [`present.${i}.key`, `present.${i}.value`]) {
      if (!outputs.includes(n)) throw new ModelLoadError(path, `the graph has no "${n}" output`);
    }
  }
  if (layers !== config.numLayers) {
    throw new ModelLoadError(
      path,
      `the graph has ${layers} KV-cache layers but config.json says num_hidden_layers ${config.numLayers}`,
    );
  }
  const meta = (
    names: readonly string[],
    list: readonly OrtNode.InferenceSession.ValueMetadata[],
    name: string,
  ) => {
    const m = list?.[names.indexOf(name)];
    return m && m.isTensor ? m : undefined;
  };
  const past = meta(inputs, session.inputMetadata, "past_key_values.0.key");
  const dim = (i: number, fallback: number) => {
    const d = past?.shape?.[i];
    return typeof d === "number" && d > 0 ? d : fallback;
  };
  const dtypeOf = (t: string | undefined, what: string): KvType => {
    if (t === undefined || t === "float32") return "float32";
    if (t === "float16") return "float16";
    throw new ModelLoadError(
      path,
      `unsupported ${what} dtype ${t} (float32 and float16 are supported)`,
    );
  };
  const logits = meta(outputs, session.outputMetadata, "logits");
  return {
    layers,
    kvHeads: dim(1, config.numKvHeads),
    headDim: dim(3, config.headDim),
    dtype: dtypeOf(past?.type, "KV cache"),
    hasPositionIds: inputs.includes("position_ids"),
    hasAttentionMask: inputs.includes("attention_mask"),
    hasLogitsToKeep: inputs.includes("num_logits_to_keep"),
    logitsDtype: dtypeOf(logits?.type, "logits"),
  };
}

/** `positions` must be a permutation of start .. start + n - 1, in a pass that does not commit. */
function checkPermutation(options: ForwardOptions, start: number, n: number): void {
  const p = options.positions!;
  if (options.commit) {
    throw new InferenceError(
      "positions out of order are only allowed in a pass that does not commit",
    );
  }
  if (p.length !== n) {
    throw new InferenceError(`positions has ${p.length} entries for ${n} tokens`);
  }
  const seen = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const k = p[i] - start;
    if (!Number.isInteger(k) || k < 0 || k >= n || seen[k]) {
      throw new InferenceError(
        `positions must be a permutation of ${start}..${start + n - 1}; got ${p[i]} at index ${i}`,
      );
    }
    seen[k] = 1;
  }
}

export class OrtModelSession implements ModelSession {
  readonly layout: KvLayout;

  constructor(
    private readonly ort: Ort,
    private readonly session: Session,
    readonly config: ModelConfig,
    readonly backend: string,
    path: string,
  ) {
    this.layout = readKvLayout(session, config, path);
    if (
      this.layout.dtype === "float16" && backend.startsWith("ort-node") &&
      "Float16Array" in globalThis
    ) {
      // onnxruntime-node's native binding reads Float16Array inputs as empty (seen with 1.30 in
      // Deno), so every pass would fail: refuse up front with the way out.
      throw new ModelLoadError(
        path,
        "float16 KV caches do not work with onnxruntime-node here; use FAILFAST_BACKEND=ort-web-wasm " +
          "(or ort-web-webgpu), or a float32 export",
      );
    }
  }

  createCache(): KvCache {
    return new OrtKvCache();
  }

  private own(cache: KvCache): OrtKvCache {
    if (!(cache instanceof OrtKvCache)) {
      throw new InferenceError("the cache belongs to another backend");
    }
    if (cache.released) throw new InferenceError("the cache was released");
    return cache;
  }

  private emptyKv(): Tensor {
    const { kvHeads, headDim, dtype } = this.layout;
    const data = dtype === "float16" ? new Half(0) : new Float32Array(0);
    return new this.ort.Tensor(dtype, data, [1, kvHeads, 0, headDim]);
  }

  /**
   * Applies a pending truncation in place: each head's first `length` positions move down
   * to close the gap left by the head before it (a memmove of all heads but the first, no new
   * buffer), and the tensor is re-wrapped over the front of the same buffer.
   */
  private materialize(c: OrtKvCache): void {
    if (c.stored === c.length) return;
    const { kvHeads, headDim } = this.layout;
    const keep = c.length * headDim;
    const was = c.stored * headDim;
    const shrink = (t: Tensor): Tensor => {
      const data = t.data as Float32Array | Uint16Array;
      for (let h = 1; h < kvHeads; h++) data.copyWithin(h * keep, h * was, h * was + keep);
      return new this.ort.Tensor(t.type as KvType, data.subarray(0, kvHeads * keep), [
        1,
        kvHeads,
        c.length,
        headDim,
      ]);
    };
    c.keys = c.keys.map(shrink);
    c.values = c.values.map(shrink);
    c.stored = c.length;
  }

  async forward(
    cache: KvCache,
    tokens: ArrayLike<number>,
    options: ForwardOptions,
  ): Promise<ForwardResult> {
    const t0 = performance.now();
    const c = this.own(cache);
    const n = tokens.length;
    if (n === 0) throw new InferenceError("a forward pass needs at least one token");
    if (c.length + n > this.config.maxPositions) {
      throw new InferenceError(
        `context overflow: ${c.length} cached + ${n} new positions exceed the model's ${this.config.maxPositions}`,
      );
    }
    const rows = Math.min(options.lastRows ?? n, n);
    if (!Number.isInteger(rows) || rows < 1) {
      throw new InferenceError(`lastRows must be a positive integer, got ${options.lastRows}`);
    }
    if (options.positions) {
      if (!this.layout.hasPositionIds) {
        throw new InferenceError("the graph has no position_ids input: tokens must run in order");
      }
      checkPermutation(options, c.length, n);
    }
    this.materialize(c);
    const { Tensor } = this.ort;
    const ids = new BigInt64Array(n);
    for (let i = 0; i < n; i++) ids[i] = BigInt(tokens[i]);
    const feeds: Record<string, Tensor> = { input_ids: new Tensor("int64", ids, [1, n]) };
    if (this.layout.hasAttentionMask) {
      feeds.attention_mask = new Tensor("int64", new BigInt64Array(c.length + n).fill(1n), [
        1,
        c.length + n,
      ]);
    }
    if (this.layout.hasPositionIds) {
      const pos = new BigInt64Array(n);
      const given = options.positions;
      for (let i = 0; i < n; i++) pos[i] = BigInt(given ? given[i] : c.length + i);
      feeds.position_ids = new Tensor("int64", pos, [1, n]);
    }
    if (this.layout.hasLogitsToKeep) {
      feeds.num_logits_to_keep = new Tensor("int64", BigInt64Array.of(BigInt(rows)), []);
    }
    for (let i = 0; i < this.layout.layers; i++) {
      feeds[`past_key_values.${i}.key`] = c.keys[i] ?? this.emptyKv();
      feeds[`past_key_values.${i}.value`] = c.values[i] ?? this.emptyKv();
    }
    const t1 = performance.now();
    let out: OrtNode.InferenceSession.ReturnType;
    try {
      out = await this.session.run(feeds);
    } catch (e) {
      throw new InferenceError(`${this.backend} forward pass failed: ${(e as Error).message}`, {
        cause: e,
      });
    }
    const t2 = performance.now();
    const logitsTensor = out.logits as Tensor;
    const vocab = Number(logitsTensor.dims[logitsTensor.dims.length - 1]);
    const returned = Number(logitsTensor.dims[logitsTensor.dims.length - 2]);
    const raw = logitsTensor.data;
    const logits = this.layout.logitsDtype === "float16"
      ? halfToFloat((raw as Uint16Array).subarray((returned - rows) * vocab))
      : (raw as Float32Array).subarray((returned - rows) * vocab);
    if (logits.length !== rows * vocab) {
      throw new InferenceError(`logits have ${logits.length} values, expected ${rows} x ${vocab}`);
    }
    logitsTensor.dispose?.(); // releases the tensor's hold; `logits` keeps the data alive
    for (let i = 0; i < this.layout.layers; i++) {
      const k = out[`present.${i}.key`] as Tensor;
      const v = out[`present.${i}.value`] as Tensor;
      if (options.commit) {
        c.keys[i]?.dispose?.();
        c.values[i]?.dispose?.();
        c.keys[i] = k;
        c.values[i] = v;
      } else {
        k.dispose?.();
        v.dispose?.();
      }
    }
    if (options.commit) {
      c.length += n;
      c.stored = c.length;
    }
    const t3 = performance.now();
    return { logits, rows, vocab, timing: { runMs: t2 - t1, totalMs: t3 - t0 } };
  }

  truncate(cache: KvCache, length: number): void {
    const c = this.own(cache);
    if (!Number.isInteger(length) || length < 0 || length > c.length) {
      throw new InferenceError(`cannot truncate a cache of ${c.length} positions to ${length}`);
    }
    c.length = length; // applied lazily, once, by the next forward pass
  }

  release(cache: KvCache): void {
    if (!(cache instanceof OrtKvCache) || cache.released) return;
    for (const t of [...cache.keys, ...cache.values]) t.dispose?.();
    cache.keys = [];
    cache.values = [];
    cache.length = cache.stored = 0;
    cache.released = true;
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
