import assert from "node:assert/strict";
import { parseSseData } from "../src/server/sse.ts";

Deno.test("sse: data payloads come back in order, multi-line and CRLF events included", () => {
  const body = 'data: {"a":1}\n\n' +
    ": a comment line\ndata: first\ndata: second\n\n" +
    "event: ping\r\ndata:no-space\r\n\r\n" +
    "retry: 10\n\n" +
    "data: [DONE]\n\n";
  assert.deepEqual(parseSseData(body), ['{"a":1}', "first\nsecond", "no-space", "[DONE]"]);
  assert.deepEqual(parseSseData(""), []);
});
