import assert from "node:assert/strict";
import { Logger } from "../src/log.ts";

Deno.test("log: one JSON line per record at or above the level, with context fields", () => {
  const lines: string[] = [];
  const log = new Logger("info", { service: "t" }, (l) => lines.push(l));
  log.debug("hidden");
  log.info("shown", { n: 1 });
  log.child({ request: "r1" }).error("failed", { err: new TypeError("bad") });
  assert.equal(lines.length, 2);
  const [a, b] = lines.map((l) => JSON.parse(l));
  assert.equal(a.level, "info");
  assert.equal(a.msg, "shown");
  assert.equal(a.service, "t");
  assert.equal(a.n, 1);
  assert.ok(!Number.isNaN(Date.parse(a.time)));
  assert.equal(b.request, "r1");
  assert.deepEqual(b.err, { name: "TypeError", message: "bad" }, "errors keep name and message");
  const silent = new Logger("silent", {}, (l) => lines.push(l));
  silent.error("nothing");
  assert.equal(lines.length, 2);
  assert.ok(!silent.enabled("error") && log.enabled("warn") && !log.enabled("debug"));
});
