/**
 * Deploy-time configuration: one typed object built from defaults, an optional JSON file
 * (`FAILFAST_CONFIG=path`) and environment variables, in that order of precedence (environment
 * wins). `HOST` and `PORT` are read as deployment platforms set them; everything else is
 * `FAILFAST_*`. Every key is declared once in `CONFIG_KEYS`, which also documents it (the README
 * table is generated from it: `deno run -A src/cli/config-doc.ts`). An invalid value fails at
 * start-up with a `ConfigError` naming the variable and the accepted values.
 */

import { ConfigError } from "./errors.ts";
import { LOG_LEVELS, type LogLevel } from "./log.ts";
import {
  accepts,
  describeKind as describeParamKind,
  kindOfConfigKey,
  type ParamKind,
  STRATEGIES,
  type Strategy,
} from "./params.ts";
import type { EngineSettings } from "./engine/types.ts";
import {
  type Backend,
  BACKENDS,
  type Device,
  DEVICES,
  GRAPH_OPT_LEVELS,
  type GraphOptLevel,
} from "./runtime/types.ts";

export const DRAFTER_QUANTIZE = ["none", "int8"] as const;

export { STRATEGIES };
export type { Strategy };

/** What a server process serves: the OpenAI API, or forward passes to remote engines. */
export const ROLES = ["api", "model-server"] as const;
export type Role = typeof ROLES[number];
/** What a remote verify pass returns: each row's own token (a few bytes), or full logits. */
export const REMOTE_OUTPUTS = ["tokens", "logits"] as const;

/**
 * The whole configuration, fully resolved and validated: the engine's settings (the served name,
 * the default strategy and parameters, the lookup's), and the host's, runtime's and server's.
 */
export interface Config extends EngineSettings {
  host: string;
  port: number;
  verifierDir: string;
  drafterDir: string;
  arDrafterDir: string;
  backend: Backend;
  device: Device;
  threads: number;
  drafterThreads: number;
  drafterSpin: boolean;
  drafterQuantize: typeof DRAFTER_QUANTIZE[number];
  graphOptimization: GraphOptLevel;
  remoteUrl: string;
  remoteKey: string;
  remoteTimeoutMs: number;
  remoteOutput: typeof REMOTE_OUTPUTS[number];
  role: Role;
  modelServerKey: string;
  sessionTtlMs: number;
  maxSessions: number;
  costCache: string;
  maxConcurrent: number;
  maxQueue: number;
  maxBodyBytes: number;
  maxTokens: number;
  requestTimeoutMs: number;
  apiKey: string;
  corsOrigin: string;
  logLevel: LogLevel;
}

/** A key's type: a request parameter's kinds (params.ts), or free text. */
type Kind = ParamKind | { type: "string" };

/** Declaration of one configuration key. */
export interface KeyDef<K extends keyof Config = keyof Config> {
  key: K;
  env: string;
  kind: Kind;
  default: Config[K];
  doc: string;
}

function def<K extends keyof Config>(
  key: K,
  env: string,
  kind: Kind,
  dflt: Config[K],
  doc: string,
): KeyDef {
  return { key, env, kind, default: dflt, doc } as unknown as KeyDef;
}

/** The kind of a key that holds a request parameter's default: declared once, in params.ts. */
function paramKind(key: string): Kind {
  const kind = kindOfConfigKey(key);
  if (!kind) throw new Error(`${key} is not the default of a request parameter`);
  return kind;
}

/** Absolute path of a bundled model (a relative one where import.meta.url is not a file). */
function modelPath(name: string): string {
  try {
    const url = new URL(`../models/${name}`, import.meta.url);
    return url.protocol === "file:" ? decodeURIComponent(url.pathname) : `models/${name}`;
  } catch {
    return `models/${name}`;
  }
}

