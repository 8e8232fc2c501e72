/**
 * Server-sent events framing as OpenAI streams it: each event is one `data: <json>` line and a
 * blank line; the stream ends with `data: [DONE]`. No `event:` or `id:` fields (OpenAI's clients
 * do not use them).
 */

const encoder = new TextEncoder();

/** One SSE event carrying `value` as JSON. */
export function sseData(value: unknown): Uint8Array {
  return encoder.encode(`data: ${JSON.stringify(value)}\n\n`);
}

/** The closing event of an OpenAI stream. */
export const SSE_DONE: Uint8Array = encoder.encode("data: [DONE]\n\n");

/** Response headers of an event stream. */
export const SSE_HEADERS: Record<string, string> = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache",
  "x-accel-buffering": "no",
};

/**
 * Parses an SSE body's `data:` payloads (for clients and tests): returns the payload strings in
 * order, `[DONE]` included.
 *
 * @example
 * parseSseData('data: {"a":1}\n\ndata: [DONE]\n\n'); // ['{"a":1}', "[DONE]"]
 */
export function parseSseData(text: string): string[] {
  const out: string[] = [];
  for (const block of text.split(/\r?\n\r?\n/)) {
    const lines = block.split(/\r?\n/).filter((l) => l.startsWith("data:"));
    if (lines.length) out.push(lines.map((l) => l.slice(5).replace(/^ /, "")).join("\n"));
  }
  return out;
}
