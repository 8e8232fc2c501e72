// Model loading and the onnxruntime backends against the PyTorch golden fixtures.
import assert from "node:assert/strict";
import { loadModelDir, type ModelDir } from "../src/model/model-dir.ts";
import { openModel, type RuntimeOptions } from "../src/runtime/create.ts";
import type { ModelSession } from "../src/runtime/types.ts";
import {
  argmax,
  DRAFTER_DIR,
  type Fixture,
  maxAbsDiff,
  readFixture,
  row,
  VERIFIER_DIR,
} from "./helpers/models.ts";

const BACKENDS: RuntimeOptions["backend"][] = ["ort-node", "ort-web-wasm", "ort-web-webgpu"];

function options(backend: RuntimeOptions["backend"]): RuntimeOptions {
  return {
    backend,
    device: "cpu",
    threads: backend === "ort-node" ? 2 : 1,
    graphOptimization: "all",
  };
}

const verifierDir = await loadModelDir(VERIFIER_DIR, "ar");
const drafterDir = await loadModelDir(DRAFTER_DIR, "dllm");
const verifierFixture = await readFixture(VERIFIER_DIR);
const drafterFixture = await readFixture(DRAFTER_DIR);

/** Checks the prefill rows and the incremental step of a fixture. */
async function checkFixture(
  model: ModelDir,
  session: ModelSession,
  fx: Fixture,
  label: string,
) {
  const ids: number[] = fx.input_ids;
  const cache = session.createCache();
  const full = await session.forward(cache, ids, { commit: true });
  assert.equal(full.rows, ids.length);
  assert.equal(full.vocab, model.config.vocabSize);
  fx.prefill.positions.forEach((p: number, i: number) => {
    const d = maxAbsDiff(row(full.logits, p, full.vocab), fx.prefill.logits[i]);
    assert.ok(d <= 1e-4, `${label}: prefill row ${p} differs by ${d}`);
  });
  for (let p = 0; p < ids.length; p++) {
    assert.equal(
      argmax(row(full.logits, p, full.vocab)),
      fx.prefill.argmax[p],
      `${label}: argmax ${p}`,
    );
  }
  // incremental: prefill P positions, then one step
  const P = fx.incremental.prefill_len;
  const c2 = session.createCache();
  await session.forward(c2, ids.slice(0, P), { commit: true });
  const step = await session.forward(c2, fx.incremental.step_ids, { commit: true });
  const d = maxAbsDiff(row(step.logits, 0, step.vocab), fx.incremental.step_logits[0]);
  assert.ok(d <= 1e-4, `${label}: incremental step differs by ${d}`);
  session.release(cache);
  session.release(c2);
}

for (const backend of BACKENDS) {
  Deno.test({
    name: `runtime ${backend}: verifier and drafter logits equal the PyTorch fixtures`,
    sanitizeResources: false,
    sanitizeOps: false,
    async fn() {
      if (backend === "ort-web-webgpu" && !("gpu" in navigator)) {
        throw new Error(
          "navigator.gpu is missing: install mesa-vulkan-drivers for the software adapter",
        );
      }
      const v = await openModel(verifierDir, options(backend));
      const dr = await openModel(drafterDir, options(backend));
      try {
        await checkFixture(verifierDir, v, verifierFixture, `${backend} verifier`);
        await checkFixture(drafterDir, dr, drafterFixture, `${backend} drafter`);
        // block-causal window across a block boundary, against the cached prefix
        const bw = drafterFixture.block_window;
        const cache = dr.createCache();
        await dr.forward(cache, bw.prefix_ids, { commit: true });
        const w = await dr.forward(cache, bw.window_ids, { commit: false });
        assert.equal(
          cache.length,
          bw.prefix_ids.length,
          "a denoising pass leaves the cache as it was",
        );
        bw.rows.forEach((r: number, i: number) => {
          const d = maxAbsDiff(row(w.logits, r, w.vocab), bw.logits[i]);
          assert.ok(d <= 1e-4, `${backend}: block window row ${r} differs by ${d}`);
        });
        for (let i = 0; i < bw.window_ids.length; i++) {
          assert.equal(
            argmax(row(w.logits, i, w.vocab)),
            bw.argmax[i],
            `${backend}: window argmax ${i}`,
          );
        }
        // the engine's denoising pass: the window's tokens out of order (positions with them),
        // only the last rows asked for; equal to the same rows of the in-order pass
        const inBlock = bw.window_ids.slice(0, bw.bd_size);
        const inOrder = await dr.forward(cache, inBlock, { commit: false });
        const order = inBlock.map((_: number, i: number) => inBlock.length - 1 - i);
        const permuted = await dr.forward(cache, order.map((i: number) => inBlock[i]), {
          commit: false,
          lastRows: 8,
          positions: order.map((i: number) => cache.length + i),
        });
        assert.equal(permuted.rows, 8);
        assert.equal(permuted.logits.length, 8 * permuted.vocab);
        for (let j = 0; j < 8; j++) {
          const i = order[order.length - 8 + j];
          const d = maxAbsDiff(
            row(permuted.logits, j, permuted.vocab),
            [...row(inOrder.logits, i, inOrder.vocab)],
          );
          assert.ok(d <= 1e-4, `${backend}: permuted window row ${i} differs by ${d}`);
        }
        dr.release(cache);
      } finally {
        await v.close();
        await dr.close();
      }
    },
  });
}

