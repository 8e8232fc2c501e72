import assert from "node:assert/strict";
import { policyStale } from "../src/cli/policy-build.ts";

Deno.test("cli: the policy core is rebuilt only when missing or older than its source", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const root = new URL(`file://${dir}/`);
    const wasm = new URL("policy.wasm", root);
    const sources = new URL("assembly/", root);
    await Deno.mkdir(sources);
    await Deno.writeTextFile(new URL("policy.ts", sources), "// source");
    assert.equal(await policyStale(wasm, sources), true, "missing");
    await Deno.writeFile(wasm, new Uint8Array(8));
    const now = new Date();
    await Deno.utime(
      new URL("policy.ts", sources),
      new Date(now.getTime() - 60_000),
      new Date(now.getTime() - 60_000),
    );
    assert.equal(await policyStale(wasm, sources), false, "newer than its source");
    await Deno.utime(
      new URL("policy.ts", sources),
      new Date(now.getTime() + 60_000),
      new Date(now.getTime() + 60_000),
    );
    assert.equal(await policyStale(wasm, sources), true, "older than its source");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
