// The central promise: every strategy emits exactly the verifier's own output.
import assert from "node:assert/strict";
import { exists, GSM8K_TEST, ownQuestions, readQuestions } from "../harness/questions.ts";
import type { Strategy } from "../src/config.ts";
import type { StrategyParams } from "../src/engine/types.ts";
import { chat, collect, testEngine } from "./helpers/engine.ts";

const { engine, config, parts } = await testEngine();
const defaultEngine = engine;
const MASK = parts.drafter!.dir.config.maskTokenId!;

const VARIANTS: { strategy: Strategy; params?: StrategyParams; label: string }[] = [
  { strategy: "failfast", label: "failfast" },
  {
    strategy: "failfast",
    params: { nMax: 70, draftReuse: true, trimLowConfidence: true },
    label: "failfast N_max 70 + draft reuse + trimmed windows",
  },
  {
    strategy: "failfast",
    params: { n0: 4, n: 4, alignWindows: true },
    label: "failfast N0 = N = 4, aligned windows",
  },
  {
    strategy: "failfast",
    params: { tau: 0.45, n0: 2, n: 2, slideSubBlocks: true },
    label: "failfast N0 = N = 2, sliding sub-blocks",
  },
  {
    strategy: "failfast",
    params: { tau: 0.45, n0: 2, n: 2, slideSubBlocks: true, lookup: true },
    label: "failfast N0 = N = 2, sliding sub-blocks, lookup merged",
  },
  { strategy: "lookup", label: "lookup" },
  { strategy: "dllm-fixed", params: { k: 8 }, label: "dllm-fixed k=8" },
  {
    strategy: "dllm-fixed",
    params: { k: 4, lookup: true },
    label: "dllm-fixed k=4, lookup merged",
  },
  { strategy: "ar-draft", params: { k: 8 }, label: "ar-draft k=8" },
  { strategy: "ar-draft", params: { k: 8, stopBelow: 0.4 }, label: "ar-draft k=8 stop<0.4" },
  { strategy: "ar-draft", params: { k: 3, lookup: true }, label: "ar-draft k=3, lookup merged" },
];

const OWN = Number(Deno.env.get("FAILFAST_TEST_QUESTIONS") ?? 50);
const FROM_GSM8K = Number(Deno.env.get("FAILFAST_TEST_GSM8K") ?? 30);

async function checkLossless(
  questions: string[],
  label: string,
  maxTokens: number,
  variants = VARIANTS,
  engine = defaultEngine,
) {
  const mismatches: string[] = [];
  let tokens = 0;
  for (const [i, q] of questions.entries()) {
    const ar = await collect(engine.generate(chat(q, { maxTokens, strategy: "ar" })));
    tokens += ar.tokens.length;
    for (const v of variants) {
      const out = await collect(
        engine.generate(chat(q, { maxTokens, strategy: v.strategy, params: v.params })),
      );
      if (
        JSON.stringify(out.tokens) !== JSON.stringify(ar.tokens) ||
        out.finishReason !== ar.finishReason
      ) {
        mismatches.push(`${label} #${i} ${v.label}`);
      }
      assert.ok(!out.tokens.includes(MASK), "the mask token is never emitted");
      assert.equal(out.text, ar.text);
    }
  }
  assert.deepEqual(mismatches, [], `outputs differ from ar on ${mismatches.length} runs`);
  assert.ok(tokens > questions.length * 10, "the check generated real text");
}

Deno.test({
  name: `engine: greedy output of every strategy equals ar on ${OWN} own questions (256 tokens)`,
  sanitizeResources: false,
  async fn() {
    await checkLossless(ownQuestions(OWN), "own", 256);
  },
});

Deno.test({
  name:
    `engine: greedy output of every strategy equals ar on the first ${FROM_GSM8K} GSM8K test questions`,
  ignore: !(await exists(GSM8K_TEST)),
  sanitizeResources: false,
  async fn() {
    // the three strategies at their defaults (the variants ran on the own set above)
    const main = VARIANTS.filter((v) =>
      !v.params || v.label === "dllm-fixed k=8" || v.label === "ar-draft k=8"
    );
    await checkLossless(await readQuestions(GSM8K_TEST, FROM_GSM8K), "gsm8k", 256, main);
  },
});

Deno.test({
  name: "engine: with int8 drafters (FAILFAST_DRAFTER_QUANTIZE) every strategy still equals ar",
  sanitizeResources: false,
  async fn() {
    // Quantized drafters propose other tokens at times; the verifier still decides every one.
    const int8 = await testEngine({ FAILFAST_DRAFTER_QUANTIZE: "int8" });
    const variants = VARIANTS.filter((v) =>
      !v.params || v.label.includes("sliding") || v.label.includes("lookup") ||
      v.label === "dllm-fixed k=8" ||
      v.label === "ar-draft k=8"
    );
    await checkLossless(ownQuestions(30), "own, int8 drafters", 256, variants, int8.engine);
    for (const s of int8.sessions) assert.equal(s.live, 0, "every cache released");
    await Promise.all(int8.sessions.map((s) => s.close()));
  },
});

Deno.test({
  name: "engine: max_tokens, stop strings and EOS behave exactly as in ar",
  sanitizeResources: false,
  async fn() {
    const q = ownQuestions(3)[2];
    const ar = await collect(engine.generate(chat(q, { maxTokens: 256, strategy: "ar" })));
    const arShort = await collect(engine.generate(chat(q, { maxTokens: 7, strategy: "ar" })));
    assert.equal(arShort.tokens.length, 7);
    assert.equal(arShort.finishReason, "length");
    assert.deepEqual(arShort.tokens, ar.tokens.slice(0, 7));
    // a stop string taken from the middle of ar's own text
    const stop = ar.text.slice(Math.floor(ar.text.length / 2), Math.floor(ar.text.length / 2) + 3);
    const arStop = await collect(engine.generate(chat(q, { strategy: "ar", stop: [stop] })));
    assert.equal(arStop.finishReason, "stop");
    assert.equal(arStop.text, ar.text.slice(0, ar.text.indexOf(stop)));
    for (const strategy of ["failfast", "dllm-fixed", "ar-draft", "lookup"] as Strategy[]) {
      const short = await collect(engine.generate(chat(q, { maxTokens: 7, strategy })));
      assert.deepEqual(short.tokens, arShort.tokens, strategy);
      assert.equal(short.finishReason, "length");
      const stopped = await collect(engine.generate(chat(q, { strategy, stop: [stop] })));
      assert.equal(stopped.text, arStop.text, strategy);
      assert.equal(stopped.finishReason, "stop");
      const full = await collect(engine.generate(chat(q, { strategy })));
      assert.equal(full.finishReason, ar.finishReason, `${strategy}: EOS handled as in ar`);
      assert.deepEqual(full.tokens, ar.tokens);
    }
  },
});

Deno.test({
  name: "engine: the configured defaults are the paper's FailFast parameters",
  fn() {
    assert.equal(config.tau, 0.45);
    assert.equal(config.nMax, 60);
  },
});
