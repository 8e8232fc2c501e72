/**
 * The binary framing of the model-server protocol: a small JSON header and typed arrays, with no
 * number ever spelled out as text. A frame is
 *
 *   "FFW1" | u32 header length (little-endian) | header JSON | pad to 4 | section | section ...
 *
 * where the header's `sections` lists each array's name, element type and length, in order; each
 * section starts on a 4-byte boundary, so it is read in place as an Int32Array or Float32Array.
 * Token ids travel as int32, probabilities and logits as float32.
 */

const MAGIC = 0x31574646; // "FFW1" read as a little-endian u32
/** A header larger than this is refused before it is parsed. */
const MAX_HEADER_BYTES = 1 << 16;

export const FRAME_CONTENT_TYPE = "application/x-failfast-frame";

/** The model-server protocol's version: an engine refuses a server that speaks another. */
export const PROTOCOL_VERSION = 1;

type SectionType = "i32" | "f32";
type SectionArray = Int32Array | Float32Array;

interface SectionInfo {
  name: string;
  type: SectionType;
  length: number;
}

/** A frame that does not parse: the message says what is wrong with it. */
export class WireError extends Error {
  override name = "WireError";
}

export interface Frame {
  header: Record<string, unknown>;
  sections: Record<string, SectionArray>;
}

const align4 = (n: number) => (n + 3) & ~3;

/** Encodes a header and named arrays into one frame. */
export function encodeFrame(
  header: Record<string, unknown>,
  sections: Record<string, SectionArray> = {},
): Uint8Array<ArrayBuffer> {
  const infos: SectionInfo[] = Object.entries(sections).map(([name, a]) => ({
    name,
    type: a instanceof Int32Array ? "i32" : "f32",
    length: a.length,
  }));
  const json = new TextEncoder().encode(JSON.stringify({ ...header, sections: infos }));
  let size = align4(8 + json.length);
  for (const s of infos) size += s.length * 4;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, json.length, true);
  out.set(json, 8);
  let at = align4(8 + json.length);
  for (const a of Object.values(sections)) {
    out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), at);
    at += a.byteLength;
  }
  return out;
}

/** Decodes a frame; a truncated, oversized or inconsistent one is a WireError. */
export function decodeFrame(bytes: Uint8Array): Frame {
  if (bytes.length < 8) throw new WireError("a frame has at least 8 bytes");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== MAGIC) throw new WireError("not a FFW1 frame");
  const headerBytes = view.getUint32(4, true);
  if (headerBytes > MAX_HEADER_BYTES || 8 + headerBytes > bytes.length) {
    throw new WireError(`the frame's header length ${headerBytes} does not fit the frame`);
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerBytes)));
  } catch (e) {
    throw new WireError(`the frame's header is not JSON: ${(e as Error).message}`);
  }
  if (header === null || typeof header !== "object" || Array.isArray(header)) {
    throw new WireError("the frame's header must be a JSON object");
  }
  const infos = header.sections ?? [];
  if (!Array.isArray(infos)) throw new WireError("the frame's sections must be a list");
  delete header.sections;
  // Copied into one aligned buffer, so every section is a typed array of its own.
  const body = bytes.slice(align4(8 + headerBytes));
  const sections: Record<string, SectionArray> = {};
  let at = 0;
  for (const info of infos as SectionInfo[]) {
    const ok = info && typeof info.name === "string" &&
      (info.type === "i32" || info.type === "f32") &&
      Number.isSafeInteger(info.length) && info.length >= 0;
    if (!ok) throw new WireError(`bad section description ${JSON.stringify(info)}`);
    const end = at + info.length * 4;
    if (end > body.length) throw new WireError(`section ${info.name} runs past the frame's end`);
    sections[info.name] = info.type === "i32"
      ? new Int32Array(body.buffer, at, info.length)
      : new Float32Array(body.buffer, at, info.length);
    at = end;
  }
  if (at !== body.length) throw new WireError("the frame has bytes after its last section");
  return { header, sections };
}
