/**
 * Reading server-sent events as OpenAI streams them (each event one `data: <json>` line and a
 * blank line, the stream ending with `data: [DONE]`); the server writes them with Hono's
 * streamSSE (generation.ts).
 */

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
