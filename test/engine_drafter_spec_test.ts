import assert from "node:assert/strict";
import { drafterRoom, type DrafterSpec, specProblem } from "../src/engine/drafter-spec.ts";
import type { ModelConfig } from "../src/model/config.ts";

const dllm: DrafterSpec = {
  kind: "dllm",
  plan: {
    initial: 8,
    step: 8,
    max: 60,
    tau: null,
    threshold: 0.9,
    align: false,
    slide: true,
    trim: false,
  },
  controlled: true,
  eos: [4094],
};
const ar: DrafterSpec = { kind: "ar", k: 3, stopBelow: null, controlled: false, eos: [4094] };

Deno.test("drafter spec: a block drafter's room ends with the last whole block that fits", () => {
  const config = { maxPositions: 512, blockSize: 32 } as ModelConfig;
  assert.equal(drafterRoom(config, "dllm", 100), 412);
  const odd = { maxPositions: 500, blockSize: 32 } as ModelConfig; // 15 whole blocks: 480
  assert.equal(drafterRoom(odd, "dllm", 470), 10);
  assert.ok(drafterRoom(odd, "dllm", 490) < 0, "past the last whole block: no room");
  // an AR drafter drafts up to its window: the next token's position is the last one
  assert.equal(drafterRoom({ maxPositions: 512 } as ModelConfig, "ar", 500), 13);
});

Deno.test("drafter spec: the specs the engine builds pass the wire check, and JSON keeps them", () => {
  for (
    const spec of [dllm, ar, { ...ar, stopBelow: 0.45 }, {
      ...dllm,
      plan: { ...dllm.plan, tau: 0.45 },
    }]
  ) {
    assert.equal(specProblem(spec), null, JSON.stringify(spec));
    assert.equal(specProblem(JSON.parse(JSON.stringify(spec))), null);
  }
});

Deno.test("drafter spec: a malformed spec from the wire is named, not built", () => {
  const cases: [unknown, RegExp][] = [
    [null, /must be an object/],
    ["dllm", /must be an object/],
    [{ ...ar, eos: "4094" }, /eos must be a list/],
    [{ ...ar, eos: [-1] }, /eos must be a list/],
    [{ ...ar, controlled: "yes" }, /controlled must be a boolean/],
    [{ ...ar, k: 0 }, /k must be an integer/],
    [{ ...ar, k: 2.5 }, /k must be an integer/],
    [{ ...ar, stopBelow: 2 }, /stopBelow/],
    [{ ...dllm, kind: "gpt" }, /unknown drafter kind "gpt"/],
    [{ ...dllm, plan: null }, /plan must be an object/],
    [{ ...dllm, plan: { ...dllm.plan, max: 10_000 } }, /up to 512/],
    [{ ...dllm, plan: { ...dllm.plan, step: -1 } }, /up to 512/],
    [{ ...dllm, plan: { ...dllm.plan, tau: -0.1 } }, /plan.tau/],
    [{ ...dllm, plan: { ...dllm.plan, threshold: NaN } }, /plan.threshold/],
    [{ ...dllm, plan: { ...dllm.plan, slide: 1 } }, /plan.slide must be a boolean/],
  ];
  for (const [spec, message] of cases) assert.match(specProblem(spec) ?? "", message);
});
