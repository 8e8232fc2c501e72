/**
 * Validation of OpenAI request bodies (`/v1/chat/completions`, `/v1/completions`) into the
 * engine's `GenerateRequest`. Every rejection is an `InvalidRequestError` whose `param` names the
 * offending field (`messages[1].content`, `failfast.tau`, ...), as OpenAI does.
 *
 * Extension field (documented in the README): `"failfast": {"strategy", "tau", "n0", "n",
 * "n_max", "unmask_threshold", "k", "stop_below", "draft_reuse", "align_windows",
 * "slide_sub_blocks", "trim_low_confidence", "lookup", "lookup_max", "controller"}` chooses the decoding strategy and its parameters
 * for one request; unset keys take the server's configured defaults.
 */
import type { Config, Strategy } from "../config.ts";
import { accepts, param, type ParamDecl, PARAMS, refusal } from "../params.ts";
import { InvalidRequestError } from "../errors.ts";
import type { ChatMessage, GenerateRequest, StrategyParams } from "../engine/types.ts";

/** Which OpenAI endpoint a body was sent to. */
export type Endpoint = "chat" | "completions";

/** A validated request: the engine request plus the HTTP-level options. */
export interface ParsedRequest {
  endpoint: Endpoint;
  /** The engine request; `maxTokens` is the client's value or the server default. */
  request: GenerateRequest;
  /** True when the client set `max_tokens` (or `max_completion_tokens`) itself. */
  maxTokensExplicit: boolean;
  stream: boolean;
  /** `stream_options.include_usage`. */
  includeUsage: boolean;
  /** The model id to echo in responses. */
  model: string;
}

/** Fields that would change the output or its shape and that this server does not implement. */
const UNSUPPORTED: Record<string, (v: unknown) => boolean> = {
  tools: (v) => Array.isArray(v) ? v.length > 0 : v != null,
  tool_choice: (v) => v != null && v !== "none",
  functions: (v) => Array.isArray(v) ? v.length > 0 : v != null,
  function_call: (v) => v != null && v !== "none",
  response_format: (v) =>
    v != null && !(typeof v === "object" && (v as { type?: unknown }).type === "text"),
  logprobs: (v) => v != null && v !== false,
  top_logprobs: (v) => v != null && v !== 0,
  logit_bias: (v) => v != null && Object.keys(v as object).length > 0,
  frequency_penalty: (v) => v != null && v !== 0,
  presence_penalty: (v) => v != null && v !== 0,
  echo: (v) => v != null && v !== false,
  suffix: (v) => v != null && v !== "",
  audio: (v) => v != null,
  modalities: (v) => v != null && !(Array.isArray(v) && v.every((m) => m === "text")),
  prediction: (v) => v != null,
};

/** The keys of the `failfast` object: the request parameters of that group (params.ts). */
const FAILFAST_PARAMS = PARAMS.filter((p) => p.group === "failfast");
const FAILFAST_KEYS = FAILFAST_PARAMS.map((p) => p.field);

function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return typeof v === "object" ? "an object" : `a ${typeof v}`;
}

function bad(param: string, message: string, code = "invalid_value"): never {
  throw new InvalidRequestError(`${param}: ${message}`, param, code);
}

function wrongType(param: string, expected: string, v: unknown): never {
  bad(param, `expected ${expected}, got ${typeName(v)}`, "invalid_type");
}

function num(
  body: Record<string, unknown>,
  key: string,
  param: string,
  range: { min: number; max: number; int?: boolean; exclusiveMin?: boolean },
): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v)) {
    wrongType(param, range.int ? "an integer" : "a number", v);
  }
  if (range.int && !Number.isInteger(v)) wrongType(param, "an integer", v);
  const low = range.exclusiveMin ? v <= range.min : v < range.min;
  if (low || v > range.max) {
    bad(
      param,
      `${v} is out of range: expected ${
        range.exclusiveMin ? "more than" : "at least"
      } ${range.min} and at most ${range.max}`,
    );
  }
  return v;
}

/**
 * A request parameter's value at `obj[key]` (unset: undefined), checked against its declaration;
 * the refusal names `path` (`temperature`, `failfast.tau`).
 */
