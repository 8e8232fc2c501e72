// Context lookup: n-gram index, longest backward match, support, incremental growth.
import assert from "node:assert/strict";
import { ContextLookup, MAX_MATCH, TokenIndex } from "../src/engine/context-lookup.ts";

Deno.test("context lookup: proposes what followed the latest longest match of the text's end", () => {
  const look = new ContextLookup(2);
  //            0  1  2  3  4  5  6  7  8  9 10 11
  const text = [1, 2, 3, 4, 5, 9, 2, 3, 7, 8, 2, 3];
  const c = look.lookup(text, 10)!;
  // [2, 3] occurred twice before; [9, 2, 3] is not in the text, so both match 2 tokens and the
  // newest wins (positions 6-7, followed by 7, 8, 2, 3)
  assert.deepEqual(c.tokens, [7, 8, 2, 3]);
  assert.equal(c.matchLength, 2);
  assert.equal(c.origin, "context");
  // the longer match wins over the newer one
  const c2 = new ContextLookup(2).lookup([5, 2, 3, 4, 1, 9, 2, 3, 6, 5, 2, 3], 3)!;
  assert.deepEqual(c2.tokens, [4, 1, 9]);
  assert.equal(c2.matchLength, 3);
});

Deno.test("context lookup: support counts occurrences that continue alike", () => {
  const text = [1, 2, 8, 0, 1, 2, 8, 0, 1, 2, 5, 0, 1, 2];
  const c = new ContextLookup(2).lookup(text, 4)!;
  // three earlier [1, 2]: the newest-longest is followed by 5, the others by 8
  assert.equal(c.tokens[0], 5);
  assert.equal(c.support, 1);
  assert.equal(c.matchLength, 3); // [0, 1, 2]
  const d = new ContextLookup(2).lookup([...text.slice(0, 10), 8, 0, 1, 2], 4)!;
  assert.equal(d.tokens[0], 8);
  assert.equal(d.support, 3);
});

Deno.test("context lookup: nothing to propose without an earlier occurrence", () => {
  const look = new ContextLookup(3);
  assert.equal(look.lookup([1, 2], 8), null, "shorter than the key");
  assert.equal(look.lookup([1, 2, 3, 4, 5], 8), null, "no repeat");
  assert.equal(look.lookup([1, 2, 3, 4, 5, 6], 0), null, "no room");
});

Deno.test("context lookup: grows with the context and clips at its end", () => {
  const look = new ContextLookup(2);
  const text = [4, 5, 6];
  assert.equal(look.lookup(text, 8), null);
  text.push(4, 5);
  assert.deepEqual(look.lookup(text, 8)!.tokens, [6, 4, 5], "the continuation ends with the text");
  text.push(6, 4, 5);
  const c = look.lookup(text, 2)!;
  assert.deepEqual(c.tokens, [6, 4]);
  assert.equal(c.matchLength, 5);
});

Deno.test("context lookup: a match is measured up to MAX_MATCH tokens", () => {
  const run = Array.from({ length: 100 }, (_, i) => 10 + i);
  const c = new ContextLookup(2).lookup([...run, 0, ...run], 4)!;
  assert.equal(c.matchLength, MAX_MATCH);
  assert.deepEqual(c.tokens, [0, 10, 11, 12]);
});

Deno.test("token index: removing a sequence drops its entries only", () => {
  const index = new TokenIndex(2);
  index.append(1, [1, 2, 3, 4]);
  index.append(2, [9, 1, 2, 7]);
  assert.equal(index.tokens, 8);
  assert.deepEqual(index.lookup([5, 1, 2], 2, "history")!.tokens, [7]);
  index.remove(2);
  assert.equal(index.tokens, 4);
  assert.deepEqual(index.lookup([5, 1, 2], 2, "history")!.tokens, [3, 4]);
  index.remove(1);
  assert.equal(index.tokens, 0);
  assert.equal(index.lookup([5, 1, 2], 2, "history"), null);
  assert.throws(() => new TokenIndex(0), RangeError);
});
