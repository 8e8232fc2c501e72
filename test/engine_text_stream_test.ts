import assert from "node:assert/strict";
import { TextStream } from "../src/engine/text-stream.ts";

// A byte-level "tokenizer": each id is one byte of UTF-8.
const decoder = new TextDecoder();
const decode = (ids: number[]) => decoder.decode(new Uint8Array(ids));
const bytes = (s: string) => [...new TextEncoder().encode(s)];

function streamAll(
  text: string,
  stop: string[],
  chunk: number,
): { out: string[]; stopped: boolean } {
  const ts = new TextStream(decode, stop);
  const ids = bytes(text);
  const out: string[] = [];
  for (let i = 0; i < ids.length && !ts.stopped; i += chunk) {
    out.push(ts.push(ids.slice(i, i + chunk)));
  }
  out.push(ts.flush());
  return { out, stopped: ts.stopped };
}

Deno.test("text stream: never splits a multi-byte character", () => {
  const text = "héllo wörld — 数学 🚀 done";
  for (const chunk of [1, 2, 3, 5]) {
    const { out } = streamAll(text, [], chunk);
    assert.equal(out.join(""), text);
    for (const piece of out) assert.ok(!piece.includes("\uFFFD"), `chunk ${chunk}: ${piece}`);
  }
});

Deno.test("text stream: stop strings end the text, across chunk boundaries", () => {
  const text = "Answer: 42\n#### 42\nmore text";
  for (const chunk of [1, 2, 4, 7, 100]) {
    const { out, stopped } = streamAll(text, ["####"], chunk);
    assert.equal(out.join(""), "Answer: 42\n", `chunk ${chunk}`);
    assert.ok(stopped);
  }
  // the earliest of several stop strings wins; a partial match that does not complete is emitted
  const { out } = streamAll("a#b##c###d", ["###", "zz"], 1);
  assert.equal(out.join(""), "a#b##c");
  const { out: none, stopped } = streamAll("ends with #", ["##"], 1);
  assert.equal(none.join(""), "ends with #");
  assert.equal(stopped, false);
});

Deno.test("text stream: held-back text is released once it cannot be a stop string", () => {
  const ts = new TextStream(decode, ["STOP"]);
  assert.equal(ts.push(bytes("go ST")), "go ");
  assert.equal(ts.push(bytes("AR")), "STAR");
  assert.equal(ts.push(bytes("T S")), "T ");
  assert.equal(ts.push(bytes("TOP!")), "");
  assert.ok(ts.stopped);
  assert.equal(ts.flush(), "");
});
