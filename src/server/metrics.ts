/**
 * Prometheus metrics in the text exposition format (version 0.0.4), kept in memory per server:
 * requests, tokens, latency histograms, drafted / accepted token counters, the accepted-length
 * histogram and queue depth. No dependency; `render()` produces the `/metrics` body.
 */
import type { GenerationStats } from "../engine/types.ts";

type Labels = Record<string, string>;

export function labelKey(labels: Labels): string {
  const parts = Object.entries(labels).sort(([a], [b]) => a < b ? -1 : 1)
    .map(([k, v]) =>
      `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`
    );
  return parts.length ? `{${parts.join(",")}}` : "";
}

function fmt(x: number): string {
  return Number.isFinite(x) ? String(x) : x > 0 ? "+Inf" : "-Inf";
}

export class Counter {
  readonly values = new Map<string, number>();
  constructor(readonly name: string, readonly help: string) {}
  inc(labels: Labels = {}, by = 1): void {
    const k = labelKey(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  get(labels: Labels = {}): number {
    return this.values.get(labelKey(labels)) ?? 0;
  }
  render(): string[] {
    const out = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const [k, v] of this.values) out.push(`${this.name}${k} ${fmt(v)}`);
    return out;
  }
}

export class Histogram {
  readonly series = new Map<string, { labels: Labels; counts: number[]; sum: number; n: number }>();
  constructor(readonly name: string, readonly help: string, readonly buckets: number[]) {}
  observe(value: number, labels: Labels = {}, times = 1): void {
    const k = labelKey(labels);
    let s = this.series.get(k);
    if (!s) {
      s = { labels, counts: this.buckets.map(() => 0), sum: 0, n: 0 };
      this.series.set(k, s);
    }
    this.buckets.forEach((b, i) => {
      if (value <= b) s!.counts[i] += times;
    });
    s.sum += value * times;
    s.n += times;
  }
  render(): string[] {
    const out = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const s of this.series.values()) {
      this.buckets.forEach((b, i) => {
        out.push(`${this.name}_bucket${labelKey({ ...s.labels, le: fmt(b) })} ${s.counts[i]}`);
      });
      out.push(`${this.name}_bucket${labelKey({ ...s.labels, le: "+Inf" })} ${s.n}`);
      out.push(`${this.name}_sum${labelKey(s.labels)} ${fmt(s.sum)}`);
      out.push(`${this.name}_count${labelKey(s.labels)} ${s.n}`);
    }
    return out;
  }
}

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
const LENGTH_BUCKETS = [1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 32, 40, 48, 64, 80, 128];

/** The server's metrics. Gauges are read at render time from the given callbacks. */
export class Metrics {
  readonly requests = new Counter(
    "failfast_http_requests_total",
    "HTTP requests by route and status code.",
  );
  readonly generations = new Counter(
    "failfast_generations_total",
    "Finished generations by strategy and finish reason.",
  );
  readonly promptTokens = new Counter("failfast_prompt_tokens_total", "Prompt tokens processed.");
  readonly completionTokens = new Counter(
    "failfast_completion_tokens_total",
    "Completion tokens generated.",
  );
  readonly drafted = new Counter(
    "failfast_drafted_tokens_total",
    "Draft tokens proposed, by strategy.",
  );
  readonly accepted = new Counter(
    "failfast_accepted_tokens_total",
    "Draft tokens accepted by the verifier, by strategy.",
  );
  readonly draftedBySource = new Counter(
    "failfast_drafted_tokens_by_source_total",
    "Draft tokens proposed, by strategy and the source that drafted them (drafter, context, history).",
  );
  readonly acceptedBySource = new Counter(
    "failfast_accepted_tokens_by_source_total",
    "Draft tokens accepted, by strategy and the source that drafted them (drafter, context, history).",
  );
  readonly rounds = new Counter("failfast_rounds_total", "Speculation rounds, by strategy.");
  readonly requestSeconds = new Histogram(
    "failfast_request_duration_seconds",
    "Time from request arrival to the end of the response, by route.",
    LATENCY_BUCKETS,
  );
  readonly ttftSeconds = new Histogram(
    "failfast_time_to_first_token_seconds",
    "Time from request arrival to the first generated text.",
    LATENCY_BUCKETS,
  );
  readonly queueSeconds = new Histogram(
    "failfast_queue_wait_seconds",
    "Time a request waited for a generation slot.",
    LATENCY_BUCKETS,
  );
  readonly draftLength = new Histogram(
    "failfast_draft_length",
    "Draft tokens proposed per round (0: a plain decoding step), by strategy.",
    [0, ...LENGTH_BUCKETS],
  );
  readonly acceptedLength = new Histogram(
    "failfast_accepted_length",
    "Tokens emitted per speculation round (accepted draft tokens + 1), by strategy.",
    LENGTH_BUCKETS,
  );

