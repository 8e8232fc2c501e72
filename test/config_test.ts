import assert from "node:assert/strict";
import { CONFIG_KEYS, configTable, defaultConfig, loadConfig } from "../src/config.ts";
import { ConfigError } from "../src/errors.ts";
import { Logger } from "../src/log.ts";

const envOf = (vars: Record<string, string>) => (name: string) => vars[name];

Deno.test("config: defaults match the paper's FailFast parameters", () => {
  const c = loadConfig({ env: envOf({}) });
  assert.deepEqual(c, defaultConfig());
  assert.equal(c.tau, 0.45);
  assert.equal(c.n0, 10);
  assert.equal(c.n, 10);
  assert.equal(c.nMax, 60);
  assert.equal(c.unmaskThreshold, 0.05);
  assert.equal(c.backend, "ort-node");
  assert.match(c.verifierDir, /models\/tiny-gsm-verifier$/);
});

Deno.test("config: environment overrides the JSON file, which overrides defaults", () => {
  const c = loadConfig({
    env: envOf({ PORT: "9001", FAILFAST_TAU: "0.3", FAILFAST_DRAFT_REUSE: "true" }),
    file: { port: 7000, nMax: 70, backend: "ort-web-wasm" },
  });
  assert.equal(c.port, 9001);
  assert.equal(c.nMax, 70);
  assert.equal(c.backend, "ort-web-wasm");
  assert.equal(c.tau, 0.3);
  assert.equal(c.draftReuse, true);
});

Deno.test("config: the JSON file is read from FAILFAST_CONFIG", () => {
  const c = loadConfig({
    env: envOf({ FAILFAST_CONFIG: "/etc/ff.json" }),
    readFile: (p) => {
      assert.equal(p, "/etc/ff.json");
      return JSON.stringify({ strategy: "ar", logLevel: "warn" });
    },
  });
  assert.equal(c.strategy, "ar");
  assert.equal(c.logLevel, "warn");
});

Deno.test("config: invalid values name the variable and the accepted values", () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ FAILFAST_BACKEND: "tpu" }, /FAILFAST_BACKEND: got "tpu", expected one of "ort-node"/],
    [{ PORT: "http" }, /PORT: got "http", expected an integer from 0 to 65535/],
    [{ PORT: "80.5" }, /PORT/],
    [{ FAILFAST_TAU: "1.5" }, /FAILFAST_TAU: .*a number from 0 to 1/],
    [{ FAILFAST_TAU: "NaN" }, /FAILFAST_TAU/],
    [{ FAILFAST_DRAFT_REUSE: "yes" }, /FAILFAST_DRAFT_REUSE: .*true or false/],
    [{ FAILFAST_N0: "20", FAILFAST_N_MAX: "10" }, /FAILFAST_N_MAX: must be at least/],
    [
      { FAILFAST_ALIGN_WINDOWS: "true", FAILFAST_SLIDE_SUB_BLOCKS: "true" },
      /FAILFAST_SLIDE_SUB_BLOCKS: cannot be true with FAILFAST_ALIGN_WINDOWS/,
    ],
    [{ FAILFAST_BACKEND: "remote" }, /FAILFAST_REMOTE_URL/],
    [{ FAILFAST_LOG_LEVEL: "loud" }, /FAILFAST_LOG_LEVEL/],
    [
      { FAILFAST_DRAFTER_QUANTIZE: "int4" },
      /FAILFAST_DRAFTER_QUANTIZE: got "int4", expected one of "none", "int8"/,
    ],
  ];
  for (const [vars, pattern] of cases) {
    assert.throws(() => loadConfig({ env: envOf(vars) }), (e: unknown) => {
      assert.ok(e instanceof ConfigError, `expected ConfigError for ${JSON.stringify(vars)}`);
      assert.match(e.message, pattern);
      return true;
    });
  }
});

Deno.test("config: bad config files fail with the file named", () => {
  const env = envOf({ FAILFAST_CONFIG: "ff.json" });
  assert.throws(
    () => loadConfig({ env, readFile: () => "{not json" }),
    /ff.json is not valid JSON/,
  );
  assert.throws(() => loadConfig({ env, readFile: () => "[1]" }), /must hold a JSON object/);
  assert.throws(
    () => loadConfig({ env, readFile: () => '{"tua": 0.4}' }),
    /ff.json: tua: unknown key/,
  );
  assert.throws(
    () =>
      loadConfig({
        env,
        readFile: () => {
          throw new Error("No such file");
        },
      }),
    /FAILFAST_CONFIG: cannot read ff.json/,
  );
});

Deno.test("config: docs/configuration.md documents every key", async () => {
  const readme = await Deno.readTextFile(new URL("../docs/configuration.md", import.meta.url));
  for (const d of CONFIG_KEYS) assert.ok(readme.includes(`\`${d.env}\``), `${d.env} missing`);
  // compare cell by cell: deno fmt pads the README's table columns
  const rows = (text: string) =>
    text.split("\n").filter((l) => l.startsWith("| `")).map((l) =>
      l.split("|").map((c) => c.trim()).join("|")
    );
  const readmeRows = new Set(rows(readme));
  for (const row of rows(configTable())) {
    assert.ok(readmeRows.has(row), `the table is stale (run deno task config:doc): ${row}`);
  }
});

Deno.test("logger: JSON lines filtered by level, with context", () => {
  const lines: string[] = [];
  const log = new Logger("info", { app: "ff" }, (l) => lines.push(l)).child({ request: "r1" });
  log.debug("hidden");
  log.info("started", { port: 8000 });
  log.error("failed", { err: new Error("boom") });
  assert.equal(lines.length, 2);
  const first = JSON.parse(lines[0]);
  assert.equal(first.msg, "started");
  assert.equal(first.level, "info");
  assert.equal(first.app, "ff");
  assert.equal(first.request, "r1");
  assert.equal(first.port, 8000);
  assert.deepEqual(JSON.parse(lines[1]).err, { name: "Error", message: "boom" });
});
