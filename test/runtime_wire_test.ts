import assert from "node:assert/strict";
import { decodeFrame, encodeFrame, WireError } from "../src/runtime/wire.ts";

Deno.test("wire: a frame round-trips its header and typed sections, each 4-byte aligned", () => {
  // a header whose length is not a multiple of 4, and sections that are views into larger buffers
  const ids = new Int32Array([7, -1, 2 ** 31 - 1, 0, 4093]).subarray(1, 4);
  const probs = new Float32Array([0.25, 0.5, 1e-30, 1]);
  const frame = encodeFrame({ kind: "rows", n: 3, nested: { a: [1, "x"] } }, { ids, probs });
  assert.equal(frame.length % 4, 0);
  const { header, sections } = decodeFrame(frame);
  assert.deepEqual(header, { kind: "rows", n: 3, nested: { a: [1, "x"] } });
  assert.ok(sections.ids instanceof Int32Array);
  assert.deepEqual([...sections.ids], [-1, 2 ** 31 - 1, 0]);
  assert.ok(sections.probs instanceof Float32Array);
  assert.deepEqual([...sections.probs], [...probs]);
  assert.deepEqual(decodeFrame(encodeFrame({})), { header: {}, sections: {} });
});

Deno.test("wire: a frame read from inside a larger buffer decodes the same", () => {
  const frame = encodeFrame({ ok: true }, { t: Int32Array.of(1, 2, 3) });
  const padded = new Uint8Array(frame.length + 3);
  padded.set(frame, 3); // not aligned: decoding must not assume the frame's offset
  const { header, sections } = decodeFrame(padded.subarray(3));
  assert.deepEqual(header, { ok: true });
  assert.deepEqual([...sections.t], [1, 2, 3]);
});

Deno.test("wire: a malformed frame is a WireError that says what is wrong", () => {
  const good = encodeFrame({ commit: true }, { tokens: Int32Array.of(1, 2) });
  const withHeader = (text: string, extra = new Uint8Array()) => {
    const json = new TextEncoder().encode(text);
    const pad = (4 - ((8 + json.length) % 4)) % 4;
    const out = new Uint8Array(8 + json.length + pad + extra.length);
    const view = new DataView(out.buffer);
    view.setUint32(0, 0x31574646, true);
    view.setUint32(4, json.length, true);
    out.set(json, 8);
    out.set(extra, 8 + json.length + pad);
    return out;
  };
  const hugeHeader = good.slice();
  new DataView(hugeHeader.buffer).setUint32(4, 1 << 20, true);
  const cases: [string, Uint8Array, RegExp][] = [
    ["too short", good.slice(0, 5), /at least 8 bytes/],
    ["wrong magic", Uint8Array.from([1, 2, 3, 4, 0, 0, 0, 0]), /not a FFW1 frame/],
    ["header past the end", good.slice(0, 12), /header length/],
    ["oversized header", hugeHeader, /header length/],
    ["header not JSON", withHeader("{nope"), /not JSON/],
    ["header not an object", withHeader("[1,2]"), /must be a JSON object/],
    ["sections not a list", withHeader('{"sections":3}'), /must be a list/],
    [
      "unknown section type",
      withHeader('{"sections":[{"name":"x","type":"u8","length":1}]}', new Uint8Array(4)),
      /bad section description/,
    ],
    [
      "negative length",
      withHeader('{"sections":[{"name":"x","type":"i32","length":-1}]}'),
      /bad section description/,
    ],
    ["truncated section", good.slice(0, good.length - 4), /runs past the frame's end/],
    ["trailing bytes", Uint8Array.from([...good, 0, 0, 0, 0]), /bytes after its last section/],
  ];
  for (const [what, bytes, message] of cases) {
    assert.throws(() => decodeFrame(bytes), (e: unknown) => {
      assert.ok(e instanceof WireError, `${what}: ${e}`);
      assert.match(e.message, message, what);
      return true;
    });
  }
});
