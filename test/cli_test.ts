/**
 * The command-line entries: argument parsing in-process, and `generate` / `serve` as
 * subprocesses for --help and the exit codes of bad usage (2) and runtime failure (1).
 */
import assert from "node:assert/strict";
import { parseGenerateArgs, requestOf, UsageError } from "../src/cli/generate.ts";
import { defaultConfig } from "../src/config.ts";

const DENO = Deno.execPath();
const ROOT = new URL("../", import.meta.url);

async function run(
  script: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(DENO, {
    args: ["run", "-A", script, ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("cli generate: flags parse into an engine request", () => {
  const o = parseGenerateArgs([
    "--chat",
    "--strategy",
    "ar-draft",
    "--max-tokens",
    "64",
    "--temperature",
    "0.7",
    "--top-p=0.9",
    "--seed=3",
    "--stats",
    "--model-dir",
    "models/x",
    "What is 2+2?",
  ]);
  assert.equal(o.modelDir, "models/x");
  assert.equal(o.stats, true);
  assert.deepEqual(requestOf(o, defaultConfig()), {
    messages: [{ role: "user", content: "What is 2+2?" }],
    maxTokens: 64,
    strategy: "ar-draft",
    temperature: 0.7,
    topP: 0.9,
    seed: 3,
  });
  const plain = requestOf(parseGenerateArgs(["Once"]), defaultConfig());
  assert.deepEqual(plain, { prompt: "Once", maxTokens: 256, strategy: "failfast" });
  assert.equal(parseGenerateArgs(["-h"]).help, true);
});

Deno.test("cli generate: bad usage is a UsageError naming the flag", () => {
  const cases: [string[], RegExp][] = [
    [[], /missing the prompt/],
    [["a", "b"], /expected one prompt/],
    [["--bogus", "x"], /bogus/],
    [["--strategy", "magic", "x"], /--strategy: got "magic"/],
    [["--max-tokens", "abc", "x"], /--max-tokens/],
    [["--max-tokens", "0", "x"], /--max-tokens/],
    [["--temperature", "3", "x"], /--temperature/],
    [["--top-p", "0", "x"], /--top-p/],
    [["--seed", "1.5", "x"], /--seed/],
    [["--max-tokens"], /max-tokens/],
  ];
  for (const [args, re] of cases) {
    assert.throws(() => parseGenerateArgs(args), (e: unknown) => {
      assert.ok(e instanceof UsageError, args.join(" "));
      assert.match((e as Error).message, re);
      return true;
    });
  }
});

Deno.test("cli generate and serve: --help, and exit codes 2 (bad usage) and 1 (runtime failure)", async () => {
  const gen = "src/cli/generate.ts";
  const [help, noPrompt, badFlag, badValue, missingDir, badConfig, notAModel, serveBadPort] =
    await Promise.all([
      run(gen, ["--help"]),
      run(gen, []),
      run(gen, ["--frobnicate", "hi"]),
      run(gen, ["--max-tokens", "lots", "hi"]),
      run(gen, ["--model-dir", "/nonexistent/verifier", "hi"]),
      run(gen, ["hi"], { FAILFAST_TAU: "5" }),
      // A directory that is not a model: loading fails at run time.
      run(gen, ["--model-dir", "test/helpers", "hi"]),
      run("src/cli/serve.ts", [], { PORT: "http" }),
    ]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: deno task generate/);
  assert.match(help.stdout, /--strategy NAME/);
  for (
    const flag of ["--chat", "--max-tokens", "--temperature", "--seed", "--stats", "--model-dir"]
  ) {
    assert.ok(help.stdout.includes(flag), flag);
  }
  assert.equal(noPrompt.code, 2);
  assert.match(noPrompt.stderr, /missing the prompt/);
  assert.equal(badFlag.code, 2);
  assert.match(badFlag.stderr, /frobnicate/);
  assert.equal(badValue.code, 2);
  assert.match(badValue.stderr, /--max-tokens: got "lots"/);
  assert.equal(missingDir.code, 2);
  assert.match(missingDir.stderr, /\/nonexistent\/verifier/);
  assert.equal(badConfig.code, 2);
  assert.match(badConfig.stderr, /FAILFAST_TAU/);
  assert.equal(notAModel.code, 1, notAModel.stderr);
  assert.match(notAModel.stderr, /^error: /m);
  assert.equal(serveBadPort.code, 2);
  assert.match(serveBadPort.stderr, /PORT: got "http"/);
});
