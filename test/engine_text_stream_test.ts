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

Deno.test("text stream: a decoder that drops a sequence's leading space keeps inner spaces", () => {
  // SentencePiece style: "▁" is a space, and a sequence's leading space is dropped.
  const pieces = ["▁Hello", "▁world", "!", "▁How", "▁are", "▁you", "?"];
  const sp = (ids: number[]) =>
    ids.map((i) => pieces[i]).join("").replaceAll("▁", " ").replace(/^ /, "");
  const all = pieces.map((_, i) => i);
  for (const chunk of [1, 2, 3]) {
    const ts = new TextStream(sp);
    let out = "";
    for (let i = 0; i < all.length; i += chunk) out += ts.push(all.slice(i, i + chunk));
    out += ts.flush();
    assert.equal(out, sp(all), `chunk ${chunk}`);
  }
});

Deno.test("text stream: each push decodes only the new ids and a short piece before them", () => {
  let decoded = 0;
  const counting = (ids: number[]) => {
    decoded += ids.length;
    return decode(ids);
  };
  const ts = new TextStream(counting);
  const ids = bytes("x".repeat(2000));
  let out = "";
  for (let i = 0; i < ids.length; i += 4) out += ts.push(ids.slice(i, i + 4));
  out += ts.flush();
  assert.equal(out, "x".repeat(2000));
  // the whole text decoded at every push would be about 2000^2 / 8 = 500,000 ids
  assert.ok(decoded < 10 * ids.length, `decoded ${decoded} ids`);
});
