// Cost ratio of the drafters against the verifier, onnxruntime-node, in one run:
// median latency of one verifier decode step (T=1), one dLLM drafter pass over a 32-token
// window (all 32 logits rows, and the 8 rows of one sub-block via num_logits_to_keep), one AR
// drafter step (T=1); all batch 1 against a cached prefix of 128 tokens. Also the windows of a
// drafter whose denoising windows end with the sub-block ("denoise_window": "sub_block_end"):
// 8, 16, 24 or 32 rows by the sub-block's place in the block, 8 rows kept; their mean.
// Usage (from the repository root):
//   node models/train/bench_latency.mjs VERIFIER_DIR DRAFTER_DIR AR_DRAFTER_DIR [iters] [threads]
import { emptyPast, forward, loadModel, presentsToPast } from "./check_onnx.mjs";

const [vDir, dDir, aDir, itersArg, thrArg] = process.argv.slice(2);
const iters = Number(itersArg ?? 300), threads = Number(thrArg ?? 1);
const PREFIX = 128;
const range = (a, b) => Array.from({ length: b - a }, (_, i) => a + i);

async function setup(dir, T, keep = 0) {
  const m = await loadModel(dir, threads);
  const ids = range(0, PREFIX).map((i) => 100 + (i * 37) % 3000);
  const out = await forward(m, ids, range(0, PREFIX), emptyPast(m.cfg));
  const past = presentsToPast(m.cfg, out);
  const win = range(0, T).map((i) => (i < 4 ? 200 + i : (m.cfg.mask_token_id ?? 5)));
  const pos = range(PREFIX, PREFIX + T);
  return { run: () => forward(m, win, pos, past, keep), name: dir };
}

const cases = {
  verifier_step: await setup(vDir, 1),
  drafter_window32: await setup(dDir, 32),
  drafter_window32_keep8: await setup(dDir, 32, 8),
  drafter_window8_keep8: await setup(dDir, 8, 8),
  drafter_window16_keep8: await setup(dDir, 16, 8),
  drafter_window24_keep8: await setup(dDir, 24, 8),
  ar_drafter_step: await setup(aDir, 1),
};
const times = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
for (let i = 0; i < 20; i++) for (const c of Object.values(cases)) await c.run(); // warm-up
for (let i = 0; i < iters; i++) {
  for (const [k, c] of Object.entries(cases)) {
    const t0 = process.hrtime.bigint();
    await c.run();
    times[k].push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
}
const med = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };
const r = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, +med(v).toFixed(3)]));
r.ratio_dllm_window_over_verifier_step = +(r.drafter_window32 / r.verifier_step).toFixed(3);
r.ratio_dllm_window_keep8_over_verifier_step = +(r.drafter_window32_keep8 / r.verifier_step).toFixed(3);
r.drafter_window_to_sub_block_end_keep8_mean = +((r.drafter_window8_keep8 + r.drafter_window16_keep8 +
  r.drafter_window24_keep8 + r.drafter_window32_keep8) / 4).toFixed(3);
r.ratio_dllm_window_to_sub_block_end_over_verifier_step =
  +(r.drafter_window_to_sub_block_end_keep8_mean / r.verifier_step).toFixed(3);
r.ratio_ar_step_over_verifier_step = +(r.ar_drafter_step / r.verifier_step).toFixed(3);
r.iters = iters; r.intra_op_threads = threads; r.prefix = PREFIX;
console.log(JSON.stringify(r));
