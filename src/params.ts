/**
 * Every per-request generation parameter, declared once: its name in the engine's request, its
 * field over HTTP (at the top of an OpenAI request, or in the `failfast` object), its command-line
 * flag, the configuration key of its server default, its type and range, and what it does. The
 * OpenAI schema, the command line, the configuration and the engine's own checks all read it, so
 * a value is accepted or refused alike at every layer.
 */

/** Decoding strategies (engine.ts). */
export const STRATEGIES = ["failfast", "ar", "dllm-fixed", "ar-draft", "lookup"] as const;
export type Strategy = typeof STRATEGIES[number];

/** The model drafter a strategy runs: the block-diffusion one, the small AR one, or none. */
export function drafterOf(strategy: Strategy): "dllm" | "ar" | null {
  if (strategy === "failfast" || strategy === "dllm-fixed") return "dllm";
  return strategy === "ar-draft" ? "ar" : null;
}

/** How FailFast's draft lengths are chosen: from measured costs, or fixed parameters. */
export const CONTROLLERS = ["cost", "fixed"] as const;
export type Controller = typeof CONTROLLERS[number];

export type ParamKind =
  | { type: "number"; min: number; max: number; exclusiveMin?: boolean }
  | { type: "int"; min: number; max: number }
  | { type: "bool" }
  | { type: "enum"; values: readonly string[] };

export interface ParamDecl {
  /** Name in the engine's GenerateRequest (or its StrategyParams). */
  name: string;
  /** `request`: a top-level OpenAI field; `failfast`: a key of the `failfast` object. */
  group: "request" | "failfast";
  /** Its field over HTTP (and the name errors give it). */
  field: string;
  /** Its command-line flag, when `generate` takes it. */
  flag?: string;
  /** The configuration keys whose values are its defaults (they share its kind). */
  config?: readonly string[];
  kind: ParamKind;
  doc: string;
}

/** A draft or window length. */
const LENGTH: ParamKind = { type: "int", min: 1, max: 512 };
const UNIT: ParamKind = { type: "number", min: 0, max: 1 };
const BOOL: ParamKind = { type: "bool" };

