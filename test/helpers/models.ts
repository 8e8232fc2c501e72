/** Where tests find the bundled models (FAILFAST_TEST_MODELS overrides, for trying other exports). */

export const MODELS_ROOT = Deno.env.get("FAILFAST_TEST_MODELS") ??
  decodeURIComponent(new URL("../../models", import.meta.url).pathname);

export const VERIFIER_DIR = `${MODELS_ROOT}/tiny-gsm-verifier`;
export const DRAFTER_DIR = `${MODELS_ROOT}/tiny-gsm-drafter`;
export const AR_DRAFTER_DIR = `${MODELS_ROOT}/tiny-gsm-ar-drafter`;

/** Reads a model's golden fixture (written by models/train/export_model.py from PyTorch). */
export interface Fixture {
  input_ids: number[];
  prefill: { positions: number[]; logits: number[][]; argmax: number[] };
  incremental: { prefill_len: number; step_ids: number[]; step_logits: number[][] };
  greedy: { ids: number[] };
  block_window: {
    bd_size: number;
    prefix_ids: number[];
    window_ids: number[];
    rows: number[];
    logits: number[][];
    argmax: number[];
  };
}

export async function readFixture(dir: string): Promise<Fixture> {
  return JSON.parse(await Deno.readTextFile(`${dir}/fixture.json`));
}

/** Largest absolute difference between a row of logits and its expected values. */
export function maxAbsDiff(got: Float32Array, want: number[]): number {
  let d = 0;
  for (let i = 0; i < want.length; i++) d = Math.max(d, Math.abs(got[i] - want[i]));
  return d;
}

/** Row `r` of a rows x vocab logits array. */
export function row(logits: Float32Array, r: number, vocab: number): Float32Array {
  return logits.subarray(r * vocab, (r + 1) * vocab);
}

/** First index of the maximum (torch.argmax's tie rule). */
export function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}
