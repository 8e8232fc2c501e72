// int8 drafters made at load time (FAILFAST_DRAFTER_QUANTIZE): the ONNX rewrite and its errors.
import assert from "node:assert/strict";
import { InferenceError } from "../src/errors.ts";
import { loadModelDir } from "../src/model/model-dir.ts";
import { openModel, type RuntimeOptions } from "../src/runtime/create.ts";
import {
  bytesField,
  decodeMessage,
  encodeMessage,
  stringField,
  varintField,
} from "../src/runtime/protobuf-wire.ts";
import { QuantizeError, quantizeMatMulWeights } from "../src/runtime/quantize-weights.ts";
import type { ModelSession } from "../src/runtime/types.ts";
import { AR_DRAFTER_DIR, argmax, DRAFTER_DIR, readFixture, row } from "./helpers/models.ts";

const OPTIONS: RuntimeOptions = {
  backend: "ort-node",
  device: "cpu",
  threads: 1,
  graphOptimization: "all",
};

Deno.test("protobuf wire: an ONNX file and its graph decode and re-encode to the same bytes", async () => {
  const bytes = await Deno.readFile(`${DRAFTER_DIR}/onnx/model.onnx`);
  const fields = decodeMessage(bytes);
  assert.deepEqual(encodeMessage(fields), bytes);
  const graph = fields.find((f) => f.field === 7)!;
  assert.deepEqual(encodeMessage(decodeMessage(graph.bytes)), graph.bytes);
});

/** Prefill logits of the fixture's prompt: every row. */
async function prefill(s: ModelSession, ids: number[]) {
  const cache = s.createCache();
  const r = await s.forward(cache, ids, { commit: true });
  s.release(cache);
  return r;
}

for (const dir of [DRAFTER_DIR, AR_DRAFTER_DIR]) {
  const name = dir.split("/").pop();
  Deno.test({
    name: `quantize: ${name}'s weight matrices run in int8 and predict as the float model does`,
    sanitizeResources: false,
    async fn() {
      const bytes = await Deno.readFile(`${dir}/onnx/model.onnx`);
      const q = quantizeMatMulWeights(bytes);
      // 2 layers x (QKV, output, gate-up, down) + the tied vocabulary projection
      assert.equal(q.matmuls, 9);
      assert.ok(q.model.length < 0.8 * bytes.length, "the float copies of the matrices are gone");
      const model = await loadModelDir(dir, name === "tiny-gsm-drafter" ? "dllm" : "ar");
      const float = await openModel(model, OPTIONS);
      const ids = (await readFixture(dir)).input_ids;
      const a = await prefill(float, ids);
      // the contrib operator runs on onnxruntime-node and in onnxruntime-web's wasm build alike
      for (const backend of ["ort-node", "ort-web-wasm"] as const) {
        const int8 = await openModel(model, { ...OPTIONS, backend, quantize: "int8" });
        const b = await prefill(int8, ids);
        assert.equal(b.rows, a.rows);
        let same = 0, maxDiff = 0;
        for (let r = 0; r < a.rows; r++) {
          const x = row(a.logits, r, a.vocab), y = row(b.logits, r, b.vocab);
          if (argmax(x) === argmax(y)) same++;
          for (let i = 0; i < x.length; i++) maxDiff = Math.max(maxDiff, Math.abs(x[i] - y[i]));
        }
        // close, not equal: a drafter only proposes, and the verifier decides
        assert.ok(same / a.rows >= 0.9, `${backend}: argmax agreement ${same}/${a.rows}`);
        assert.ok(maxDiff > 0 && maxDiff < 2, `${backend}: max logit difference ${maxDiff}`);
        await int8.close();
      }
      await float.close();
    },
  });
}

Deno.test("quantize: what is not a float32 single-file ONNX model is refused with a clear error", async () => {
  assert.throws(
    () => quantizeMatMulWeights(new TextEncoder().encode("definitely not a model")),
    (e: unknown) => e instanceof QuantizeError && /not an ONNX model/.test(e.message),
  );
  const bytes = await Deno.readFile(`${DRAFTER_DIR}/onnx/model.onnx`);
  assert.throws(
    () => quantizeMatMulWeights(bytes.subarray(0, bytes.length - 1000)),
    (e: unknown) => e instanceof QuantizeError && /runs past the end/.test(e.message),
  );
  const model = (graph: Uint8Array) => encodeMessage([bytesField(7, graph)]);
  assert.throws(
    () => quantizeMatMulWeights(model(new Uint8Array())),
    (e: unknown) => e instanceof QuantizeError && /no MatMul/.test(e.message),
  );
  const external = encodeMessage([stringField(8, "w"), varintField(14, 1)]);
  assert.throws(
    () => quantizeMatMulWeights(model(encodeMessage([bytesField(5, external)]))),
    (e: unknown) => e instanceof QuantizeError && /external data/.test(e.message),
  );

  // through openModel: an InferenceError naming the file, and nothing written
  const tmp = await Deno.makeTempDir();
  try {
    for (
      const f of [
        "config.json",
        "generation_config.json",
        "tokenizer.json",
        "tokenizer_config.json",
      ]
    ) {
      await Deno.copyFile(`${DRAFTER_DIR}/${f}`, `${tmp}/${f}`);
    }
    await Deno.mkdir(`${tmp}/onnx`);
    await Deno.writeFile(`${tmp}/onnx/model.onnx`, bytes.subarray(0, 5000));
    const broken = await loadModelDir(tmp, "dllm");
    await assert.rejects(
      () => openModel(broken, { ...OPTIONS, quantize: "int8" }),
      (e: unknown) =>
        e instanceof InferenceError && e.message.includes(`${tmp}/onnx/model.onnx`) &&
        /cannot quantize/.test(e.message),
    );
    assert.equal((await Deno.stat(`${tmp}/onnx/model.onnx`)).size, 5000);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