export const PARAMS: readonly ParamDecl[] = [
  {
    name: "maxTokens",
    group: "request",
    field: "max_tokens",
    flag: "max-tokens",
    config: ["maxTokens"],
    kind: { type: "int", min: 1, max: 1 << 20 },
    doc: "New tokens at most (a server also caps it at FAILFAST_MAX_TOKENS).",
  },
  {
    name: "temperature",
    group: "request",
    field: "temperature",
    flag: "temperature",
    kind: { type: "number", min: 0, max: 2 },
    doc: "Sampling temperature; 0 is greedy.",
  },
  {
    name: "topP",
    group: "request",
    field: "top_p",
    flag: "top-p",
    kind: { type: "number", min: 0, max: 1, exclusiveMin: true },
    doc: "Nucleus sampling: the smallest set of tokens with this much probability.",
  },
  {
    name: "topK",
    group: "request",
    field: "top_k",
    flag: "top-k",
    kind: { type: "int", min: -1, max: 1 << 30 },
    doc: "Sample among the k most likely tokens; 0 or -1: all.",
  },
  {
    name: "seed",
    group: "request",
    field: "seed",
    flag: "seed",
    kind: { type: "int", min: 0, max: Number.MAX_SAFE_INTEGER },
    doc: "Seed of the sampling generators: the same seed gives the same text under every strategy.",
  },
  {
    name: "strategy",
    group: "failfast",
    field: "strategy",
    flag: "strategy",
    config: ["strategy"],
    kind: { type: "enum", values: STRATEGIES },
    doc: "Decoding strategy.",
  },
  {
    name: "controller",
    group: "failfast",
    field: "controller",
    config: ["controller"],
    kind: { type: "enum", values: CONTROLLERS },
    doc: "`cost`: draft lengths from measured costs; `fixed`: FailFast's fixed parameters.",
  },
  {
    name: "tau",
    group: "failfast",
    field: "tau",
    config: ["tau"],
    kind: UNIT,
    doc: "FailFast's stop threshold: a window with a token below it stops the draft.",
  },
  {
    name: "n0",
    group: "failfast",
    field: "n0",
    config: ["n0"],
    kind: LENGTH,
    doc: "FailFast's first window N0.",
  },
  {
    name: "n",
    group: "failfast",
    field: "n",
    config: ["n"],
    kind: LENGTH,
    doc: "FailFast's extension step N.",
  },
  {
    name: "nMax",
    group: "failfast",
    field: "n_max",
    config: ["nMax"],
    kind: LENGTH,
    doc: "Longest draft N_max (FailFast, and the controller's cap).",
  },
  {
    name: "unmaskThreshold",
    group: "failfast",
    field: "unmask_threshold",
    config: ["unmaskThreshold", "fixedThreshold"],
    kind: UNIT,
    doc: "A denoising pass commits the positions above this confidence (at least one).",
  },
  {
    name: "k",
    group: "failfast",
    field: "k",
    config: ["fixedK", "arDraftK"],
    kind: LENGTH,
    doc: "Draft length of dllm-fixed and ar-draft.",
  },
  {
    name: "stopBelow",
    group: "failfast",
    field: "stop_below",
    kind: UNIT,
    doc: "ar-draft stops drafting after a token below this confidence.",
  },
  {
    name: "draftReuse",
    group: "failfast",
    field: "draft_reuse",
    config: ["draftReuse"],
    kind: BOOL,
    doc: "Reuse the rejected tail of the last draft when the new one agrees with it.",
  },
  {
    name: "alignWindows",
    group: "failfast",
    field: "align_windows",
    config: ["alignWindows"],
    kind: BOOL,
    doc: "Round FailFast's windows up to sub-block ends.",
  },
  {
    name: "slideSubBlocks",
    group: "failfast",
    field: "slide_sub_blocks",
    config: ["slideSubBlocks"],
    kind: BOOL,
    doc: "A denoising pass decides the sub-block from the draft's first undecided position.",
  },
  {
    name: "trimLowConfidence",
    group: "failfast",
    field: "trim_low_confidence",
    config: ["trimLowConfidence"],
    kind: BOOL,
    doc: "Cut a window that failed fast at its first token below tau.",
  },
  {
    name: "lookup",
    group: "failfast",
    field: "lookup",
    config: ["lookup"],
    kind: BOOL,
    doc: "Merge a context lookup into the drafts.",
  },
  {
    name: "lookupMax",
    group: "failfast",
    field: "lookup_max",
    config: ["lookupMax"],
    kind: LENGTH,
    doc: "Longest draft a lookup proposes.",
  },
];

const BY_NAME = new Map(PARAMS.map((p) => [p.name, p]));

/** The declaration of a parameter by its engine name, if there is one. */
export function findParam(name: string): ParamDecl | undefined {
  return BY_NAME.get(name);
}

/** The declaration of a parameter by its engine name (a name the code knows). */
export function param(name: string): ParamDecl {
  const p = findParam(name);
  if (!p) throw new Error(`no parameter ${name}`);
  return p;
}

/** The kind of the parameter whose default is configuration key `key`, if any. */
export function kindOfConfigKey(key: string): ParamKind | undefined {
  return PARAMS.find((p) => p.config?.includes(key))?.kind;
}

/** What a kind accepts, in words ("a number from 0 to 1"). */
export function describeKind(kind: ParamKind): string {
  switch (kind.type) {
    case "number":
      return kind.exclusiveMin
        ? `a number above ${kind.min} and at most ${kind.max}`
        : `a number from ${kind.min} to ${kind.max}`;
    case "int":
      return `an integer from ${kind.min} to ${kind.max}`;
    case "bool":
      return "true or false";
    case "enum":
      return `one of ${kind.values.map((v) => `"${v}"`).join(", ")}`;
  }
}

/** Whether `value` (a JSON value) is of the kind and in its range. */
export function accepts(kind: ParamKind, value: unknown): boolean {
  switch (kind.type) {
    case "number":
    case "int": {
      if (typeof value !== "number" || !Number.isFinite(value)) return false;
      if (kind.type === "int" && !Number.isInteger(value)) return false;
      const low = kind.type === "number" && kind.exclusiveMin
        ? value <= kind.min
        : value < kind.min;
      return !low && value <= kind.max;
    }
    case "bool":
      return typeof value === "boolean";
    case "enum":
      return typeof value === "string" && kind.values.includes(value);
  }
}

/** The refusal of a value, the same words at every layer: `got 2, expected a number from 0 to 1`. */
export function refusal(kind: ParamKind, value: unknown): string {
  return `got ${JSON.stringify(value) ?? String(value)}, expected ${describeKind(kind)}`;
}
