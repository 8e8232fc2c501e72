import assert from "node:assert/strict";
import { Counter, Histogram, labelKey, Metrics } from "../src/server/metrics.ts";
import { sampleStats } from "./helpers/generation-stats.ts";

/** The sample lines of a Prometheus text body, as name{labels} => value. */
function samples(body: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of body.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

Deno.test("metrics: labels are sorted and escaped as the exposition format wants", () => {
  assert.equal(labelKey({}), "");
  assert.equal(labelKey({ b: "2", a: "1" }), '{a="1",b="2"}');
  assert.equal(labelKey({ v: 'a"b\\c\nd' }), '{v="a\\"b\\\\c\\nd"}');
});

Deno.test("metrics: a histogram's buckets are cumulative and end with +Inf, sum and count", () => {
  const h = new Histogram("x_seconds", "help", [1, 2, 5]);
  h.observe(0.5);
  h.observe(2);
  h.observe(9, {}, 3);
  const s = samples(h.render().join("\n"));
  assert.equal(s.get('x_seconds_bucket{le="1"}'), 1);
  assert.equal(s.get('x_seconds_bucket{le="2"}'), 2);
  assert.equal(s.get('x_seconds_bucket{le="5"}'), 2);
  assert.equal(s.get('x_seconds_bucket{le="+Inf"}'), 5);
  assert.equal(s.get("x_seconds_sum"), 0.5 + 2 + 27);
  assert.equal(s.get("x_seconds_count"), 5);
  const c = new Counter("y_total", "help");
  c.inc({ k: "a" }, 2);
  c.inc({ k: "a" });
  assert.equal(c.get({ k: "a" }), 3);
  assert.equal(c.get({ k: "b" }), 0);
});

Deno.test("metrics: a generation's rounds feed vLLM's speculative-decoding counters", () => {
  const m = new Metrics({ queueDepth: () => 2, active: () => 1, ready: () => true }, {
    model_name: "tiny",
    engine: "0",
  });
  m.recordGeneration(sampleStats, "stop");
  const s = samples(m.render());
  const v = 'engine="0",model_name="tiny"';
  assert.equal(s.get(`vllm:spec_decode_num_drafts_total{${v}}`), 3);
  assert.equal(s.get(`vllm:spec_decode_num_draft_tokens_total{${v}}`), 2 + 4 + 4);
  assert.equal(s.get(`vllm:spec_decode_num_accepted_tokens_total{${v}}`), 5);
  const perPos = (p: number) =>
    s.get(`vllm:spec_decode_num_accepted_tokens_per_pos_total{${v},position="${p}"}`);
  assert.deepEqual([perPos(0), perPos(1), perPos(2), perPos(3)], [2, 2, 1, undefined]);
  assert.equal(s.get('failfast_accepted_length_bucket{le="1",strategy="failfast"}'), 2);
  assert.equal(s.get('failfast_draft_length_bucket{le="0",strategy="failfast"}'), 1);
  assert.equal(
    s.get('failfast_drafted_tokens_by_source_total{source="context",strategy="failfast"}'),
    3,
  );
  assert.equal(s.get('failfast_generations_total{finish_reason="stop",strategy="failfast"}'), 1);
  assert.equal(s.get("failfast_queue_depth"), 2);
  assert.equal(s.get("failfast_ready"), 1);
});
