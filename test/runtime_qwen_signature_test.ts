// A graph with exactly the I/O signature of the public Qwen2.5-0.5B-Instruct ONNX export
// (built by test/fixtures/make_qwen_signature.py) loads and runs through the same code.
import assert from "node:assert/strict";
import { loadModelDir } from "../src/model/model-dir.ts";
import { openModel } from "../src/runtime/create.ts";
import type { OrtModelSession } from "../src/runtime/ort-session.ts";
import { VERIFIER_DIR } from "./helpers/models.ts";

const FIXTURES = decodeURIComponent(new URL("./fixtures/", import.meta.url).pathname);

/** The fixture directory plus a tokenizer (the real Qwen tokenizer is 7 MB; any one will do). */
async function qwenDir(name: string): Promise<string> {
  const dir = await Deno.makeTempDir();
  for (const f of ["config.json", "generation_config.json"]) {
    await Deno.copyFile(`${FIXTURES}/${name}/${f}`, `${dir}/${f}`);
  }
  for (const f of ["tokenizer.json", "tokenizer_config.json"]) {
    await Deno.copyFile(`${VERIFIER_DIR}/${f}`, `${dir}/${f}`);
  }
  await Deno.mkdir(`${dir}/onnx`);
  await Deno.copyFile(`${FIXTURES}/${name}/onnx/model.onnx`, `${dir}/onnx/model.onnx`);
  return dir;
}

for (
  const [name, dtype] of [["qwen2.5-signature", "float32"], ["qwen2.5-signature-fp16", "float16"]]
) {
  Deno.test({
    name: `runtime: a Qwen2.5-signature graph (${dtype} KV) loads, decodes and truncates`,
    sanitizeResources: false,
    async fn() {
      const dir = await qwenDir(name);
      try {
        const model = await loadModelDir(dir, "ar");
        assert.deepEqual(model.config.eosTokenIds, [151645, 151643]);
        assert.equal(model.config.headDim, 64); // 896 / 14
        if (dtype === "float16") {
          await assert.rejects(
            () =>
              openModel(model, {
                backend: "ort-node",
                device: "cpu",
                threads: 1,
                graphOptimization: "all",
              }),
            /float16 KV caches do not work with onnxruntime-node/,
          );
        }
        const backend = dtype === "float16" ? "ort-web-wasm" : "ort-node";
        const s = await openModel(model, {
          backend,
          device: "cpu",
          threads: 1,
          graphOptimization: "all",
        });
        const layout = (s as OrtModelSession).layout;
        assert.deepEqual(
          {
            layers: layout.layers,
            kvHeads: layout.kvHeads,
            headDim: layout.headDim,
            dtype: layout.dtype,
          },
          { layers: 24, kvHeads: 2, headDim: 64, dtype },
        );
        const cache = s.createCache();
        const a = await s.forward(cache, [10, 20, 30], { commit: true });
        assert.equal(a.vocab, 151936);
        assert.equal(a.rows, 3);
        // logits = sin(0.001 (id + position) (v + 1)) by construction
        assert.ok(Math.abs(a.logits[2 * 151936 + 4] - Math.sin(0.001 * 32 * 5)) < 1e-5);
        const b = await s.forward(cache, [40], { commit: true, lastRows: 1 });
        assert.ok(Math.abs(b.logits[9] - Math.sin(0.001 * 43 * 10)) < 1e-5);
        assert.equal(cache.length, 4);
        s.truncate(cache, 2);
        const c = await s.forward(cache, [7], { commit: true });
        assert.ok(Math.abs(c.logits[0] - Math.sin(0.001 * 9)) < 1e-5);
        assert.equal(cache.length, 3);
        s.release(cache);
        await s.close();
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}