/** Every configuration key: JSON name, environment variable, type, default and meaning. */
export const CONFIG_KEYS: readonly KeyDef[] = [
  def("host", "HOST", { type: "string" }, "127.0.0.1", "Interface the HTTP server binds to."),
  def("port", "PORT", { type: "int", min: 0, max: 65535 }, 8000, "HTTP port (0 picks a free one)."),
  def(
    "modelName",
    "FAILFAST_MODEL_NAME",
    { type: "string" },
    "tiny-gsm",
    "Model id reported by /v1/models and accepted in requests.",
  ),
  def(
    "verifierDir",
    "FAILFAST_VERIFIER_DIR",
    { type: "string" },
    modelPath("tiny-gsm-verifier"),
    "HF-layout directory of the autoregressive verifier (the model whose output is served).",
  ),
  def(
    "drafterDir",
    "FAILFAST_DRAFTER_DIR",
    { type: "string" },
    modelPath("tiny-gsm-drafter"),
    "HF-layout directory of the block-diffusion drafter (needs mask_token_id and bd_size).",
  ),
  def(
    "arDrafterDir",
    "FAILFAST_AR_DRAFTER_DIR",
    { type: "string" },
    modelPath("tiny-gsm-ar-drafter"),
    "HF-layout directory of the small AR drafter used by the `ar-draft` baseline.",
  ),
  def(
    "backend",
    "FAILFAST_BACKEND",
    { type: "enum", values: BACKENDS },
    "ort-node",
    "Inference backend.",
  ),
  def(
    "device",
    "FAILFAST_DEVICE",
    { type: "enum", values: DEVICES },
    "cpu",
    "Device for `ort-node` (cuda needs the CUDA execution provider installed).",
  ),
  def(
    "threads",
    "FAILFAST_THREADS",
    { type: "int", min: 0, max: 256 },
    0,
    "Intra-op threads per session (0: the runtime's default).",
  ),
  def(
    "drafterThreads",
    "FAILFAST_DRAFTER_THREADS",
    { type: "int", min: 0, max: 256 },
    1,
    "Intra-op threads of the drafters' onnxruntime-node sessions (0: as FAILFAST_THREADS). One by " +
      "default: a drafter pass is small, and run on the calling thread it leaves the other cores " +
      "to the verifier's pool, which spin-waits between passes (`deno task bench:runtime`, the " +
      '"after a verify pass" rows).',
  ),
  def(
    "drafterSpin",
    "FAILFAST_DRAFTER_SPIN",
    { type: "bool" },
    false,
    "With more than one drafter thread: let the drafters' onnxruntime-node pools spin-wait after " +
      "a pass. Off by default: a drafter pass is always followed by a verifier pass, and a " +
      "spinning idle pool takes the cores that pass needs (the verifier's own pool spins, as " +
      "plain decoding wants).",
  ),
  def(
    "drafterQuantize",
    "FAILFAST_DRAFTER_QUANTIZE",
    { type: "enum", values: DRAFTER_QUANTIZE },
    "none",
    "int8: run the drafters' weight matrices in int8, quantized in memory at load time (the " +
      "files stay float32). Outputs do not change (the verifier checks every drafted token); " +
      "on ort-node a denoising pass right after a verify pass takes about 0.6 of the float " +
      "pass's time, as it is bound by reading weights; on ort-web-wasm the gain is smaller " +
      "(`deno task bench:runtime`). Measured on CPU backends only.",
  ),
  def(
    "graphOptimization",
    "FAILFAST_GRAPH_OPT",
    { type: "enum", values: GRAPH_OPT_LEVELS },
    "all",
    "onnxruntime graph optimisation level.",
  ),
  def(
    "remoteUrl",
    "FAILFAST_REMOTE_URL",
    { type: "string" },
    "",
    "Base URL of the model server used by the `remote` backend.",
  ),
  def(
    "remoteKey",
    "FAILFAST_REMOTE_KEY",
    { type: "string" },
    "",
    "The model server's key (its FAILFAST_MODEL_SERVER_KEY), sent by the `remote` backend.",
  ),
  def(
    "remoteTimeoutMs",
    "FAILFAST_REMOTE_TIMEOUT_MS",
    { type: "int", min: 100, max: 600_000 },
    10_000,
    "The `remote` backend gives up on a model-server call after this long (the request fails).",
  ),
  def(
    "remoteOutput",
    "FAILFAST_REMOTE_OUTPUT",
    { type: "enum", values: REMOTE_OUTPUTS },
    "tokens",
    "What a remote verify pass returns: each row's own token (argmax or position-keyed sample, " +
      "8 bytes a row) or full float32 logits (4 x vocab bytes a row, verified here).",
  ),
  def(
    "role",
    "FAILFAST_ROLE",
    { type: "enum", values: ROLES },
    "api",
    "`api`: the OpenAI-compatible server. `model-server`: serves forward passes and drafts of its " +
      "models to remote engines (FAILFAST_BACKEND=remote), and no OpenAI API.",
  ),
  def(
    "modelServerKey",
    "FAILFAST_MODEL_SERVER_KEY",
    { type: "string" },
    "",
    "Model-server role: callers must send `Authorization: Bearer <key>`. Required unless HOST " +
      "is a loopback address.",
  ),
  def(
    "sessionTtlMs",
    "FAILFAST_SESSION_TTL_MS",
    { type: "int", min: 100, max: 86_400_000 },
    60_000,
    "Model-server role: a session (KV cache) unused for this long is freed.",
  ),
  def(
    "maxSessions",
    "FAILFAST_MAX_SESSIONS",
    { type: "int", min: 1, max: 100_000 },
    256,
    "Model-server role: live sessions at most; more are refused with 503 and Retry-After.",
  ),
  def(
    "strategy",
    "FAILFAST_STRATEGY",
    paramKind("strategy"),
    "failfast",
    "Default decoding strategy (a request may choose another).",
  ),
  def(
    "controller",
    "FAILFAST_CONTROLLER",
    paramKind("controller"),
    "cost",
    "How `failfast` decides each round whether to draft and how far: `cost` from the measured " +
      "cost of passes and the live acceptance of drafted tokens (a round decodes plainly " +
      "when no draft is expected to pay; sliding sub-blocks, N_max still caps), `fixed` by " +
      "tau, N0, N and N_max as in the paper. `ar-draft` and `lookup` use `cost` when a " +
      "request asks for it.",
  ),
  def(
    "costCache",
    "FAILFAST_COST_CACHE",
    { type: "string" },
    "",
    "File keeping the controller's profiled pass costs between runs for a day (keyed by models, " +
      "backend and threads), so a restart skips the profile: a path, `off`, or unset for " +
      "`failfast/pass-costs.json` in the user's cache folder (XDG_CACHE_HOME, else ~/.cache).",
  ),
  def(
    "tau",
    "FAILFAST_TAU",
    paramKind("tau"),
    0.45,
    "FailFast stop threshold: stop extending when a window token's confidence is below it.",
  ),
  def(
    "n0",
    "FAILFAST_N0",
    paramKind("n0"),
    10,
    "FailFast first window length.",
  ),
  def("n", "FAILFAST_N", paramKind("n"), 10, "FailFast extension step."),
  def(
    "nMax",
    "FAILFAST_N_MAX",
    paramKind("nMax"),
    60,
    "FailFast cap on the draft length.",
  ),
  def(
    "unmaskThreshold",
    "FAILFAST_UNMASK_THRESHOLD",
    paramKind("unmaskThreshold"),
    0.05,
    "Drafter unmask threshold for `failfast` (commit masked tokens above this confidence).",
  ),
  def(
    "fixedK",
    "FAILFAST_FIXED_K",
    paramKind("fixedK"),
    8,
    "Draft length of the `dllm-fixed` baseline.",
  ),
  def(
    "fixedThreshold",
    "FAILFAST_FIXED_THRESHOLD",
    paramKind("fixedThreshold"),
    0.9,
    "Drafter unmask threshold of the `dllm-fixed` baseline (Fast-dLLM's default).",
  ),
  def(
    "arDraftK",
    "FAILFAST_AR_DRAFT_K",
    paramKind("arDraftK"),
    8,
    "Draft length of the `ar-draft` baseline.",
  ),
  def(
    "draftReuse",
    "FAILFAST_DRAFT_REUSE",
    paramKind("draftReuse"),
    false,
    "Re-propose the rejected tail of the previous draft when it re-synchronises (paper app. E).",
  ),
  def(
    "alignWindows",
    "FAILFAST_ALIGN_WINDOWS",
    paramKind("alignWindows"),
    false,
    "FailFast: round each window up to the end of a drafter sub-block, so every denoising pass " +
      "drafts a whole sub-block and no window ends mid-sub-block (off: the paper's N0 / N).",
  ),
  def(
    "slideSubBlocks",
    "FAILFAST_SLIDE_SUB_BLOCKS",
    paramKind("slideSubBlocks"),
    false,
    "FailFast and dllm-fixed: a denoising pass decides the sub-block of S positions that starts at the draft's " +
      "first undecided position, not the block's fixed grid, so one pass drafts S tokens wherever " +
      "verification stopped (off: Fast-dLLM v2's grid, as the paper's code). Not with alignWindows.",
  ),
  def(
    "trimLowConfidence",
    "FAILFAST_TRIM_LOW_CONFIDENCE",
    paramKind("trimLowConfidence"),
    false,
    "FailFast: propose a window that fails fast only up to its first token below tau (off: the " +
      "whole window, as the paper's code does; on saves verifying tokens likely to be rejected).",
  ),
  def(
    "lookup",
    "FAILFAST_LOOKUP",
    paramKind("lookup"),
    true,
    "failfast, dllm-fixed and ar-draft: draft also from a context lookup (what followed " +
      "earlier occurrences of the text's last tokens in the prompt, the output and earlier " +
      "outputs): a match in the request's own text drafts alone, with no drafter pass; others " +
      "extend the drafter's draft where they agree with it (docs/lookup.md).",
  ),
  def(
    "lookupMax",
    "FAILFAST_LOOKUP_MAX",
    paramKind("lookupMax"),
    60,
    "Lookup tokens proposed at most: the draft length of the `lookup` strategy and the cap of a " +
      "merged lookup continuation.",
  ),
  def(
    "lookupKeyLength",
    "FAILFAST_LOOKUP_KEY_LENGTH",
    { type: "int", min: 1, max: 16 },
    2,
    "Fewest trailing tokens a lookup must match (its n-gram key); longer matches win.",
  ),
  def(
    "lookupHistoryTokens",
    "FAILFAST_LOOKUP_HISTORY_TOKENS",
    { type: "int", min: 0, max: 1 << 26 },
    65536,
    "Tokens of earlier outputs kept for lookups across requests (oldest evicted first; scoped " +
      "per API key; 0 switches the cross-request cache off).",
  ),
  def(
    "maxConcurrent",
    "FAILFAST_MAX_CONCURRENT",
    { type: "int", min: 1, max: 1024 },
    4,
    "Generations running at once.",
  ),
  def(
    "maxQueue",
    "FAILFAST_MAX_QUEUE",
    { type: "int", min: 0, max: 100000 },
    32,
    "Requests waiting for a slot; beyond it the server answers 429.",
  ),
  def(
    "maxBodyBytes",
    "FAILFAST_MAX_BODY_BYTES",
    { type: "int", min: 1024, max: 1 << 30 },
    1 << 20,
    "Largest accepted request body.",
  ),
  def(
    "maxTokens",
    "FAILFAST_MAX_TOKENS",
    paramKind("maxTokens"),
    256,
    "Default and upper bound of `max_tokens` (also bounded by the context window).",
  ),
  def(
    "requestTimeoutMs",
    "FAILFAST_REQUEST_TIMEOUT_MS",
    { type: "int", min: 0, max: 24 * 3600 * 1000 },
    120000,
    "A generation running longer is cancelled (0: no limit).",
  ),
  def(
    "apiKey",
    "FAILFAST_API_KEY",
    { type: "string" },
    "",
    "When set, requests must send `Authorization: Bearer <key>`; several keys, comma-separated, " +
      "are each a scope of their own for the lookup cache across requests.",
  ),
  def(
    "corsOrigin",
    "FAILFAST_CORS_ORIGIN",
    { type: "string" },
    "",
    "When set, CORS headers allow this origin (`*` for any).",
  ),
  def(
    "logLevel",
    "FAILFAST_LOG_LEVEL",
    { type: "enum", values: LOG_LEVELS },
    "info",
    "Least severe log level written to stderr.",
  ),
];

