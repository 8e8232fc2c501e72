/**
 * `deno task generate "prompt"`: generates from the terminal. Text streams to stdout as the
 * verifier accepts it; a progress indicator (stderr) runs while the models load; `--stats` prints
 * the request's statistics to stderr. Exit codes: 0 done, 1 runtime failure (models fail to load,
 * inference fails), 2 bad usage (unknown flag, bad value, missing prompt, invalid configuration),
 * 130 interrupted (Ctrl-C cancels the generation first).
 */
import { parseArgs } from "node:util";
import { type Config, loadConfig, type Strategy } from "../config.ts";
import { accepts, describeKind, drafterOf, type ParamDecl, PARAMS, refusal } from "../params.ts";
import { ConfigError, InvalidRequestError } from "../errors.ts";
import { Logger, type LogLevel } from "../log.ts";
import type { GenerateRequest, GenerationStats } from "../engine/types.ts";
import { createEngine } from "../platform/deno.ts";
import { ensurePolicyBuilt } from "./policy-build.ts";

/** The request parameters `generate` takes as flags (declared in params.ts). */
const FLAG_PARAMS = PARAMS.filter((d) => d.flag !== undefined);

function metavar(d: ParamDecl): string {
  return d.kind.type === "enum" ? "NAME" : d.kind.type === "int" ? "N" : "X";
}

export const USAGE = `Usage: deno task generate [options] "prompt"

Generates a continuation of the prompt with FailFast speculative decoding and streams it to
stdout. The prompt "-" reads it from stdin. Models and defaults come from the configuration
(FAILFAST_* environment variables, see the README).

Options:
  --chat               render the prompt as a user message with the chat template
${
  FLAG_PARAMS.map((d) =>
    `  --${`${d.flag} ${metavar(d)}`.padEnd(19)}${d.doc}\n${" ".repeat(23)}${describeKind(d.kind)}`
  ).join("\n")
}
  --stats              print the generation's statistics to stderr at the end
  --model-dir DIR      verifier model directory (drafters as configured)
  -h, --help           show this help

Exit codes: 0 done, 1 runtime failure, 2 bad usage, 130 interrupted.`;

/** A command-line mistake (exit code 2). */
export class UsageError extends Error {}

/** What the command line asks for. */
export interface GenerateOptions {
  help: boolean;
  prompt: string;
  chat: boolean;
  strategy?: Strategy;
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  topK?: number;
  seed?: number;
  stats: boolean;
  modelDir?: string;
}

/** A flag's value, checked against its parameter's declaration. */
function paramFlag(decl: ParamDecl, raw: string | undefined): string | number | undefined {
  if (raw === undefined) return undefined;
  const value = decl.kind.type === "enum" ? raw : raw.trim() === "" ? NaN : Number(raw);
  if (!accepts(decl.kind, value)) {
    throw new UsageError(`--${decl.flag}: ${refusal(decl.kind, raw)}`);
  }
  return value;
}

/**
 * Parses the command line (without reading stdin). Throws `UsageError` for anything wrong.
 *
 * @example
 * parseGenerateArgs(["--chat", "--max-tokens", "64", "Hi"]).maxTokens; // 64
 */
export function parseGenerateArgs(args: string[]): GenerateOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        chat: { type: "boolean", default: false },
        ...Object.fromEntries(FLAG_PARAMS.map((d) => [d.flag!, { type: "string" as const }])),
        stats: { type: "boolean", default: false },
        "model-dir": { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const v = parsed.values;
  const options: GenerateOptions = {
    help: v.help === true,
    prompt: "",
    chat: v.chat === true,
    stats: v.stats === true,
  };
  if (options.help) return options;
  if (parsed.positionals.length === 0) throw new UsageError("missing the prompt");
  if (parsed.positionals.length > 1) {
    throw new UsageError(
      `expected one prompt, got ${parsed.positionals.length} arguments (quote the prompt)`,
    );
  }
  options.prompt = parsed.positionals[0];
  const values = v as Record<string, string | boolean | undefined>;
  for (const decl of FLAG_PARAMS) {
    const value = paramFlag(decl, values[decl.flag!] as string | undefined);
    if (value !== undefined) (options as unknown as Record<string, unknown>)[decl.name] = value;
  }
  if (v["model-dir"] !== undefined) {
    if (v["model-dir"] === "") throw new UsageError("--model-dir: empty path");
    options.modelDir = v["model-dir"];
  }
  return options;
}

/** The engine request for the options (after the prompt is known). */
export function requestOf(options: GenerateOptions, config: Config): GenerateRequest {
  const request: GenerateRequest = {
    maxTokens: options.maxTokens ?? config.maxTokens,
    strategy: options.strategy ?? config.strategy,
  };
  if (options.chat) request.messages = [{ role: "user", content: options.prompt }];
  else request.prompt = options.prompt;
  if (options.temperature !== undefined) request.temperature = options.temperature;
  if (options.topP !== undefined) request.topP = options.topP;
  if (options.topK !== undefined) request.topK = options.topK;
  if (options.seed !== undefined) request.seed = options.seed;
  return request;
}

