// Engine behaviour: forced drafts, cancellation, sampling, statistics and bad requests.
import assert from "node:assert/strict";
import { ownQuestions } from "../harness/questions.ts";
import type { Draft, Drafter } from "../src/engine/drafter.ts";
import { DllmDrafter, type DraftPlan } from "../src/engine/dllm-drafter.ts";
import type { Extension } from "../src/engine/drafter.ts";
import { RowCurve } from "../src/engine/pass-costs.ts";
import { newTimeBuckets } from "../src/engine/stats.ts";
import type { Strategy } from "../src/config.ts";
import { InvalidRequestError } from "../src/errors.ts";
import type { ModelSession } from "../src/runtime/types.ts";
import { assertSampledFrom } from "./helpers/chi-square.ts";
import { chat, collect, firstTokenDistribution, testEngine } from "./helpers/engine.ts";

const { engine, parts, sessions } = await testEngine();
const V = parts.verifier.dir.config.vocabSize;
const liveCaches = () => sessions.reduce((n, s) => n + s.live, 0);

/** A test-only drafter that proposes a known continuation, corrupted or not. */
function scriptedDrafter(
  reference: number[],
  promptLength: number,
  k: number,
  wrong: boolean,
): Drafter {
  return {
    propose(context, maxLen) {
      const at = context.length - promptLength;
      const tokens = reference.slice(at, at + Math.min(k, maxLen)).map((
        t,
      ) => (wrong ? (t + 1) % V : t));
      return Promise.resolve({ tokens, passes: 1 });
    },
    onVerified() {},
    release() {},
  };
}

Deno.test({
  name: "engine: drafts forced all-right and all-wrong still give ar's output",
  sanitizeResources: false,
  async fn() {
    for (const q of ownQuestions(4)) {
      const request = chat(q, { maxTokens: 96, strategy: "ar" });
      const ar = await collect(engine.generate(request));
      const promptLength = ar.stats.promptTokens;
      for (const wrong of [false, true]) {
        const out = await collect(
          engine.generateWithDrafter(
            request,
            () => scriptedDrafter(ar.tokens, promptLength, 6, wrong),
          ),
        );
        assert.deepEqual(out.tokens, ar.tokens, `wrong=${wrong}`);
        if (wrong) {
          assert.equal(out.stats.acceptanceRate, 0);
          assert.equal(out.stats.meanAcceptedLength, 1);
        } else {
          assert.equal(out.stats.acceptanceRate, 1);
          // every round but the last (cut by EOS or max_tokens) emits k + 1 = 7 tokens
          assert.ok(out.stats.meanAcceptedLength > 5, `${out.stats.meanAcceptedLength}`);
          assert.ok(out.stats.rounds <= Math.ceil(ar.tokens.length / 7) + 1);
        }
      }
    }
  },
});

Deno.test({
  name: "engine: aborting stops within a round and frees every cache",
  sanitizeResources: false,
  async fn() {
    for (const strategy of ["failfast", "dllm-fixed", "ar-draft", "ar"] as Strategy[]) {
      const controller = new AbortController();
      let deltas = 0;
      let finish = "";
      for await (
        const ev of engine.generate(chat(ownQuestions(1)[0], { strategy }), controller.signal)
      ) {
        if (ev.type === "delta") {
          deltas++;
          if (deltas === 2) controller.abort();
        } else finish = ev.finishReason;
        assert.ok(deltas <= 2, `${strategy}: no delta after the abort`);
      }
      assert.equal(finish, "cancelled", strategy);
      assert.equal(liveCaches(), 0, `${strategy}: caches released`);
      // a consumer that simply stops reading frees them too
      for await (const ev of engine.generate(chat(ownQuestions(2)[1], { strategy }))) {
        if (ev.type === "delta") break;
      }
      assert.equal(liveCaches(), 0, `${strategy}: caches released after break`);
    }
  },
});

