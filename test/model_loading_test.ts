// Loading HF-layout model directories: tokenizer agreement, and every broken-file case.
import assert from "node:assert/strict";
import { checkSameVocabulary, loadModelDir } from "../src/model/model-dir.ts";
import { ModelLoadError } from "../src/errors.ts";
import { DRAFTER_DIR, VERIFIER_DIR } from "./helpers/models.ts";

Deno.test("model: the TypeScript tokenizer encodes like the training script and round-trips", async () => {
  const model = await loadModelDir(VERIFIER_DIR, "ar");
  const fixture = JSON.parse(await Deno.readTextFile(`${VERIFIER_DIR}/tokenizer_fixture.json`));
  assert.ok(fixture.cases.length >= 200);
  for (const [i, c] of fixture.cases.entries()) {
    assert.deepEqual(model.tokenizer.encode(c.text), c.ids, `case ${i}`);
    assert.equal(model.tokenizer.decode(c.ids, true), c.text, `round trip ${i}`);
  }
  const odd = "Unicode: café, 数学, emoji 🚀, tabs\tand\nnewlines  double  spaces";
  assert.equal(model.tokenizer.decode(model.tokenizer.encode(odd)), odd);
});

Deno.test("model: the chat template renders ChatML with the assistant turn open", async () => {
  const model = await loadModelDir(VERIFIER_DIR, "ar");
  const text = model.tokenizer.renderChat([{ role: "user", content: "What is 2 + 3?" }]);
  assert.equal(text, "<|im_start|>user\nWhat is 2 + 3?<|im_end|>\n<|im_start|>assistant\n");
  const ids = model.tokenizer.encode(text);
  assert.equal(ids[0], model.tokenizer.tokenId("<|im_start|>"));
  assert.ok(model.config.eosTokenIds.includes(model.tokenizer.tokenId("<|im_end|>")!));
});

Deno.test("model: the drafter shares the verifier's vocabulary and declares its blocks", async () => {
  const v = await loadModelDir(VERIFIER_DIR, "ar");
  const d = await loadModelDir(DRAFTER_DIR, "dllm");
  checkSameVocabulary(v, d);
  assert.equal(d.config.blockSize, 32);
  assert.ok(d.config.subBlockSize! > 0 && 32 % d.config.subBlockSize! === 0);
  assert.equal(d.tokenizer.tokenId("<|mask|>"), d.config.maskTokenId);
});

/** A copy of a model directory (the ONNX graph linked, not copied) to break on purpose. */
async function copyModel(src: string): Promise<string> {
  const dir = await Deno.makeTempDir();
  for (
    const f of ["config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json"]
  ) {
    await Deno.copyFile(`${src}/${f}`, `${dir}/${f}`);
  }
  await Deno.mkdir(`${dir}/onnx`);
  await Deno.symlink(`${src}/onnx/model.onnx`, `${dir}/onnx/model.onnx`);
  return dir;
}

async function editJson(path: string, edit: (o: Record<string, unknown>) => void) {
  const o = JSON.parse(await Deno.readTextFile(path));
  edit(o);
  await Deno.writeTextFile(path, JSON.stringify(o));
}

async function expectError(dir: string, kind: "ar" | "dllm", file: RegExp, reason: RegExp) {
  await assert.rejects(() => loadModelDir(dir, kind), (e: unknown) => {
    assert.ok(e instanceof ModelLoadError, String(e));
    assert.match(e.path, file);
    assert.match(e.message, reason);
    return true;
  });
}

Deno.test("model: missing and corrupt files fail with ModelLoadError naming the file", async () => {
  await expectError("/nonexistent/model", "ar", /nonexistent/, /not found/);
  const cases: [string, (dir: string) => Promise<void>, "ar" | "dllm", RegExp, RegExp][] = [
    ["no config", (d) => Deno.remove(`${d}/config.json`), "ar", /config\.json$/, /missing/],
    [
      "bad JSON",
      (d) => Deno.writeTextFile(`${d}/config.json`, "{oops"),
      "ar",
      /config\.json$/,
      /not valid JSON/,
    ],
    [
      "no vocab_size",
      (d) => editJson(`${d}/config.json`, (o) => delete o.vocab_size),
      "ar",
      /config\.json$/,
      /vocab_size/,
    ],
    [
      "no eos",
      async (d) => {
        await editJson(`${d}/config.json`, (o) => delete o.eos_token_id);
        await editJson(`${d}/generation_config.json`, (o) => delete o.eos_token_id);
      },
      "ar",
      /config\.json$/,
      /eos_token_id/,
    ],
    [
      "no tokenizer",
      (d) => Deno.remove(`${d}/tokenizer.json`),
      "ar",
      /tokenizer\.json$/,
      /missing/,
    ],
    [
      "corrupt tokenizer",
      (d) => Deno.writeTextFile(`${d}/tokenizer.json`, "[1,2]"),
      "ar",
      /tokenizer\.json$/,
      /JSON object/,
    ],
    [
      "vocabulary larger than the model",
      (d) => editJson(`${d}/config.json`, (o) => (o.vocab_size = 100)),
      "ar",
      /tokenizer\.json$/,
      /vocab_size 100/,
    ],
    ["no graph", (d) => Deno.remove(`${d}/onnx/model.onnx`), "ar", /model\.onnx$/, /missing/],
    [
      "drafter without mask_token_id",
      (d) => editJson(`${d}/config.json`, (o) => delete o.mask_token_id),
      "dllm",
      /config\.json$/,
      /mask_token_id/,
    ],
    [
      "drafter without bd_size",
      (d) => editJson(`${d}/config.json`, (o) => delete o.bd_size),
      "dllm",
      /config\.json$/,
      /bd_size/,
    ],
    [
      "drafter with an unknown denoise_window",
      (d) => editJson(`${d}/config.json`, (o) => (o.denoise_window = "sub_block")),
      "dllm",
      /config\.json$/,
      /"denoise_window" must be one of "block_end", "sub_block_end", got "sub_block"/,
    ],
  ];
  for (const [name, breakIt, kind, file, reason] of cases) {
    const dir = await copyModel(kind === "dllm" ? DRAFTER_DIR : VERIFIER_DIR);
    await breakIt(dir);
    try {
      await expectError(dir, kind, file, reason);
    } catch (e) {
      throw new Error(`${name}: ${(e as Error).message}`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
});

Deno.test("model: a drafter with another vocabulary is refused", async () => {
  const v = await loadModelDir(VERIFIER_DIR, "ar");
  const dir = await copyModel(DRAFTER_DIR);
  try {
    // swap two tokens' ids: same size, different ids for the same text
    await editJson(`${dir}/tokenizer.json`, (o) => {
      const vocab = (o.model as { vocab: Record<string, number> }).vocab;
      const is = "\u0120is"; // " is" in byte-level BPE
      const other = Object.keys(vocab).find((k) => vocab[k] === vocab[is] + 1)!;
      [vocab[is], vocab[other]] = [vocab[other], vocab[is]];
    });
    const d = await loadModelDir(dir, "dllm");
    assert.throws(() => checkSameVocabulary(v, d), (e: unknown) => {
      assert.ok(e instanceof ModelLoadError);
      assert.match(e.message, /does not match the verifier/);
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
