// Lookup drafting in the engine: sources of accepted tokens, the cross-request cache's scopes
// and switch, and lossless sampling with lookup drafts.
import assert from "node:assert/strict";
import { ownQuestions } from "../harness/questions.ts";
import type { Strategy } from "../src/config.ts";
import type { SourceCounts } from "../src/engine/types.ts";
import { assertSampledFrom } from "./helpers/chi-square.ts";
import {
  chat,
  collect,
  type Collected,
  firstTokenDistribution,
  testEngine,
} from "./helpers/engine.ts";

const { engine, parts, sessions } = await testEngine();
const sum = (c: SourceCounts) => c.drafter + c.context + c.history;

Deno.test({
  name: "engine lookup: accepted tokens are counted by the source that drafted them",
  sanitizeResources: false,
  async fn() {
    // answers repeat their question's numbers and their own phrases
    // (each run in a scope of its own: earlier runs' outputs would be drafted from too)
    const requests = ownQuestions(6).map((q) => chat(q, { maxTokens: 128 }));
    const ars: Collected[] = [];
    for (const [i, request] of requests.entries()) {
      ars[i] = await collect(engine.generate({ ...request, strategy: "ar", cacheScope: "ar" }));
    }
    for (
      const [strategy, params] of [
        ["lookup", {}],
        ["failfast", { lookup: true, n0: 2, n: 2, slideSubBlocks: true, controller: "fixed" }],
        ["ar-draft", { lookup: true, k: 3 }],
        ["dllm-fixed", { lookup: true, k: 4 }],
      ] as [Strategy, Record<string, unknown>][]
    ) {
      let fromLookup = 0;
      for (const [i, request] of requests.entries()) {
        const out = await collect(
          engine.generate({ ...request, strategy, params, cacheScope: `sources ${strategy} ${i}` }),
        );
        assert.deepEqual(out.tokens, ars[i].tokens, strategy);
        const s = out.stats;
        assert.equal(sum(s.acceptedBySource), s.acceptedTokens, strategy);
        assert.equal(sum(s.draftedBySource), s.draftedTokens, strategy);
        assert.equal(s.draftedBySource.history, 0, "a new scope has no history");
        const fromDeltas = out.deltas.reduce((n, d) => n + d.acceptedLookup, 0);
        assert.equal(fromDeltas, s.acceptedBySource.context, strategy);
        fromLookup += s.acceptedBySource.context;
        if (strategy === "lookup") {
          assert.equal(s.drafterPasses, 0, "lookup alone runs no model");
          assert.equal(s.draftedBySource.drafter, 0);
        }
      }
      assert.ok(fromLookup > 0, `${strategy}: the lookup drafted accepted tokens`);
    }
    const request = requests[0];
    const ar = ars[0];
    // without lookup nothing is attributed to it
    const plain = await collect(
      engine.generate({
        ...request,
        strategy: "failfast",
        params: { lookup: false },
        cacheScope: "no lookup",
      }),
    );
    assert.equal(plain.stats.draftedBySource.context + plain.stats.draftedBySource.history, 0);
    assert.deepEqual(plain.tokens, ar.tokens);
  },
});

Deno.test({
  name: "engine lookup: earlier outputs are drafted from in their own scope only",
  sanitizeResources: false,
  async fn() {
    const request = chat(ownQuestions(7)[6], {
      maxTokens: 96,
      strategy: "lookup",
    });
    const first = await collect(engine.generate({ ...request, cacheScope: "alice" }));
    assert.equal(first.stats.draftedBySource.history, 0, "nothing earlier in a new scope");
    const again = await collect(engine.generate({ ...request, cacheScope: "alice" }));
    assert.deepEqual(again.tokens, first.tokens);
    assert.ok(again.stats.acceptedBySource.history > 0, "the same scope drafts from its history");
    assert.ok(again.stats.rounds < first.stats.rounds);
    const other = await collect(engine.generate({ ...request, cacheScope: "bob" }));
    assert.deepEqual(other.tokens, first.tokens);
    assert.equal(other.stats.draftedBySource.history, 0, "another scope sees nothing of alice's");

    // switched off: no history at all
    const off = await testEngine({ FAILFAST_LOOKUP_HISTORY_TOKENS: "0" });
    for (let i = 0; i < 2; i++) {
      const out = await collect(off.engine.generate({ ...request, cacheScope: "alice" }));
      assert.deepEqual(out.tokens, first.tokens);
      assert.equal(out.stats.draftedBySource.history, 0);
    }
    await Promise.all(off.sessions.map((s) => s.close()));
  },
});

Deno.test({
  name: "engine lookup: sampled tokens follow the verifier's distribution with lookup drafts",
  sanitizeResources: false,
  async fn() {
    // A conversation that asks the same question twice: at the second answer's first token the
    // lookup proposes the first answer's, which the verifier may accept or reject.
    const q = "Tom has 5 apples and buys 3 more. How many apples does he have?";
    const greedy = await collect(engine.generate(chat(q, { maxTokens: 24, strategy: "ar" })));
    const messages = [
      { role: "user" as const, content: q },
      { role: "assistant" as const, content: greedy.text },
      { role: "user" as const, content: q },
    ];
    const sampling = { temperature: 1.5, topP: 0.95 };
    const { p, support } = await firstTokenDistribution(parts, messages, sampling);
    assert.ok(support.length >= 2, "the prompt should leave a real choice");
    assert.ok(p[greedy.tokens[0]] > 0.05, "the lookup's proposal is a likely token");
    const N = 400;
    for (const strategy of ["lookup", "failfast"] as Strategy[]) {
      const counts = new Map<number, number>();
      let lookupDrafted = 0;
      for (let seed = 0; seed < N; seed++) {
        const out = await collect(engine.generate({
          messages,
          maxTokens: 2,
          strategy,
          // the fixed rule: a lookup match always drafts (the controller may decode plainly)
          params: { lookup: true, controller: "fixed" },
          temperature: 1.5,
          topP: 0.95,
          seed,
          cacheScope: `sampling ${seed}`, // no history: the draft comes from the conversation
        }));
        counts.set(out.tokens[0], (counts.get(out.tokens[0]) ?? 0) + 1);
        lookupDrafted += out.stats.draftedBySource.context;
      }
      assert.ok(lookupDrafted >= N, `${strategy}: the lookup drafted in every request`);
      assertSampledFrom(counts, p, support, N, strategy);
    }
  },
});

Deno.test({
  name: "engine lookup: bad lookup parameters are refused; every cache is released",
  sanitizeResources: false,
  async fn() {
    for (const lookupMax of [0, 513, 2.5]) {
      assert.throws(
        () => engine.generate(chat("hi", { strategy: "lookup", params: { lookupMax } })),
        /lookup_max/,
      );
    }
    assert.equal(sessions.reduce((n, s) => n + s.live, 0), 0);
    await Promise.all(sessions.map((s) => s.close()));
  },
});