/** Environment variable naming the optional JSON configuration file. */
export const CONFIG_FILE_ENV = "FAILFAST_CONFIG";

function describeKind(kind: Kind): string {
  return kind.type === "string" ? "a string" : describeParamKind(kind);
}

/** Parses one raw value (a string from the environment, or any JSON value) against its kind. */
function parseValue(d: KeyDef, raw: unknown, source: string): unknown {
  const fail = (): never => {
    throw new ConfigError(
      source,
      `got ${JSON.stringify(raw)}, expected ${describeKind(d.kind)}`,
    );
  };
  const k = d.kind;
  switch (k.type) {
    case "string":
      if (typeof raw !== "string") fail();
      return raw;
    case "enum":
      if (typeof raw !== "string" || !k.values.includes(raw)) fail();
      return raw;
    case "bool":
      if (typeof raw === "boolean") return raw;
      if (raw === "true" || raw === "1") return true;
      if (raw === "false" || raw === "0") return false;
      return fail();
    case "int":
    case "number": {
      const value = typeof raw === "number"
        ? raw
        : typeof raw === "string" && raw.trim() !== ""
        ? Number(raw)
        : NaN;
      if (!accepts(k, value)) fail();
      return value;
    }
  }
}

export type EnvReader = (name: string) => string | undefined;