/** Human-readable statistics (for stderr). */
export function formatStats(stats: GenerationStats, wallMs: number, ttftMs: number | null): string {
  const t = stats.timeMs;
  const hist = stats.acceptedLengthCounts
    .map((count, n) => count ? `${n}:${count}` : "")
    .filter(Boolean).join(" ");
  const s = wallMs / 1000;
  return [
    `strategy ${stats.strategy}: ${stats.completionTokens} tokens in ${s.toFixed(2)} s (${
      (stats.completionTokens / Math.max(s, 1e-9)).toFixed(1)
    } tokens/s), first token after ${ttftMs === null ? "-" : (ttftMs / 1000).toFixed(2) + " s"}`,
    `prompt ${stats.promptTokens} tokens; ${stats.rounds} rounds, mean accepted length ${
      stats.meanAcceptedLength.toFixed(2)
    }, acceptance rate ${
      (100 * stats.acceptanceRate).toFixed(1)
    }%, longest accepted draft ${stats.maxAccepted}`,
    `drafter passes ${stats.drafterPasses} (${
      stats.drafterPassesPerRound.toFixed(2)
    } per round), verifier passes ${stats.verifierPasses}`,
    `accepted draft tokens by source: drafter ${stats.acceptedBySource.drafter}, context lookup ${stats.acceptedBySource.context}, earlier outputs ${stats.acceptedBySource.history}`,
    `time (ms): prefill ${t.prefill.toFixed(0)}, drafter ${t.drafter.toFixed(0)}, verifier ${
      t.verifier.toFixed(0)
    }, policy ${t.policy.toFixed(0)}, other ${t.other.toFixed(0)}, total ${t.total.toFixed(0)}`,
    `tokens per round (length:rounds): ${hist || "-"}`,
  ].join("\n");
}

/** A spinner on a terminal, plain lines otherwise. */
function progress(isTerminal: boolean) {
  const enc = new TextEncoder();
  const start = performance.now();
  let last = "loading models";
  let timer: ReturnType<typeof setInterval> | undefined;
  const frames = "|/-\\";
  let frame = 0;
  const draw = () => {
    const secs = ((performance.now() - start) / 1000).toFixed(1);
    const line = `${frames[frame++ % 4]} ${last} (${secs} s)`.slice(0, 100);
    Deno.stderr.writeSync(enc.encode(`\r\x1b[2K${line}`));
  };
  if (isTerminal) timer = setInterval(draw, 100);
  else Deno.stderr.writeSync(enc.encode("loading models...\n"));
  return {
    update(msg: string) {
      last = msg;
      if (!isTerminal) Deno.stderr.writeSync(enc.encode(`  ${msg}\n`));
    },
    stop() {
      clearInterval(timer);
      if (isTerminal) Deno.stderr.writeSync(enc.encode("\r\x1b[2K"));
    },
  };
}

async function writeAll(w: { write(p: Uint8Array): Promise<number> }, bytes: Uint8Array) {
  let off = 0;
  while (off < bytes.length) off += await w.write(bytes.subarray(off));
}

async function readStdin(): Promise<string> {
  return await new Response(Deno.stdin.readable).text();
}

/** Runs the command; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  let options: GenerateOptions;
  try {
    options = parseGenerateArgs(args);
  } catch (e) {
    console.error(`error: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (options.help) {
    console.log(USAGE);
    return 0;
  }
  let config: Config;
  try {
    config = loadConfig();
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    return e instanceof ConfigError ? 2 : 1;
  }
  if (options.prompt === "-") options.prompt = await readStdin();
  if (options.modelDir !== undefined) {
    try {
      if (!Deno.statSync(options.modelDir).isDirectory) throw new Error("not a directory");
    } catch (e) {
      console.error(`error: --model-dir ${options.modelDir}: ${(e as Error).message}`);
      return 2;
    }
    config = { ...config, verifierDir: options.modelDir };
  }
  // Quiet by default on a terminal; FAILFAST_LOG_LEVEL still wins when set.
  const level: LogLevel = Deno.env.get("FAILFAST_LOG_LEVEL") ? config.logLevel : "warn";
  const log = new Logger(level);
  const request = requestOf(options, config);
  // One request, one strategy: a drafter it does not use is not loaded.
  const strategy = request.strategy ?? config.strategy;
  config = {
    ...config,
    drafterDir: drafterOf(strategy) === "dllm" ? config.drafterDir : "",
    arDrafterDir: drafterOf(strategy) === "ar" ? config.arDrafterDir : "",
    // the default strategy must be one this engine can run
    strategy,
  };

  const ac = new AbortController();
  const onSigint = () => ac.abort();
  Deno.addSignalListener("SIGINT", onSigint);
  const indicator = progress(Deno.stderr.isTerminal());
  let engine;
  try {
    await ensurePolicyBuilt((msg) => indicator.update(msg));
    engine = await createEngine(config, log, { onProgress: (msg) => indicator.update(msg) });
  } catch (e) {
    indicator.stop();
    Deno.removeSignalListener("SIGINT", onSigint);
    console.error(`error: ${(e as Error).message}`);
    return 1;
  }
  indicator.stop();
  const out = Deno.stdout;
  const enc = new TextEncoder();
  const t0 = performance.now();
  let ttft: number | null = null;
  let code = 0;
  try {
    for await (const ev of engine.generate(request, ac.signal)) {
      if (ev.type === "delta") {
        ttft ??= performance.now() - t0;
        await writeAll(out, enc.encode(ev.text));
      } else {
        await writeAll(out, enc.encode("\n"));
        if (options.stats) console.error(formatStats(ev.stats, performance.now() - t0, ttft));
        if (ev.finishReason === "cancelled") code = 130;
      }
    }
  } catch (e) {
    console.error(`\nerror: ${(e as Error).message}`);
    code = e instanceof InvalidRequestError ? 2 : 1;
  } finally {
    Deno.removeSignalListener("SIGINT", onSigint);
    await engine.close().catch((e) => console.error(`error closing the engine: ${e.message}`));
  }
  return code;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