function declared(
  obj: Record<string, unknown>,
  decl: ParamDecl,
  path: string,
  key = decl.field,
): unknown {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (!accepts(decl.kind, v)) {
    const wrongJsType = decl.kind.type === "bool"
      ? typeof v !== "boolean"
      : decl.kind.type === "enum"
      ? typeof v !== "string"
      : typeof v !== "number" || (decl.kind.type === "int" && !Number.isInteger(v));
    bad(path, refusal(decl.kind, v), wrongJsType ? "invalid_type" : "invalid_value");
  }
  return v;
}

function bool(body: Record<string, unknown>, key: string, param: string): boolean | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "boolean") wrongType(param, "a boolean", v);
  return v;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Text of a message's `content`: a string, or an array of `{type: "text", text}` parts. */
function contentText(v: unknown, param: string): string {
  if (typeof v === "string") return v;
  if (Array.isArray(v)) {
    return v.map((part, j) => {
      const p = `${param}[${j}]`;
      if (!isObject(part)) wrongType(p, "a content part object", part);
      if (part.type !== "text") {
        bad(
          `${p}.type`,
          `only "text" content parts are supported, got ${JSON.stringify(part.type)}`,
        );
      }
      if (typeof part.text !== "string") wrongType(`${p}.text`, "a string", part.text);
      return part.text;
    }).join("");
  }
  return wrongType(param, "a string or an array of text parts", v);
}

function parseMessages(v: unknown): ChatMessage[] {
  if (v === undefined) bad("messages", "is required", "missing_required_parameter");
  if (!Array.isArray(v)) wrongType("messages", "an array", v);
  if (v.length === 0) bad("messages", "must hold at least one message");
  return v.map((m, i) => {
    const p = `messages[${i}]`;
    if (!isObject(m)) wrongType(p, "an object", m);
    let role = m.role;
    if (role === "developer") role = "system";
    if (role !== "system" && role !== "user" && role !== "assistant") {
      bad(
        `${p}.role`,
        `expected "system", "developer", "user" or "assistant", got ${JSON.stringify(m.role)}`,
      );
    }
    if (m.tool_calls != null) bad(`${p}.tool_calls`, "tool calls are not supported");
    if (m.content === undefined || m.content === null) {
      bad(`${p}.content`, "is required", "missing_required_parameter");
    }
    return { role, content: contentText(m.content, `${p}.content`) };
  });
}

function parsePrompt(v: unknown): string {
  if (v === undefined) bad("prompt", "is required", "missing_required_parameter");
  if (typeof v === "string") return v;
  if (Array.isArray(v)) {
    if (v.length === 1 && typeof v[0] === "string") return v[0];
    if (v.length !== 1) bad("prompt", "a batch of prompts is not supported: send one string");
    bad("prompt", "token-id prompts are not supported: send a string");
  }
  return wrongType("prompt", "a string", v);
}

function parseStop(v: unknown): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  const list = typeof v === "string" ? [v] : v;
  if (!Array.isArray(list)) wrongType("stop", "a string or an array of strings", v);
  if (list.length > 16) bad("stop", "at most 16 stop strings are supported");
  list.forEach((s, i) => {
    if (typeof s !== "string") wrongType(`stop[${i}]`, "a string", s);
    if (s === "") bad(`stop[${i}]`, "must not be empty");
  });
  return list.length ? list as string[] : undefined;
}

/** Parses the `failfast` extension object. */
function parseFailFast(v: unknown): { strategy?: Strategy; params?: StrategyParams } {
  if (v === undefined || v === null) return {};
  if (!isObject(v)) wrongType("failfast", "an object", v);
  for (const key of Object.keys(v)) {
    if (!(FAILFAST_KEYS as readonly string[]).includes(key)) {
      bad(
        `failfast.${key}`,
        `unknown key; accepted keys: ${FAILFAST_KEYS.join(", ")}`,
        "unknown_parameter",
      );
    }
  }
  const values: Record<string, unknown> = {};
  for (const decl of FAILFAST_PARAMS) {
    const value = declared(v, decl, `failfast.${decl.field}`);
    if (value !== undefined) values[decl.name] = value;
  }
  const { strategy, ...rest } = values as { strategy?: Strategy } & StrategyParams;
  const params: StrategyParams = rest;
  if (params.n0 !== undefined && params.nMax !== undefined && params.nMax < params.n0) {
    bad("failfast.n_max", `must be at least failfast.n0 (${params.n0})`);
  }
  if (params.alignWindows && params.slideSubBlocks) {
    bad("failfast.slide_sub_blocks", "cannot be true with failfast.align_windows");
  }
  return { strategy, params: Object.keys(params).length ? params : undefined };
}