/** Reads the environment without requiring `--allow-env` for every variable up front. */
export const denoEnv: EnvReader = (name) => {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
};

/** Default values of every key. */
export function defaultConfig(): Config {
  const out: Record<string, unknown> = {};
  for (const d of CONFIG_KEYS) out[d.key] = d.default;
  return out as unknown as Config;
}

/**
 * Resolves the configuration: defaults, then the JSON file (keys as in `Config`), then the
 * environment. Throws `ConfigError` on the first invalid or unknown key.
 *
 * @example
 * const config = loadConfig({ env: (n) => ({ FAILFAST_TAU: "0.3" })[n] });
 * config.tau; // 0.3
 */
export function loadConfig(
  options: { env?: EnvReader; file?: Record<string, unknown>; readFile?: (p: string) => string } =
    {},
): Config {
  const env = options.env ?? denoEnv;
  const config = defaultConfig() as unknown as Record<string, unknown>;
  let file = options.file;
  const filePath = env(CONFIG_FILE_ENV);
  if (file === undefined && filePath) {
    const read = options.readFile ?? ((p: string) => Deno.readTextFileSync(p));
    let text: string;
    try {
      text = read(filePath);
    } catch (e) {
      throw new ConfigError(CONFIG_FILE_ENV, `cannot read ${filePath}: ${(e as Error).message}`);
    }
    try {
      file = JSON.parse(text);
    } catch (e) {
      throw new ConfigError(
        CONFIG_FILE_ENV,
        `${filePath} is not valid JSON: ${(e as Error).message}`,
      );
    }
    if (file === null || typeof file !== "object" || Array.isArray(file)) {
      throw new ConfigError(CONFIG_FILE_ENV, `${filePath} must hold a JSON object`);
    }
  }
  const byKey = new Map(CONFIG_KEYS.map((d) => [d.key as string, d]));
  for (const [key, raw] of Object.entries(file ?? {})) {
    const d = byKey.get(key);
    if (!d) {
      throw new ConfigError(
        `${filePath ?? "config file"}: ${key}`,
        `unknown key; accepted keys: ${[...byKey.keys()].join(", ")}`,
      );
    }
    config[key] = parseValue(d, raw, `${filePath ?? "config file"}: ${key}`);
  }
  for (const d of CONFIG_KEYS) {
    const raw = env(d.env);
    if (raw !== undefined && raw !== "") config[d.key] = parseValue(d, raw, d.env);
  }
  const result = config as unknown as Config;
  if (result.nMax < result.n0) {
    throw new ConfigError("FAILFAST_N_MAX", `must be at least FAILFAST_N0 (${result.n0})`);
  }
  if (result.alignWindows && result.slideSubBlocks) {
    throw new ConfigError(
      "FAILFAST_SLIDE_SUB_BLOCKS",
      "cannot be true with FAILFAST_ALIGN_WINDOWS (windows rounded to a grid that sliding leaves)",
    );
  }
  if (result.backend === "remote" && !/^https?:\/\//.test(result.remoteUrl)) {
    throw new ConfigError(
      "FAILFAST_REMOTE_URL",
      "the remote backend needs an http:// or https:// URL",
    );
  }
  return result;
}

/** The Markdown table of every key, for the README. */
export function configTable(): string {
  const rows = CONFIG_KEYS.map((d) => {
    const dflt = d.key.endsWith("Dir")
      ? `\`models/${String(d.default).split("/models/")[1] ?? d.default}\``
      : d.default === ""
      ? "(unset)"
      : `\`${d.default}\``;
    return `| \`${d.env}\` | \`${d.key}\` | ${describeKind(d.kind)} | ${dflt} | ${d.doc} |`;
  });
  return [
    "| environment | JSON key | accepted | default | meaning |",
    "|---|---|---|---|---|",
    ...rows,
  ].join("\n");
}