  /**
   * The speculative-decoding counters vLLM exposes (llama.cpp mirrors them), under vLLM's names
   * and labels, so that dashboards built for vLLM read this server unchanged: drafts (rounds that
   * proposed a draft), draft tokens, accepted tokens, and accepted tokens by position in the
   * draft (position 0 is the first draft token).
   */
  readonly vllmDrafts = new Counter(
    "vllm:spec_decode_num_drafts_total",
    "Number of spec decoding drafts (vLLM's name).",
  );
  readonly vllmDraftTokens = new Counter(
    "vllm:spec_decode_num_draft_tokens_total",
    "Number of draft tokens (vLLM's name).",
  );
  readonly vllmAcceptedTokens = new Counter(
    "vllm:spec_decode_num_accepted_tokens_total",
    "Number of accepted tokens (vLLM's name).",
  );
  readonly vllmAcceptedPerPosition = new Counter(
    "vllm:spec_decode_num_accepted_tokens_per_pos_total",
    "Accepted tokens per draft position (vLLM's name).",
  );

  constructor(
    private readonly gauges: {
      queueDepth: () => number;
      active: () => number;
      ready: () => boolean;
    },
    /** vLLM's labels of the served model (model_name, engine). */
    private readonly vllmLabels: Record<string, string> = { model_name: "", engine: "0" },
  ) {}

  /** Records the statistics of one finished generation. */
  recordGeneration(stats: GenerationStats, finishReason: string): void {
    const strategy = { strategy: stats.strategy };
    this.generations.inc({ ...strategy, finish_reason: finishReason });
    this.promptTokens.inc({}, stats.promptTokens);
    this.completionTokens.inc({}, stats.completionTokens);
    this.drafted.inc(strategy, stats.draftedTokens);
    this.accepted.inc(strategy, stats.acceptedTokens);
    this.rounds.inc(strategy, stats.rounds);
    for (const [source, n] of Object.entries(stats.draftedBySource)) {
      if (n) this.draftedBySource.inc({ ...strategy, source }, n);
    }
    for (const [source, n] of Object.entries(stats.acceptedBySource)) {
      if (n) this.acceptedBySource.inc({ ...strategy, source }, n);
    }
    stats.acceptedLengthCounts.forEach((count, n) => {
      if (count) this.acceptedLength.observe(n, strategy, count);
    });
    stats.draftLengthCounts.forEach((count, k) => {
      if (count) this.draftLength.observe(k, strategy, count);
    });
    const v = this.vllmLabels;
    /** perPosition[p]: drafts whose token at position p was accepted. */
    const perPosition: number[] = [];
    for (const [k, row] of Object.entries(stats.acceptedByDraftLength)) {
      const drafts = row.reduce((a, b) => a + b, 0);
      this.vllmDrafts.inc(v, drafts);
      this.vllmDraftTokens.inc(v, drafts * Number(k));
      let reached = 0; // drafts of this length with more than p tokens accepted
      for (let p = row.length - 2; p >= 0; p--) {
        reached += row[p + 1];
        perPosition[p] = (perPosition[p] ?? 0) + reached;
      }
      row.forEach((rounds, accepted) => this.vllmAcceptedTokens.inc(v, rounds * accepted));
    }
    perPosition.forEach((n, p) => {
      if (n) this.vllmAcceptedPerPosition.inc({ ...v, position: String(p) }, n);
    });
  }

  /** The Prometheus text body. */
  render(): string {
    const gauge = (name: string, help: string, value: number) => [
      `# HELP ${name} ${help}`,
      `# TYPE ${name} gauge`,
      `${name} ${value}`,
    ];
    return [
      ...this.requests.render(),
      ...this.generations.render(),
      ...this.promptTokens.render(),
      ...this.completionTokens.render(),
      ...this.drafted.render(),
      ...this.accepted.render(),
      ...this.draftedBySource.render(),
      ...this.acceptedBySource.render(),
      ...this.rounds.render(),
      ...this.requestSeconds.render(),
      ...this.ttftSeconds.render(),
      ...this.queueSeconds.render(),
      ...this.draftLength.render(),
      ...this.acceptedLength.render(),
      ...this.vllmDrafts.render(),
      ...this.vllmDraftTokens.render(),
      ...this.vllmAcceptedTokens.render(),
      ...this.vllmAcceptedPerPosition.render(),
      ...gauge("failfast_queue_depth", "Requests waiting for a slot.", this.gauges.queueDepth()),
      ...gauge("failfast_active_generations", "Generations running.", this.gauges.active()),
      ...gauge("failfast_ready", "1 once the models are loaded.", this.gauges.ready() ? 1 : 0),
    ].join("\n") + "\n";
  }
}