/**
 * Validates a parsed JSON body sent to `endpoint` and builds the engine request.
 * Throws `InvalidRequestError` (with `param`) for anything wrong; code `model_not_found` for a
 * model id other than the served one.
 *
 * @example
 * const r = parseRequest("chat", { model: "tiny-gsm", messages: [{ role: "user", content: "hi" }] }, config);
 * r.request.messages; // [{ role: "user", content: "hi" }]
 */
export function parseRequest(endpoint: Endpoint, body: unknown, config: Config): ParsedRequest {
  if (!isObject(body)) {
    throw new InvalidRequestError(
      `the request body must be a JSON object, got ${typeName(body)}`,
      null,
      "invalid_type",
    );
  }
  let model = config.modelName;
  if (body.model !== undefined && body.model !== null) {
    if (typeof body.model !== "string") wrongType("model", "a string", body.model);
    if (body.model !== config.modelName) {
      throw new InvalidRequestError(
        `The model '${body.model}' does not exist; this server serves '${config.modelName}'`,
        "model",
        "model_not_found",
      );
    }
    model = body.model;
  }
  for (const [key, isSet] of Object.entries(UNSUPPORTED)) {
    if (key in body && isSet(body[key])) {
      bad(key, "is not supported by this server", "unsupported_parameter");
    }
  }
  const n = num(body, "n", "n", { min: 1, max: 128, int: true });
  if (n !== undefined && n !== 1) bad("n", "only n = 1 is supported", "unsupported_parameter");
  const bestOf = num(body, "best_of", "best_of", { min: 1, max: 128, int: true });
  if (bestOf !== undefined && bestOf !== 1) {
    bad("best_of", "only best_of = 1 is supported", "unsupported_parameter");
  }

  const request: GenerateRequest = { maxTokens: config.maxTokens };
  if (endpoint === "chat") {
    if ("prompt" in body) bad("prompt", "is not a chat completions field: send messages");
    request.messages = parseMessages(body.messages);
  } else {
    if ("messages" in body) bad("messages", "is not a completions field: send prompt");
    request.prompt = parsePrompt(body.prompt);
  }

  const maxKey = endpoint === "chat" && body.max_completion_tokens != null
    ? "max_completion_tokens"
    : "max_tokens";
  const maxTokens = declared(body, param("maxTokens"), maxKey, maxKey) as number | undefined;
  if (maxTokens !== undefined) {
    if (maxTokens > config.maxTokens) {
      bad(maxKey, `${maxTokens} is more than this server's limit of ${config.maxTokens}`);
    }
    request.maxTokens = maxTokens;
  }
  for (const name of ["temperature", "topP", "topK", "seed"] as const) {
    const decl = param(name);
    const value = declared(body, decl, decl.field) as number | undefined;
    if (value !== undefined) request[name] = value;
  }
  const stop = parseStop(body.stop);
  if (stop) request.stop = stop;

  const stream = bool(body, "stream", "stream") ?? false;
  let includeUsage = false;
  if (body.stream_options !== undefined && body.stream_options !== null) {
    if (!stream) bad("stream_options", "is only allowed when stream is true");
    if (!isObject(body.stream_options)) {
      wrongType("stream_options", "an object", body.stream_options);
    }
    includeUsage = bool(body.stream_options, "include_usage", "stream_options.include_usage") ??
      false;
  }

  const ff = parseFailFast(body.failfast);
  request.strategy = ff.strategy ?? config.strategy;
  if (ff.params) request.params = ff.params;

  return {
    endpoint,
    request,
    maxTokensExplicit: maxTokens !== undefined,
    stream,
    includeUsage,
    model,
  };
}