Deno.test({
  name: "engine: statistics add up",
  sanitizeResources: false,
  async fn() {
    // the drafter's own accounting (with lookup, a round may skip the drafter's pass)
    const out = await collect(
      engine.generate(
        chat(ownQuestions(1)[0], {
          strategy: "failfast",
          params: { lookup: false, controller: "fixed" },
        }),
      ),
    );
    const s = out.stats;
    assert.equal(s.completionTokens, out.tokens.length);
    assert.equal(s.verifierPasses, s.rounds);
    const emittedByRounds = s.acceptedLengthCounts.reduce((a, n, len) => a + n * len, 0);
    // the last round may be cut by EOS or max_tokens
    assert.ok(emittedByRounds >= s.completionTokens && emittedByRounds <= s.completionTokens + 70);
    assert.equal(s.acceptedLengthCounts.reduce((a, b) => a + b, 0), s.rounds);
    // the histogram by draft length holds every drafting round and every accepted token
    const byLength = Object.entries(s.acceptedByDraftLength);
    const draftingRounds = s.rounds - (s.draftLengthCounts[0] ?? 0);
    assert.equal(
      byLength.reduce((n, [, row]) => n + row.reduce((a, b) => a + b, 0), 0),
      draftingRounds,
    );
    assert.equal(
      byLength.reduce((n, [k, row]) => n + Number(k) * row.reduce((a, b) => a + b, 0), 0),
      s.draftedTokens,
    );
    assert.equal(
      byLength.reduce((n, [, row]) => n + row.reduce((a, c, acc) => a + c * acc, 0), 0),
      s.acceptedTokens,
    );
    assert.ok(s.drafterPasses >= s.rounds);
    assert.ok(s.timeMs.total >= s.timeMs.drafter + s.timeMs.verifier);
    let drafted = 0;
    for (const d of out.deltas) {
      assert.ok(d.acceptedDraft <= d.drafted);
      drafted += d.drafted;
    }
    assert.ok(drafted > 0);
  },
});

Deno.test({
  name: "engine: sampled first tokens follow the verifier's distribution under every strategy",
  sanitizeResources: false,
  async fn() {
    // Exact target: the verifier's processed distribution after the prompt.
    const request = chat("Tom has 5 apples and buys 3 more. How many apples does he have?", {
      maxTokens: 2,
    });
    const sampling = { temperature: 1.5, topP: 0.95 };
    const { p, support } = await firstTokenDistribution(parts, request.messages!, sampling);
    assert.ok(support.length >= 2, "the prompt should leave a real choice");
    const N = 400;
    for (const strategy of ["ar", "failfast", "ar-draft"] as Strategy[]) {
      const counts = new Map<number, number>();
      for (let seed = 0; seed < N; seed++) {
        const out = await collect(
          engine.generate({ ...request, strategy, temperature: 1.5, topP: 0.95, seed }),
        );
        counts.set(out.tokens[0], (counts.get(out.tokens[0]) ?? 0) + 1);
      }
      assertSampledFrom(counts, p, support, N, strategy);
    }
    // The bound has power: the drafter's greedy choice alone (a point mass) fails it clearly.
    const top = support.reduce((a, b) => (p[a] > p[b] ? a : b));
    const pointMassChi = (N - N * p[top]) ** 2 / (N * p[top]) + N * (1 - p[top]);
    assert.ok(pointMassChi > 100);
  },
});

Deno.test({
  name: "engine: a seed gives the same sampled text under every strategy and drafter",
  sanitizeResources: false,
  async fn() {
    // Each position samples with its own generator, so drafts change how many tokens a round
    // accepts, never which tokens come out.
    for (const [i, q] of ownQuestions(3).entries()) {
      const base = chat(q, { maxTokens: 48, temperature: 0.9, seed: 100 + i });
      const ar = await collect(engine.generate({ ...base, strategy: "ar" }));
      for (
        const [strategy, params] of [
          ["failfast", { controller: "cost", lookup: true }],
          ["failfast", { controller: "fixed", lookup: false }],
          ["dllm-fixed", { k: 4 }],
          ["ar-draft", { k: 3, lookup: true }],
          ["lookup", {}],
        ] as [Strategy, Record<string, unknown>][]
      ) {
        const out = await collect(engine.generate({ ...base, strategy, params }));
        assert.deepEqual(out.tokens, ar.tokens, `${strategy} ${JSON.stringify(params)}`);
      }
    }
  },
});

Deno.test({
  name: "engine: the same seed gives the same sampled text",
  sanitizeResources: false,
  async fn() {
    const request = chat(ownQuestions(1)[0], {
      maxTokens: 40,
      temperature: 0.8,
      seed: 7,
      strategy: "failfast" as Strategy,
    });
    const a = await collect(engine.generate(request));
    const b = await collect(engine.generate(request));
    assert.deepEqual(a.tokens, b.tokens);
  },
});

