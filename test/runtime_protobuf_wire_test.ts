import assert from "node:assert/strict";
import {
  decodeMessage,
  encodeMessage,
  fieldText,
  LEN,
  repeatedVarints,
  stringField,
  varintField,
  varintValue,
  WireFormatError,
} from "../src/runtime/protobuf-wire.ts";

Deno.test("protobuf wire: fields round-trip; packed and unpacked repeated varints read alike", () => {
  const big = 2 ** 40 + 7;
  const msg = encodeMessage([
    varintField(1, 300),
    stringField(2, "MatMul"),
    varintField(3, big),
    varintField(4, 5),
    varintField(4, 6),
    { field: 5, wire: LEN, bytes: Uint8Array.of(7, 0xac, 0x02) }, // packed 7, 300
  ]);
  const fields = decodeMessage(msg);
  assert.deepEqual(fields.map((f) => f.field), [1, 2, 3, 4, 4, 5]);
  assert.equal(varintValue(fields[0].bytes), 300);
  assert.equal(fieldText(fields[1]), "MatMul");
  assert.equal(varintValue(fields[2].bytes), big);
  assert.deepEqual(repeatedVarints(fields, 4), [5, 6]);
  assert.deepEqual(repeatedVarints(fields, 5), [7, 300]);
  assert.deepEqual(encodeMessage(fields), msg, "re-encoding gives the same bytes");
});

Deno.test("protobuf wire: truncated or malformed input is a WireFormatError", () => {
  const msg = encodeMessage([stringField(2, "a long enough string")]);
  assert.throws(() => decodeMessage(msg.subarray(0, msg.length - 3)), WireFormatError);
  assert.throws(() => decodeMessage(Uint8Array.of(0x08, 0xff, 0xff)), WireFormatError);
});
