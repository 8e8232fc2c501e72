import assert from "node:assert/strict";
import { sampleStats as stats } from "./helpers/generation-stats.ts";
import {
  chunks,
  completionBody,
  newResponseId,
  type ResponseMeta,
  usageOf,
} from "../src/server/openai-response.ts";

Deno.test("openai response: usage carries the request's speculative statistics, rounded", () => {
  const u = usageOf(stats);
  assert.deepEqual(
    [u.prompt_tokens, u.completion_tokens, u.total_tokens],
    [12, 9, 21],
  );
  const s = u.speculative;
  assert.equal(s.mean_accepted_length, 2.25);
  assert.equal(s.acceptance_rate, 0.5);
  assert.equal(s.drafter_passes_per_round, 0.75);
  assert.equal(s.drafted_tokens, 10);
  assert.deepEqual(s.accepted_by_draft_length, { 2: [1, 0, 0], 4: [0, 0, 1, 1, 0] });
  assert.deepEqual(s.draft_length_counts, [1, 0, 1, 0, 2]);
  assert.equal(s.time_ms.total, 10.123);
  // a copy: later changes to the engine's counters do not reach a sent response
  assert.notEqual(s.drafted_by_source, stats.draftedBySource);
});

Deno.test("openai response: chat and completion bodies and chunks have OpenAI's shapes", () => {
  const chat: ResponseMeta = {
    endpoint: "chat",
    id: newResponseId("chat"),
    created: 1,
    model: "m",
  };
  const text: ResponseMeta = { ...chat, endpoint: "completions", id: newResponseId("completions") };
  assert.match(chat.id, /^chatcmpl-[0-9a-f]{24}$/);
  assert.match(text.id, /^cmpl-[0-9a-f]{24}$/);
  const usage = usageOf(stats);
  const body = completionBody(chat, "hi", "cancelled", usage);
  assert.equal(body.object, "chat.completion");
  assert.deepEqual((body.choices as unknown[])[0], {
    index: 0,
    message: { role: "assistant", content: "hi", refusal: null },
    logprobs: null,
    finish_reason: "stop", // a cancelled generation reports "stop"
  });
  assert.equal(completionBody(text, "hi", "length", usage).object, "text_completion");

  assert.equal(chunks.opening(text, false), null, "completion streams need no opening chunk");
  const opening = chunks.opening(chat, true)!;
  assert.equal(opening.usage, null, "include_usage: every chunk but the last has usage null");
  const delta = chunks.delta(chat, {
    type: "delta",
    text: "4",
    tokens: [1, 2],
    acceptedDraft: 1,
    drafted: 3,
    acceptedLookup: 0,
  }, false);
  assert.equal(delta.object, "chat.completion.chunk");
  assert.ok(!("usage" in delta));
  assert.deepEqual((delta.choices as { failfast: unknown }[])[0].failfast, {
    drafted: 3,
    accepted_draft: 1,
    accepted_lookup: 0,
    tokens: 2,
  });
  const last = chunks.usage(chat, usage);
  assert.deepEqual(last.choices, []);
  assert.equal(last.usage, usage);
});
