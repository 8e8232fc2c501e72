// Lookups across requests: bounded memory, oldest-first eviction, scopes that never meet.
import assert from "node:assert/strict";
import { LookupHistory } from "../src/engine/lookup-history.ts";

const output = (seed: number, n: number) => Array.from({ length: n }, (_, i) => seed * 1000 + i);

Deno.test("lookup history: an earlier output continues a matching context", () => {
  const h = new LookupHistory(1000, 3);
  h.add("", [7, 7, 7], [1, 2, 3, 4, 5, 6]);
  const c = h.lookup("", [9, 9, 2, 3, 4], 8)!;
  assert.deepEqual(c.tokens, [5, 6]);
  assert.equal(c.origin, "history");
  assert.equal(c.matchLength, 3);
  // the prompt's tail is kept, so an answer's opening matches too
  assert.deepEqual(h.lookup("", [0, 7, 7, 7], 2)!.tokens, [1, 2]);
  assert.equal(h.lookup("", [1, 2], 8), null, "shorter than the key");
});

Deno.test("lookup history: filled past its capacity it evicts the oldest and stays bounded", () => {
  const cap = 500;
  const h = new LookupHistory(cap, 4);
  for (let i = 1; i <= 40; i++) {
    h.add(`scope ${i % 3}`, [], output(i, 60));
    assert.ok(h.tokens <= cap, `held ${h.tokens} > ${cap}`);
  }
  assert.ok(h.tokens > cap - 60, "it keeps what fits");
  // the newest outputs are there, the oldest are gone
  const newest = output(40, 60);
  assert.deepEqual(
    h.lookup(`scope ${40 % 3}`, newest.slice(0, 10), 3)!.tokens,
    newest.slice(10, 13),
  );
  const oldest = output(1, 60);
  assert.equal(h.lookup(`scope ${1 % 3}`, oldest.slice(0, 10), 3), null);
  // an output longer than the whole capacity keeps its end
  h.add("big", [], output(99, 2 * cap));
  assert.equal(h.tokens, cap);
  assert.equal(h.size, 1);
});

Deno.test("lookup history: a scope sees only its own outputs", () => {
  const h = new LookupHistory(10_000, 3);
  h.add("key A", [], [1, 2, 3, 4, 5]);
  assert.equal(h.lookup("key B", [1, 2, 3], 4), null);
  assert.deepEqual(h.lookup("key A", [1, 2, 3], 4)!.tokens, [4, 5]);
  h.add("key B", [], [1, 2, 3, 8, 9]);
  assert.deepEqual(h.lookup("key B", [1, 2, 3], 4)!.tokens, [8, 9]);
  assert.deepEqual(h.lookup("key A", [1, 2, 3], 4)!.tokens, [4, 5]);
});

Deno.test("lookup history: capacity 0 keeps nothing; bad capacities are refused", () => {
  const h = new LookupHistory(0, 3);
  h.add("", [], [1, 2, 3, 4, 5]);
  assert.equal(h.tokens, 0);
  assert.equal(h.lookup("", [1, 2, 3], 4), null);
  assert.throws(() => new LookupHistory(-1, 3), RangeError);
  assert.throws(() => new LookupHistory(1.5, 3), RangeError);
});