Deno.test({
  name: "engine: bad requests throw InvalidRequestError naming the parameter",
  sanitizeResources: false,
  fn() {
    const base = chat("hi", { maxTokens: 5 });
    const cases: [Record<string, unknown>, string][] = [
      [{ maxTokens: 0 }, "max_tokens"],
      [{ maxTokens: 1.5 }, "max_tokens"],
      [{ temperature: -1 }, "temperature"],
      [{ topP: 0 }, "top_p"],
      [{ topK: -2 }, "top_k"],
      [{ seed: -1 }, "seed"],
      [{ stop: [""] }, "stop"],
      [{ strategy: "beam" }, "strategy"],
      [{ params: { tau: 2 } }, "tau"],
      [{ params: { n0: 20, nMax: 10 } }, "n_max"],
      [{ params: { alignWindows: true, slideSubBlocks: true } }, "slide_sub_blocks"],
      [{ params: { k: 0 } }, "k"],
      [{ messages: [] }, "messages"],
      [{ messages: undefined, prompt: "" }, "prompt"],
      [{ prompt: "both" }, "prompt"],
      [{ messages: undefined, prompt: "word ".repeat(2000) }, "prompt"],
    ];
    for (const [extra, param] of cases) {
      assert.throws(() => engine.generate({ ...base, ...extra } as never), (e: unknown) => {
        assert.ok(e instanceof InvalidRequestError, `${JSON.stringify(extra)}: ${e}`);
        assert.equal(e.param, param, JSON.stringify(extra));
        return true;
      });
    }
    assert.equal(liveCaches(), 0);
  },
});

/** A FailFast draft plan: N0 = N = 4, N_max 60, tau 0.45, unmask threshold 0.05, unless overridden. */
function draftPlan(overrides: Partial<DraftPlan>): DraftPlan {
  return {
    initial: 4,
    step: 4,
    max: 60,
    tau: 0.45,
    threshold: 0.05,
    align: false,
    slide: false,
    trim: false,
    ...overrides,
  };
}

/** The prompt ids of one of our questions and `ar`'s 80-token answer to it. */
async function arAnswer(question: string) {
  const request = chat(question, { maxTokens: 80, strategy: "ar" });
  const ar = await collect(engine.generate(request));
  const tok = parts.verifier.dir.tokenizer;
  const prompt = tok.encode(tok.renderChat(request.messages!));
  assert.equal(prompt.length, ar.stats.promptTokens);
  return { prompt, answer: ar.tokens };
}

/** `ar`'s answer to `question`, and the dLLM drafter's session, block and sub-block sizes and EOS ids. */
async function drafterCase(question: string) {
  const { prompt, answer } = await arAnswer(question);
  const session = parts.drafter!.session;
  const { blockSize, subBlockSize } = session.config;
  const eos = new Set(parts.verifier.dir.config.eosTokenIds);
  return { prompt, answer, session, B: blockSize!, S: subBlockSize!, eos };
}

/**
 * `session` seen through `config` changes, appending the positions of each pass that does not
 * commit (a denoising pass) to `into`.
 */
function recordingDenoising(
  session: ModelSession,
  into: number[][],
  config: Partial<ModelSession["config"]> = {},
): ModelSession {
  return Object.create(session, {
    config: { value: { ...session.config, ...config } },
    forward: {
      value: (...args: Parameters<ModelSession["forward"]>) => {
        if (!args[2].commit) into.push(Array.from(args[2].positions!));
        return session.forward(...args);
      },
    },
  });
}

/**
 * Drafts after every `stride`-th prefix of `answer`'s first 40 tokens, as rounds that accept
 * exactly that prefix would, handing each draft and its context length to `each`; releases the
 * drafter and returns the drafts.
 */
async function draftAlong(
  drafter: DllmDrafter,
  prompt: number[],
  answer: number[],
  stride: number,
  each: (contextLength: number, draft: Draft) => void = () => {},
): Promise<number[][]> {
  const out: number[][] = [];
  for (let n = 0; n < 40; n += stride) {
    const context = [...prompt, ...answer.slice(0, n)];
    const draft = await drafter.propose(context, 1000, newTimeBuckets());
    each(context.length, draft);
    out.push(draft.tokens);
    drafter.onVerified(context.length);
  }
  drafter.release();
  return out;
}

