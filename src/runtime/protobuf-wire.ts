/**
 * Protocol Buffers wire format, just enough to rewrite an ONNX model in place: a message decodes
 * to its fields in order, each with its raw payload, and encodes back from them. Fields the
 * caller does not touch go back byte for byte, so no schema is needed beyond the field numbers
 * the caller reads (https://protobuf.dev/programming-guides/encoding/).
 */

/** Wire types: varint, 64-bit, length-delimited, 32-bit (groups are not supported). */
export const VARINT = 0, I64 = 1, LEN = 2, I32 = 5;

/** One field of a message: its number, wire type and payload (a varint's own bytes). */
export interface WireField {
  field: number;
  wire: number;
  bytes: Uint8Array;
}

export class WireFormatError extends Error {}

function readVarint(buf: Uint8Array, pos: number): [value: number, next: number] {
  let value = 0, scale = 1;
  for (let i = pos; i < buf.length && i < pos + 10; i++) {
    value += (buf[i] & 0x7f) * scale;
    scale *= 128;
    if (!(buf[i] & 0x80)) return [value, i + 1];
  }
  throw new WireFormatError(`bad varint at byte ${pos}`);
}

/** A varint payload's value (exact up to 2^53, which covers sizes, counts and enums). */
export function varintValue(bytes: Uint8Array): number {
  return readVarint(bytes, 0)[0];
}

export function decodeMessage(buf: Uint8Array): WireField[] {
  const fields: WireField[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const [tag, start] = readVarint(buf, pos);
    const field = Math.floor(tag / 8), wire = tag % 8;
    if (field === 0) throw new WireFormatError(`field number 0 at byte ${pos}`);
    let from = start, to: number;
    switch (wire) {
      case VARINT:
        to = readVarint(buf, start)[1];
        break;
      case I64:
        to = start + 8;
        break;
      case I32:
        to = start + 4;
        break;
      case LEN: {
        const [length, body] = readVarint(buf, start);
        from = body;
        to = body + length;
        break;
      }
      default:
        throw new WireFormatError(`unsupported wire type ${wire} at byte ${pos}`);
    }
    if (to > buf.length) throw new WireFormatError(`field ${field} runs past the end`);
    fields.push({ field, wire, bytes: buf.subarray(from, to) });
    pos = to;
  }
  return fields;
}

function varintBytes(value: number): number[] {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new WireFormatError(`cannot encode ${value} as a varint`);
  }
  const out: number[] = [];
  while (value >= 128) {
    out.push((value % 128) | 0x80);
    value = Math.floor(value / 128);
  }
  out.push(value);
  return out;
}

export function encodeMessage(fields: WireField[]): Uint8Array {
  const parts: Uint8Array[] = [];
  let size = 0;
  for (const f of fields) {
    const head = varintBytes(f.field * 8 + f.wire);
    if (f.wire === LEN) head.push(...varintBytes(f.bytes.length));
    const h = Uint8Array.from(head);
    parts.push(h, f.bytes);
    size += h.length + f.bytes.length;
  }
  const out = new Uint8Array(size);
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

export const varintField = (field: number, value: number): WireField => ({
  field,
  wire: VARINT,
  bytes: Uint8Array.from(varintBytes(value)),
});

export const bytesField = (field: number, bytes: Uint8Array): WireField => ({
  field,
  wire: LEN,
  bytes,
});

export const stringField = (field: number, text: string): WireField =>
  bytesField(field, new TextEncoder().encode(text));

export const fieldText = (f: WireField): string => new TextDecoder().decode(f.bytes);

/** The values of a repeated int64 field, packed or not. */
export function repeatedVarints(fields: WireField[], field: number): number[] {
  const out: number[] = [];
  for (const f of fields) {
    if (f.field !== field) continue;
    if (f.wire === VARINT) out.push(varintValue(f.bytes));
    else if (f.wire === LEN) {
      for (let pos = 0; pos < f.bytes.length;) {
        const [v, next] = readVarint(f.bytes, pos);
        out.push(v);
        pos = next;
      }
    }
  }
  return out;
}
