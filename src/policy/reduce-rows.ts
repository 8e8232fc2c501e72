/**
 * Reduced rows of a pass (runtime RowOutput) from its logits, with the policy core: what a model
 * server sends instead of full rows. Each kind is computed by the same kernels the local engine
 * verifies with, so a remote verdict equals a local one bit for bit.
 */

import type { RowOutput, RowsResult } from "../runtime/types.ts";
import type { PolicyCore } from "./core.ts";

/** The largest k a top-k output may ask for. */
export const MAX_TOP_K = 256;

export function reduceRows(
  policy: PolicyCore,
  logits: Float32Array,
  rows: number,
  vocab: number,
  output: RowOutput,
): Pick<RowsResult, "ids" | "probs"> {
  switch (output.kind) {
    case "argmax": {
      // one pass for both: confidences() takes each row's argmax as argmax() does (verifyGreedy's
      // kernel), so ties break the same way as in a local verdict
      const { tokens: ids, confidences: probs } = policy.confidences(logits, vocab);
      return { ids, probs };
    }
    case "sample": {
      const ids = new Int32Array(rows);
      for (let r = 0; r < rows; r++) {
        const row = logits.subarray(r * vocab, (r + 1) * vocab);
        ids[r] = policy.verifyAtPositions(
          row,
          vocab,
          [],
          output.sampling,
          output.seed,
          output.position + r,
        ).next;
      }
      return { ids, probs: null };
    }
    case "topk":
      return topK(logits, rows, vocab, Math.min(output.k, vocab));
  }
}

/** The k most likely ids of each row and their softmax probabilities, most likely first. */
function topK(
  logits: Float32Array,
  rows: number,
  vocab: number,
  k: number,
): Pick<RowsResult, "ids" | "probs"> {
  const ids = new Int32Array(rows * k);
  const probs = new Float32Array(rows * k);
  for (let r = 0; r < rows; r++) {
    const row = logits.subarray(r * vocab, (r + 1) * vocab);
    let max = -Infinity;
    for (let i = 0; i < vocab; i++) if (row[i] > max) max = row[i];
    let sum = 0;
    for (let i = 0; i < vocab; i++) sum += Math.exp(row[i] - max);
    // a sorted list of the best k so far: fine for the small k this serves
    const best: number[] = [];
    for (let i = 0; i < vocab; i++) {
      if (best.length === k && row[i] <= row[best[k - 1]]) continue;
      let at = best.length;
      while (at > 0 && row[best[at - 1]] < row[i]) at--;
      best.splice(at, 0, i);
      if (best.length > k) best.pop();
    }
    for (let j = 0; j < k; j++) {
      ids[r * k + j] = best[j];
      probs[r * k + j] = Math.exp(row[best[j]] - max) / sum;
    }
  }
  return { ids, probs };
}