Deno.test({
  name: "engine: aligned FailFast windows end on sub-block boundaries, one pass per sub-block",
  sanitizeResources: false,
  async fn() {
    const { prompt, answer, session, S, eos } = await drafterCase(ownQuestions(3)[2]);
    for (const align of [true, false]) {
      const plan = draftPlan({ align });
      const drafter = new DllmDrafter(session, parts.policy, plan, [...eos]);
      await draftAlong(drafter, prompt, answer, 1, (L, d) => {
        const k = d.tokens.length;
        if (d.tokens.some((t) => eos.has(t))) return; // a draft ends at its EOS
        if (align) {
          assert.equal((L + k) % S, 0, `L ${L}: the window [L, L + ${k}) ends mid-sub-block`);
          // one denoising pass per sub-block touched, plus block-completion passes
          const subBlocks = Math.ceil((L + k) / S) - Math.floor(L / S);
          assert.ok(d.passes <= subBlocks + 2, `L ${L}: ${d.passes} passes for ${k} tokens`);
        } else {
          assert.equal(k % plan.step, 0, `L ${L}: ${k} is not N0 + a multiple of N`);
        }
      });
    }
  },
});

Deno.test({
  name: "engine: sliding sub-blocks draft S tokens in one denoising pass wherever the draft starts",
  sanitizeResources: false,
  async fn() {
    const { prompt, answer, session, B, S, eos } = await drafterCase(ownQuestions(3)[0]);
    // a fixed window of S tokens, so that both layouts draft the same positions
    for (const slide of [true, false]) {
      const denoised: number[][] = [];
      const recording = recordingDenoising(session, denoised);
      const plan = draftPlan({ initial: S, step: 0, max: S, tau: null, slide });
      const drafter = new DllmDrafter(recording, parts.policy, plan, [...eos]);
      let twoPassDrafts = 0;
      await draftAlong(drafter, prompt, answer, 1, (L, d) => {
        const passes = denoised.splice(0);
        if (d.tokens.some((t) => eos.has(t)) || (L % B) + S > B) return; // EOS, or a block end
        assert.equal(d.tokens.length, S);
        if (L % S !== 0 && !slide) twoPassDrafts++;
        if (slide) {
          assert.equal(passes.length, 1, `L ${L}: ${passes.length} passes`);
          // the window runs from the block start to the end of the S positions it decides (at a
          // block start the first draft token comes from the completion pass: S after it)
          assert.equal(Math.min(...passes[0]), L - (L % B));
          assert.equal(Math.max(...passes[0]) + 1, L % B === 0 ? L + S + 1 : L + S);
        } else {
          assert.equal(passes.length, L % S === 0 ? 1 : 2, `L ${L}: ${passes.length} passes`);
        }
      });
      if (!slide) assert.ok(twoPassDrafts > 10, "the grid never needed a second pass");
    }
  },
});

Deno.test({
  name:
    "engine: denoising windows end with the block, or with the sub-block when the model says so",
  sanitizeResources: false,
  async fn() {
    const { prompt, answer, session, B, S, eos } = await drafterCase(ownQuestions(3)[1]);
    const plan = draftPlan({ max: 24, tau: 0 });
    for (const denoiseWindow of ["block_end", "sub_block_end"] as const) {
      // The same session, its config saying where windows end; denoising passes recorded.
      const windows: number[][] = [];
      const recording = recordingDenoising(session, windows, { denoiseWindow });
      const drafter = new DllmDrafter(recording, parts.policy, plan, [...eos]);
      const drafts = await draftAlong(drafter, prompt, answer, 3);
      assert.ok(windows.length > 10);
      for (const w of windows) {
        const from = Math.min(...w), to = Math.max(...w) + 1;
        assert.equal(from % B, 0, `a window starts at ${from}, inside a block`);
        assert.equal(to - from, w.length, "a window has a gap");
        if (denoiseWindow === "block_end") assert.equal(to - from, B);
        else {
          assert.equal(to % S, 0, `a window ends at ${to}, inside a sub-block`);
          assert.ok(to - from <= B);
        }
      }
      if (denoiseWindow === "sub_block_end") {
        assert.ok(windows.some((w) => w.length < B), "no window was cut short");
      }
      // Either way the drafts are drafts: no mask token, the planned lengths.
      for (const d of drafts) {
        assert.ok(!d.includes(session.config.maskTokenId!));
        assert.ok(d.length >= 1 && d.length <= plan.max);
      }
    }
  },
});

Deno.test({
  name: "engine: a trimmed FailFast window is the untrimmed one cut at a token below tau",
  sanitizeResources: false,
  async fn() {
    const { prompt, answer, session, eos } = await drafterCase(ownQuestions(4)[3]);
    const drafts = (tau: number, trim: boolean) => {
      const plan = draftPlan({ initial: 8, step: 8, max: 24, tau, trim });
      return draftAlong(new DllmDrafter(session, parts.policy, plan, [...eos]), prompt, answer, 3);
    };
    const whole = await drafts(0.9, false);
    const trimmed = await drafts(0.9, true);
    let shorter = 0;
    for (const [i, t] of trimmed.entries()) {
      assert.deepEqual(t, whole[i].slice(0, t.length), `context ${i}: not a prefix`);
      if (t.length < whole[i].length) shorter++;
    }
    assert.ok(shorter > 0, "no window was trimmed at tau 0.9");
    // A window that never fails fast is never trimmed.
    assert.deepEqual(await drafts(0, true), await drafts(0, false));
  },
});