Deno.test({
  name: "runtime ort-node: greedy decoding reproduces the fixture continuation",
  sanitizeResources: false,
  async fn() {
    const s = await openModel(verifierDir, options("ort-node"));
    const cache = s.createCache();
    const out: number[] = [];
    let r = await s.forward(cache, verifierFixture.input_ids, { commit: true, lastRows: 1 });
    while (out.length < verifierFixture.greedy.ids.length) {
      const t = argmax(row(r.logits, 0, r.vocab));
      out.push(t);
      r = await s.forward(cache, [t], { commit: true });
    }
    assert.deepEqual(out, verifierFixture.greedy.ids);
    await s.close();
  },
});

Deno.test({
  name:
    "runtime ort-node: truncate then re-extend equals a fresh run; denoise passes leave the cache",
  sanitizeResources: false,
  async fn() {
    // spin: false as the engine opens drafters (the option must not change any result)
    const s = await openModel(verifierDir, { ...options("ort-node"), spin: false });
    const ids: number[] = verifierFixture.input_ids;
    const fresh = s.createCache();
    const a = await s.forward(fresh, ids.slice(0, 50), { commit: true, lastRows: 1 });
    const cache = s.createCache();
    await s.forward(cache, ids.slice(0, 40), { commit: true });
    await s.forward(cache, [7, 8, 9, 10, 11, 12, 13], { commit: true }); // a rejected draft
    assert.equal(cache.length, 47);
    s.truncate(cache, 40);
    assert.equal(cache.length, 40);
    const b = await s.forward(cache, ids.slice(40, 50), { commit: true, lastRows: 1 });
    assert.ok(maxAbsDiff(b.logits, [...a.logits]) < 1e-5);
    // truncations applied in place twice in a row, with a pass that does not commit between
    s.truncate(cache, 44);
    await s.forward(cache, [5, 6, 7], { commit: false });
    s.truncate(cache, 30);
    const c = await s.forward(cache, ids.slice(30, 50), { commit: true, lastRows: 1 });
    assert.ok(maxAbsDiff(c.logits, [...a.logits]) < 1e-5);
    assert.throws(() => s.truncate(cache, 51), /cannot truncate/);
    s.release(cache);
    assert.ok(cache.released);
    await assert.rejects(() => s.forward(cache, [1], { commit: true }), /released/);
    s.release(fresh);
    await s.close();
  },
});

Deno.test({
  name: "runtime ort-node: bad lastRows and positions are refused with clear errors",
  sanitizeResources: false,
  async fn() {
    const s = await openModel(drafterDir, options("ort-node"));
    const cache = s.createCache();
    await s.forward(cache, drafterFixture.input_ids.slice(0, 32), { commit: true });
    const t = [5, 6, 7];
    await assert.rejects(
      () => s.forward(cache, t, { commit: false, lastRows: 0 }),
      /lastRows must be a positive integer/,
    );
    await assert.rejects(
      () => s.forward(cache, t, { commit: false, positions: [32, 33, 33] }),
      /permutation of 32\.\.34/,
    );
    await assert.rejects(
      () => s.forward(cache, t, { commit: false, positions: [32, 33] }),
      /2 entries for 3 tokens/,
    );
    await assert.rejects(
      () => s.forward(cache, t, { commit: true, positions: [34, 33, 32] }),
      /only allowed in a pass that does not commit/,
    );
    assert.equal(cache.length, 32, "refused passes leave the cache as it was");
    s.release(cache);
    await s.close();
  },
});

Deno.test({
  name: "runtime ort-node: 1,000 forward passes do not grow memory",
  sanitizeResources: false,
  async fn() {
    const s = await openModel(drafterDir, options("ort-node"));
    const ids: number[] = drafterFixture.input_ids.slice(0, 32);
    const cache = s.createCache();
    await s.forward(cache, ids, { commit: true });
    const pass = async (i: number) => {
      await s.forward(cache, ids, { commit: false }); // denoise-style
      await s.forward(cache, [ids[i % 32]], { commit: true }); // decode-style
      s.truncate(cache, 32);
    };
    for (let i = 0; i < 100; i++) await pass(i);
    const before = Deno.memoryUsage().rss;
    for (let i = 0; i < 1000; i++) await pass(i);
    const growth = (Deno.memoryUsage().rss - before) / 2 ** 20;
    assert.ok(growth < 64, `rss grew by ${growth.toFixed(1)} MiB over 1,000 passes`);
    s.release(cache);
    await s.close();
  },
});
