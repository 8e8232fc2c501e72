// Check an exported model directory against its fixture.json with onnxruntime-node:
// prefill logits rows, one cached decode step, the greedy continuation (AR models) or the
// block-window pass across a block boundary (dLLM drafter). Max abs diff must be <= tolerance.
// Usage (from the repository root): node models/train/check_onnx.mjs MODEL_DIR [MODEL_DIR...]
import { readFileSync } from "node:fs";
import ort from "onnxruntime-node";

const i64 = (a) => BigInt64Array.from(a.map((x) => BigInt(x)));

export async function loadModel(dir, threads = 1) {
  const cfg = JSON.parse(readFileSync(`${dir}/config.json`, "utf8"));
  const sess = await ort.InferenceSession.create(`${dir}/onnx/model.onnx`, {
    intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: "all",
  });
  return { cfg, sess };
}

export function emptyPast(cfg) {
  const past = {};
  for (let i = 0; i < cfg.num_hidden_layers; i++) {
    for (const kv of ["key", "value"]) {
      past[`past_key_values.${i}.${kv}`] = new ort.Tensor("float32", new Float32Array(0), [1, cfg.num_key_value_heads, 0, cfg.head_dim]);
    }
  }
  return past;
}

// One forward pass, batch 1. ids/pos: arrays; past: from emptyPast or presentsToPast;
// keep: logits rows to compute (num_logits_to_keep, 0 = all) where the graph has that input.
export async function forward(m, ids, pos, past, keep = 0) {
  const P = past["past_key_values.0.key"].dims[2];
  const feeds = {
    input_ids: new ort.Tensor("int64", i64(ids), [1, ids.length]),
    attention_mask: new ort.Tensor("int64", i64(new Array(P + ids.length).fill(1)), [1, P + ids.length]),
    position_ids: new ort.Tensor("int64", i64(pos), [1, pos.length]),
    ...past,
  };
  if (m.sess.inputNames.includes("num_logits_to_keep")) {
    feeds.num_logits_to_keep = new ort.Tensor("int64", BigInt64Array.from([BigInt(keep)]), []);
  }
  return await m.sess.run(feeds);
}

export function presentsToPast(cfg, out) {
  const past = {};
  for (let i = 0; i < cfg.num_hidden_layers; i++) {
    for (const kv of ["key", "value"]) past[`past_key_values.${i}.${kv}`] = out[`present.${i}.${kv}`];
  }
  return past;
}

export function row(out, r) {
  const V = out.logits.dims[2];
  return out.logits.data.subarray(r * V, (r + 1) * V);
}

export function argmax(a) {
  let b = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[b]) b = i;
  return b;
}

function maxDiff(a, b) {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

const range = (a, b) => Array.from({ length: b - a }, (_, i) => a + i);

async function check(dir) {
  const m = await loadModel(dir);
  const fx = JSON.parse(readFileSync(`${dir}/fixture.json`, "utf8"));
  const ids = fx.input_ids, P = ids.length;
  const res = {};
  // prefill
  const out = await forward(m, ids, range(0, P), emptyPast(m.cfg));
  res.prefill = Math.max(...fx.prefill.positions.map((p, k) => maxDiff(row(out, p), fx.prefill.logits[k])));
  const am = range(0, P).map((r) => argmax(row(out, r)));
  res.prefill_argmax_equal = JSON.stringify(am) === JSON.stringify(fx.prefill.argmax);
  if (m.sess.inputNames.includes("num_logits_to_keep")) {
    // the last 3 rows alone equal the full pass's last 3 rows
    const o3 = await forward(m, ids, range(0, P), emptyPast(m.cfg), 3);
    res.keep3_rows = o3.logits.dims[1];
    res.keep3 = Math.max(...[0, 1, 2].map((r) => maxDiff(row(o3, r), row(out, P - 3 + r))));
    res.keep3_rows_ok = res.keep3_rows === 3;
    delete res.keep3_rows;
  }
  // incremental
  const inc = fx.incremental;
  const o1 = await forward(m, ids.slice(0, inc.prefill_len), range(0, inc.prefill_len), emptyPast(m.cfg));
  const o2 = await forward(m, inc.step_ids, range(inc.prefill_len, inc.prefill_len + inc.step_ids.length), presentsToPast(m.cfg, o1));
  res.incremental = maxDiff(row(o2, 0), inc.step_logits[0]);
  if (fx.greedy) {
    let o = out, past = presentsToPast(m.cfg, out), seq = [];
    let next = argmax(row(o, P - 1));
    for (let t = 0; t < fx.greedy.max_new_tokens; t++) {
      seq.push(next);
      if (t === fx.greedy.max_new_tokens - 1) break;
      o = await forward(m, [next], [P + t], past);
      past = presentsToPast(m.cfg, o);
      next = argmax(row(o, 0));
    }
    res.greedy_equal = JSON.stringify(seq) === JSON.stringify(fx.greedy.ids);
  }
  if (fx.block_window) {
    const bw = fx.block_window;
    const n = bw.prefix_ids.length;
    const o1b = await forward(m, bw.prefix_ids, range(0, n), emptyPast(m.cfg));
    const ow = await forward(m, bw.window_ids, bw.window_position_ids, presentsToPast(m.cfg, o1b));
    res.block_window = Math.max(...bw.rows.map((r, k) => maxDiff(row(ow, r), bw.logits[k])));
    const wa = range(0, bw.window_ids.length).map((r) => argmax(row(ow, r)));
    res.block_window_argmax_equal = JSON.stringify(wa) === JSON.stringify(bw.argmax);
    // inside one block, a block-causal pass does not depend on the order of the window's
    // tokens (positions travel with them): the engine puts the rows it needs last
    const inBlock = bw.window_ids.slice(0, bw.bd_size - (n % bw.bd_size));
    const perm = range(0, inBlock.length).reverse();
    const op = await forward(m, perm.map((i) => inBlock[i]), perm.map((i) => n + i), presentsToPast(m.cfg, o1b));
    const on = await forward(m, inBlock, range(n, n + inBlock.length), presentsToPast(m.cfg, o1b));
    res.permuted_window = Math.max(...perm.map((i, r) => maxDiff(row(op, r), row(on, i))));
  }
  const tol = fx.tolerance;
  const ok = Object.entries(res).every(([k, v]) => (typeof v === "boolean" ? v : v <= tol));
  console.log(`${ok ? "OK  " : "FAIL"} ${dir} ${JSON.stringify(res)}`);
  return ok;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  let all = true;
  for (const dir of process.argv.slice(2)) all = (await check(dir)) && all;
  process.exit(all ? 0 : 1);
}
