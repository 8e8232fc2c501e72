/** A chi-square check that sampled tokens follow a known distribution. */
import assert from "node:assert/strict";

/**
 * Asserts that `counts` (token -> times sampled, `n` samples) fit `p` at p = 0.001: chi-square
 * over the likely tokens (`support`) plus one cell for all others, against the Wilson-Hilferty
 * bound of the critical value for its degrees of freedom.
 */
export function assertSampledFrom(
  counts: Map<number, number>,
  p: ArrayLike<number>,
  support: readonly number[],
  n: number,
  label: string,
): void {
  let chi = 0;
  let otherP = 1, otherN = n;
  for (const t of support) {
    const c = counts.get(t) ?? 0;
    chi += (c - n * p[t]) ** 2 / (n * p[t]);
    otherP -= p[t];
    otherN -= c;
  }
  if (otherP > 1e-3) chi += (otherN - n * otherP) ** 2 / (n * otherP);
  const df = support.length + (otherP > 1e-3 ? 0 : -1);
  const critical = df * (1 - 2 / (9 * df) + 3.09 * Math.sqrt(2 / (9 * df))) ** 3;
  assert.ok(
    chi < critical,
    `${label}: chi-square ${chi.toFixed(1)} >= ${critical.toFixed(1)} (df ${df})`,
  );
}