Deno.test({
  name: "engine: a controlled window takes what its pass decided; it is asked only before a pass",
  sanitizeResources: false,
  async fn() {
    const { prompt, answer, session, B, S, eos } = await drafterCase(ownQuestions(3)[0]);
    const denoised: number[][] = [];
    const recording = recordingDenoising(session, denoised);
    // the controller's plan: one position, then another pass while the decision says it pays
    const asked: { length: number; next: Extension; yes: boolean }[] = [];
    const extend = (confs: readonly number[], _spent: number, next?: Extension) => {
      const yes = confs.length < 2 * S; // pays up to two sub-blocks' worth
      asked.push({ length: confs.length, next: next!, yes });
      return yes;
    };
    const plan = draftPlan({ initial: 1, step: S, max: 60, tau: null, slide: true, extend });
    const drafter = new DllmDrafter(recording, parts.policy, plan, [...eos]);
    let checked = 0;
    for (let n = 0; n < 40; n++) {
      const context = [...prompt, ...answer.slice(0, n)];
      const L = context.length;
      asked.length = denoised.length = 0;
      const d = await drafter.propose(context, 1000, newTimeBuckets());
      drafter.onVerified(L);
      if (d.tokens.some((t) => eos.has(t))) continue; // a draft ends at its EOS
      checked++;
      // At a block start the first token is the completion pass's, so the first question comes
      // before any denoising; elsewhere after the first pass, with all S positions it decided
      // (fewer where the block ends).
      const first = L % B === 0 ? 1 : Math.min(S, B - (L % B));
      assert.equal(asked[0].length, first, `L ${L}: asked first at ${asked[0].length}`);
      for (const [i, a] of asked.entries()) {
        if (i > 0) assert.ok(a.length > asked[i - 1].length, `L ${L}: asked twice`);
        // going on past a block's end takes its completion pass first; a pass drafts S
        // positions, fewer where its block ends
        const blockEnds = (L + a.length) % B === 0;
        const room = B - ((L + a.length) % B);
        assert.deepEqual(
          a.next,
          blockEnds ? { passes: 2, tokens: S + 1 } : { passes: 1, tokens: Math.min(S, room) },
          `L ${L} + ${a.length}`,
        );
      }
      // one denoising pass per yes (and the first, when it came before the first question)
      const yes = asked.filter((a) => a.yes).length;
      assert.equal(denoised.length, yes + (L % B === 0 ? 0 : 1), `L ${L}: passes`);
      assert.equal(d.tokens.length, asked.at(-1)!.length, "the draft is the window last asked");
    }
    drafter.release();
    assert.ok(checked > 20, `${checked} drafts checked`);
  },
});

Deno.test({
  name: "engine: only the controller's own drafts correct what it prices a drafter pass at",
  sanitizeResources: false,
  async fn() {
    const profile = {
      verify: new RowCurve([[1, 1], [64, 2]]),
      denoiseMs: 0.01, // far below any real pass: an observed pass moves the factor at once
      arStepMs: 0.01,
      roundMs: 0.01,
      adaptive: true,
    };
    const priced = engine.withCostProfile(profile);
    const costs = await priced.passCosts();
    const question = ownQuestions(1)[0];
    for (const strategy of ["dllm-fixed", "ar-draft"] as const) {
      await collect(priced.generate(chat(question, { maxTokens: 24, strategy })));
    }
    assert.equal(costs.factors.denoise, 1, "a fixed plan's passes moved the dLLM's price");
    assert.equal(costs.factors.arStep, 1, "a fixed k's passes moved the AR drafter's price");
    assert.equal(costs.factors.verifyAfterDraft, 1);
    assert.notEqual(costs.factors.verify, 1, "a verify pass is one whatever drafted");
    const controlled = await collect(priced.generate(chat(question, {
      maxTokens: 24,
      strategy: "failfast",
      params: { controller: "cost", lookup: false },
    })));
    assert.ok(controlled.stats.drafterPasses > 0);
    assert.ok(costs.factors.denoise > 1, "the controller's own passes correct it");
    await priced.close();
  },
});
