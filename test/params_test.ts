/**
 * One declaration per request parameter (src/params.ts): the same bad value is refused, in the
 * same words, by the configuration (its default's environment variable), the OpenAI schema, the
 * command line and the engine.
 */
import assert from "node:assert/strict";
import { CONFIG_KEYS, loadConfig } from "../src/config.ts";
import { ConfigError, InvalidRequestError } from "../src/errors.ts";
import { describeKind, type ParamDecl, type ParamKind, PARAMS } from "../src/params.ts";
import { parseRequest } from "../src/server/openai-schema.ts";
import { parseGenerateArgs, UsageError } from "../src/cli/generate.ts";
import { testEngine } from "./helpers/engine.ts";
import { testConfig } from "./helpers/server.ts";

/** Values each kind must refuse. */
function badValues(kind: ParamKind): unknown[] {
  switch (kind.type) {
    case "number":
      return [kind.min - 0.5, kind.max + 0.5, ...(kind.exclusiveMin ? [kind.min] : []), "x"];
    case "int":
      return [kind.min - 1, kind.max + 1, kind.min + 0.5];
    case "bool":
      return ["yes", 2]; // (1 and 0 are true and false in the environment)
    case "enum":
      return ["nope", 3];
  }
}

/** A value each kind accepts: its low end. */
function goodValue(kind: ParamKind): unknown {
  switch (kind.type) {
    case "number":
      return kind.exclusiveMin ? kind.min + (kind.max - kind.min) / 2 : kind.min;
    case "int":
      return Math.max(kind.min, 1);
    case "bool":
      return true;
    case "enum":
      return kind.values[0];
  }
}

const config = testConfig();

/** The body of a chat request with the parameter set to `value`. */
function body(decl: ParamDecl, value: unknown): Record<string, unknown> {
  const b: Record<string, unknown> = { messages: [{ role: "user", content: "hi" }] };
  if (decl.group === "failfast") b.failfast = { [decl.field]: value };
  else b[decl.field] = value;
  return b;
}

const path = (d: ParamDecl) => d.group === "failfast" ? `failfast.${d.field}` : d.field;

Deno.test("params: every layer refuses the same bad values in the same words", async () => {
  const { engine } = await testEngine();
  try {
    for (const decl of PARAMS) {
      const words = `expected ${describeKind(decl.kind)}`;
      for (const bad of badValues(decl.kind)) {
        const what = `${decl.name} = ${JSON.stringify(bad)}`;
        // the OpenAI schema
        assert.throws(() => parseRequest("chat", body(decl, bad), config), (e: unknown) => {
          assert.ok(e instanceof InvalidRequestError, `${what}: ${e}`);
          assert.equal(e.param, path(decl), what);
          assert.ok(e.message.includes(words), `${what}: ${e.message}`);
          return true;
        });
        // the engine, given the value directly
        const request = decl.group === "failfast" && decl.name !== "strategy"
          ? {
            messages: [{ role: "user" as const, content: "hi" }],
            maxTokens: 4,
            params: { [decl.name]: bad },
          }
          : {
            messages: [{ role: "user" as const, content: "hi" }],
            maxTokens: 4,
            [decl.name]: bad,
          };
        assert.throws(() => engine.generate(request as never), (e: unknown) => {
          assert.ok(e instanceof InvalidRequestError, `engine ${what}: ${e}`);
          assert.equal(e.param, decl.field, `engine ${what}`);
          if (decl.name !== "strategy") {
            assert.ok(e.message.includes(words), `engine ${what}: ${e.message}`);
          }
          return true;
        });
        // the command line, as text
        if (decl.flag) {
          assert.throws(
            () => parseGenerateArgs([`--${decl.flag}=${String(bad)}`, "hi"]),
            (e: unknown) => {
              assert.ok(e instanceof UsageError, `--${decl.flag} ${what}: ${e}`);
              assert.ok(e.message.includes(words), `--${decl.flag} ${what}: ${e.message}`);
              return true;
            },
          );
        }
        // the configuration of its default, as an environment variable
        for (const key of decl.config ?? []) {
          const env = CONFIG_KEYS.find((k) => k.key === key)!.env;
          assert.throws(
            () => loadConfig({ env: (n) => n === env ? String(bad) : undefined }),
            (e: unknown) => {
              assert.ok(e instanceof ConfigError, `${env} ${what}: ${e}`);
              assert.ok(e.message.includes(words), `${env} ${what}: ${e.message}`);
              return true;
            },
          );
        }
      }
      // and every layer accepts a value in range
      const good = goodValue(decl.kind);
      parseRequest("chat", body(decl, good), config);
      if (decl.flag) parseGenerateArgs([`--${decl.flag}=${String(good)}`, "hi"]);
      for (const key of decl.config ?? []) {
        // its default, in its text form (another value could break a rule between keys)
        const def = CONFIG_KEYS.find((k) => k.key === key)!;
        loadConfig({ env: (n) => n === def.env ? String(def.default) : undefined });
      }
    }
  } finally {
    await engine.close();
  }
});

Deno.test("params: the configuration's kinds of the defaults are the parameters' own", () => {
  for (const decl of PARAMS) {
    for (const key of decl.config ?? []) {
      const def = CONFIG_KEYS.find((k) => k.key === key);
      assert.ok(def, `${decl.name}: no configuration key ${key}`);
      assert.deepEqual(def.kind, decl.kind, key);
    }
  }
});
