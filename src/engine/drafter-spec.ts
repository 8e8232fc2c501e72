/**
 * A model drafter's recipe as plain data (JSON): which drafter, its plan, and whether the
 * draft-length controller decides its extensions. The engine builds its drafters from a spec,
 * and a model server builds the same drafter beside its model from the same spec, so a remote
 * draft is the local one, pass for pass.
 */

import type { ModelConfig } from "../model/config.ts";
import { accepts, param, type ParamKind } from "../params.ts";
import type { PolicyCore } from "../policy/core.ts";
import type { ModelSession } from "../runtime/types.ts";
import { ArDrafter } from "./ar-drafter.ts";
import { DllmDrafter, type DraftPlan } from "./dllm-drafter.ts";
import type { Drafter, ExtendDecision } from "./drafter.ts";

export type DrafterSpec =
  | {
    kind: "dllm";
    /** The plan; under the controller `extend` decides instead of tau. */
    plan: Omit<DraftPlan, "extend">;
    controlled: boolean;
    eos: number[];
  }
  | {
    kind: "ar";
    /** Draft length (the cap under the controller). */
    k: number;
    stopBelow: number | null;
    controlled: boolean;
    eos: number[];
  };

/** Which of a model server's drafters a spec runs on. */
export function drafterModelOf(spec: DrafterSpec): "drafter" | "ar-drafter" {
  return spec.kind === "dllm" ? "drafter" : "ar-drafter";
}

/** Longest draft a drafter's own context window allows after `contextLength` tokens. */
export function drafterRoom(
  config: ModelConfig,
  kind: DrafterSpec["kind"],
  contextLength: number,
): number {
  if (kind === "dllm") {
    // the whole block window holding the last draft position must fit
    return Math.floor(config.maxPositions / config.blockSize!) * config.blockSize! - contextLength;
  }
  return config.maxPositions - contextLength + 1;
}

/** Builds a spec's drafter over `session`; `extend` is required when the spec is controlled. */
export function buildDrafter(
  spec: DrafterSpec,
  session: ModelSession,
  policy: PolicyCore,
  extend?: ExtendDecision,
): Drafter {
  if (spec.controlled && !extend) throw new Error("a controlled drafter needs an extend decision");
  const decide = spec.controlled ? extend : undefined;
  if (spec.kind === "ar") {
    return new ArDrafter(session, policy, spec.k, spec.stopBelow, spec.eos, decide);
  }
  return new DllmDrafter(session, policy, { ...spec.plan, extend: decide }, spec.eos);
}

/** Checks a spec received over the wire; returns a message naming what is wrong, or null. */
export function specProblem(spec: unknown): string | null {
  if (spec === null || typeof spec !== "object") return "the drafter spec must be an object";
  const s = spec as Record<string, unknown>;
  // the request parameters' own ranges (params.ts): a draft length, a probability
  const lengthKind = param("k").kind as Extract<ParamKind, { type: "int" }>;
  const length = (v: unknown) => accepts(lengthKind, v);
  const unit = (v: unknown) => accepts(param("tau").kind, v);
  const tokenId = (t: unknown) =>
    Number.isInteger(t) && (t as number) >= 0 && (t as number) < 2 ** 31;
  if (!Array.isArray(s.eos) || !s.eos.every(tokenId)) return "eos must be a list of token ids";
  if (typeof s.controlled !== "boolean") return "controlled must be a boolean";
  if (s.kind === "ar") {
    if (!length(s.k)) return `k must be an integer from ${lengthKind.min} to ${lengthKind.max}`;
    if (s.stopBelow !== null && !unit(s.stopBelow)) return "stopBelow must be null or in [0, 1]";
    return null;
  }
  if (s.kind !== "dllm") return `unknown drafter kind ${JSON.stringify(s.kind)}`;
  const p = s.plan as Record<string, unknown> | null;
  if (p === null || typeof p !== "object") return "plan must be an object";
  // a step of 0 never extends (dllm-fixed)
  if (!length(p.initial) || !length(p.max) || !(p.step === 0 || length(p.step))) {
    return `plan.initial, plan.step and plan.max must be integers up to ${lengthKind.max}`;
  }
  if (p.tau !== null && !unit(p.tau)) return "plan.tau must be null or in [0, 1]";
  if (!unit(p.threshold)) return "plan.threshold must be in [0, 1]";
  for (const k of ["align", "slide", "trim"]) {
    if (typeof p[k] !== "boolean") return `plan.${k} must be a boolean`;
  }
  return null;
}
