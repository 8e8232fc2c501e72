/**
 * The remote runtime (FAILFAST_BACKEND=remote): the runtime seam over `fetch` alone, against the
 * project's model server (src/model-server/), so it runs in Workers, Deno, Node and browsers.
 *
 * - A KV cache is a session on the server, created when the cache is (the creation runs while
 *   the engine goes on; the first pass waits for it) and freed when it is released.
 * - A cut (truncate) is not a call of its own: it rides on the next pass.
 * - A verify pass can ask for reduced rows (RowOutput) instead of logits; a drafter runs beside
 *   its model (DraftChannel), one call per draft.
 * - Every call has a timeout. Calls that change nothing (GETs, DELETE) are retried with backoff;
 *   a pass is never retried (it may have changed the cache). A model server that cannot be
 *   reached, answers an error, or no longer knows the session (it restarted) fails the call
 *   with an InferenceError that says so; nothing waits past the timeout.
 */

import type { ModelConfig } from "../model/config.ts";
import { InferenceError } from "../errors.ts";
import type {
  DraftAhead,
  DraftCall,
  DraftChannel,
  DraftReply,
  DraftSessionHandle,
  ForwardOptions,
  ForwardResult,
  KvCache,
  ModelSession,
  RowOutput,
  RowsResult,
} from "./types.ts";
import { decodeFrame, encodeFrame, type Frame, FRAME_CONTENT_TYPE } from "./wire.ts";

/** Attempts of an idempotent call (one that is safe to repeat) before its failure stands. */
const IDEMPOTENT_ATTEMPTS = 3;

export interface RemoteOptions {
  url: string;
  key: string;
  timeoutMs: number;
  /**
   * Told of each session as it opens, with a function that frees it (and returns the call's
   * promise). A Workers host frees a request's sessions the moment its client disconnects,
   * inside the invocation's last moments (waitUntil), since later work of a cancelled
   * invocation may never run.
   */
  onSession?: (free: () => Promise<unknown>) => void;
}

/** Counts of what the client sent and received, for the edge benchmark and metrics. */
export interface WireCounters {
  calls: number;
  bytesSent: number;
  bytesReceived: number;
}

/** HTTP access to one model server. */
export class RemoteClient {
  readonly url: string;
  readonly counters: WireCounters = { calls: 0, bytesSent: 0, bytesReceived: 0 };

  constructor(private readonly options: RemoteOptions) {
    if (!/^https?:\/\//.test(options.url)) {
      throw new InferenceError(
        `FAILFAST_REMOTE_URL must be an http(s) URL of a model server, got ${
          JSON.stringify(options.url)
        }`,
      );
    }
    this.url = options.url.replace(/\/+$/, "");
  }

  /** What a call adds to the work it asks for (network, HTTP), a moving average in ms. */
  overheadMs = 0;
  private overheadSeen = false;

  /** Records a call's wall time against the time the server says its work took. */
  observeOverhead(wallMs: number, serverMs: number): void {
    const x = Math.max(0, wallMs - serverMs);
    if (!Number.isFinite(x)) return;
    this.overheadMs = this.overheadSeen ? this.overheadMs + 0.2 * (x - this.overheadMs) : x;
    this.overheadSeen = true;
  }

  get onSession(): RemoteOptions["onSession"] {
    return this.options.onSession;
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return this.options.key ? { authorization: `Bearer ${this.options.key}`, ...extra } : extra;
  }

  /** One HTTP call with the timeout; the body is read inside the timeout too. */
  private async once(
    method: string,
    path: string,
    body?: Uint8Array<ArrayBuffer> | string,
    contentType?: string,
  ): Promise<{ status: number; bytes: Uint8Array; headers: Headers }> {
    const signal = AbortSignal.timeout(this.options.timeoutMs);
    this.counters.calls++;
    this.counters.bytesSent += typeof body === "string" ? body.length : body?.length ?? 0;
    let response: Response;
    try {
      response = await fetch(`${this.url}${path}`, {
        method,
        body,
        headers: this.headers(contentType ? { "content-type": contentType } : {}),
        signal,
      });
      const bytes = new Uint8Array(await response.arrayBuffer());
      this.counters.bytesReceived += bytes.length;
      return { status: response.status, bytes, headers: response.headers };
    } catch (e) {
      const timedOut = signal.aborted;
      throw new InferenceError(
        timedOut
          ? `the model server at ${this.url} did not answer ${method} ${path} within ${this.options.timeoutMs} ms`
          : `the model server at ${this.url} cannot be reached (${(e as Error).message})`,
        { cause: e },
      );
    }
  }

  /**
   * A call; `idempotent` ones are retried after network failures and 5xx answers. A non-2xx
   * answer is an InferenceError carrying the server's message and status.
   */
  async call(
    method: string,
    path: string,
    options: {
      body?: Uint8Array<ArrayBuffer> | string;
      contentType?: string;
      idempotent?: boolean;
    } = {},
  ): Promise<{ status: number; bytes: Uint8Array }> {
    const attempts = options.idempotent ? IDEMPOTENT_ATTEMPTS : 1;
    for (let attempt = 1;; attempt++) {
      let failure: InferenceError;
      try {
        const r = await this.once(method, path, options.body, options.contentType);
        if (r.status < 400) return r;
        failure = new RemoteError(r.status, method, path, this.url, r.bytes);
        if (r.status < 500) throw failure;
      } catch (e) {
        if (!(e instanceof InferenceError) || e instanceof RemoteError && e.status < 500) throw e;
        failure = e;
      }
      if (attempt >= attempts) throw failure;
      await new Promise((r) => setTimeout(r, 100 * 3 ** (attempt - 1)));
    }
  }

  async json<T>(method: string, path: string, body?: unknown, idempotent = false): Promise<T> {
    const r = await this.call(method, path, {
      body: body === undefined ? undefined : JSON.stringify(body),
      contentType: body === undefined ? undefined : "application/json",
      idempotent,
    });
    return JSON.parse(new TextDecoder().decode(r.bytes)) as T;
  }

  async frame(path: string, header: Record<string, unknown>, sections: Frame["sections"]) {
    const r = await this.call("POST", path, {
      body: encodeFrame(header, sections),
      contentType: FRAME_CONTENT_TYPE,
    });
    return decodeFrame(r.bytes);
  }
}

/** A non-2xx answer of the model server. */
export class RemoteError extends InferenceError {
  readonly status: number;
  constructor(status: number, method: string, path: string, url: string, body: Uint8Array) {
    let message = new TextDecoder().decode(body).slice(0, 500);
    try {
      message = JSON.parse(message).error?.message ?? message;
    } catch { /* not JSON: keep the text */ }
    const lost = status === 404 || status === 409
      ? " (the session is gone: did the model server restart, or its TTL free it?)"
      : "";
    super(`the model server at ${url} answered ${status} to ${method} ${path}: ${message}${lost}`);
    this.status = status;
  }
}

/** A server session's id, known once its creation has answered. */
class RemoteSession {
  readonly id: Promise<string>;
  private released: Promise<unknown> | null = null;

  constructor(private readonly client: RemoteClient, body: Record<string, unknown>) {
    this.id = client.json<{ id: string }>("POST", "/v1/sessions", body).then((r) => r.id);
    this.id.catch(() => {}); // a failed creation is reported by the first call that waits on it
    client.onSession?.(() => this.release());
  }

  /** Frees the session on the server (retried; the server's TTL frees what a failure leaves). */
  release(): Promise<unknown> {
    this.released ??= this.id
      .then((id) => this.client.call("DELETE", `/v1/sessions/${id}`, { idempotent: true }))
      .catch(() => {});
    return this.released;
  }
}

class RemoteKvCache implements KvCache {
  length = 0;
  released = false;
  /** A cut not yet sent: the next pass starts with it. */
  keep: number | null = null;
  constructor(readonly session: RemoteSession) {}
}

function timingOf(h: Record<string, unknown>, wallMs: number) {
  return { runMs: Number(h.runMs) || 0, totalMs: wallMs };
}

/** One of a model server's models, as a ModelSession. */
export class RemoteModelSession implements ModelSession {
  readonly backend: string;
  /** Present when verify passes may return reduced rows (FAILFAST_REMOTE_OUTPUT=tokens). */
  readonly forwardRows?: ModelSession["forwardRows"];

  constructor(
    private readonly client: RemoteClient,
    private readonly model: "verifier" | "drafter" | "ar-drafter",
    readonly config: ModelConfig,
    options: { rows: boolean },
  ) {
    this.backend = `remote (${client.url})`;
    if (options.rows) {
      this.forwardRows = (c, t, o, out, ahead) => this.passRows(c, t, o, out, ahead);
    }
  }

  createCache(): KvCache {
    return new RemoteKvCache(new RemoteSession(this.client, { model: this.model }));
  }

  private cacheOf(cache: KvCache): RemoteKvCache {
    if (!(cache instanceof RemoteKvCache)) throw new InferenceError("not a remote cache");
    if (cache.released) throw new InferenceError("the cache was released");
    return cache;
  }

  private async pass(
    cache: KvCache,
    tokens: ArrayLike<number>,
    options: ForwardOptions,
    output: Record<string, unknown>,
  ): Promise<{ frame: Frame; wallMs: number }> {
    const c = this.cacheOf(cache);
    const t0 = performance.now();
    const id = await c.session.id;
    const header: Record<string, unknown> = { commit: options.commit, ...output };
    if (c.keep !== null) header.keep = c.keep;
    if (options.lastRows !== undefined) header.lastRows = options.lastRows;
    const sections: Frame["sections"] = { tokens: Int32Array.from(tokens) };
    if (options.positions) sections.positions = Int32Array.from(options.positions);
    const frame = await this.client.frame(`/v1/sessions/${id}/forward`, header, sections);
    c.keep = null;
    const expected = c.length + (options.commit ? tokens.length : 0);
    if (frame.header.length !== expected) {
      throw new InferenceError(
        `the model server's cache holds ${frame.header.length} positions, expected ${expected}`,
      );
    }
    c.length = expected;
    const wallMs = performance.now() - t0;
    const serverMs = Number(frame.header.serverMs ?? frame.header.totalMs) || 0;
    this.client.observeOverhead(wallMs, serverMs);
    return { frame, wallMs };
  }

  async forward(
    cache: KvCache,
    tokens: ArrayLike<number>,
    options: ForwardOptions,
  ): Promise<ForwardResult> {
    const { frame, wallMs } = await this.pass(cache, tokens, options, { output: "logits" });
    const logits = frame.sections.logits;
    if (!(logits instanceof Float32Array)) {
      throw new InferenceError("a pass came back without logits");
    }
    return {
      logits,
      rows: Number(frame.header.rows),
      vocab: Number(frame.header.vocab),
      timing: timingOf(frame.header, wallMs),
    };
  }

  private async passRows(
    cache: KvCache,
    tokens: ArrayLike<number>,
    options: ForwardOptions,
    output: RowOutput,
    ahead?: DraftAhead | null,
  ): Promise<RowsResult> {
    const { kind, ...rest } = output;
    const extra: Record<string, unknown> = { output: kind, ...rest };
    if (ahead) {
      const { cap, maxLen, budget, rule } = ahead;
      extra.then = { session: await ahead.session.id, cap, maxLen, budget, rule };
    }
    const { frame, wallMs } = await this.pass(cache, tokens, options, extra);
    const ids = frame.sections.ids;
    if (!(ids instanceof Int32Array)) throw new InferenceError("a pass came back without ids");
    const probs = frame.sections.probs;
    let aheadMs = 0;
    const a = frame.header.ahead as Record<string, number> | undefined;
    const aheadTokens = frame.sections.aheadTokens, aheadConfs = frame.sections.aheadConfidences;
    if (ahead && a && aheadTokens instanceof Int32Array && aheadConfs instanceof Float32Array) {
      aheadMs = (Number(a.drafterMs) || 0) + (Number(a.policyMs) || 0);
      ahead.onDraft(
        {
          tokens: Array.from(aheadTokens),
          confidences: Array.from(aheadConfs),
          passes: Number(a.passes),
          drafterMs: Number(a.drafterMs) || 0,
          policyMs: Number(a.policyMs) || 0,
          wallMs: aheadMs,
        },
        Number(a.from),
        Number(a.verified),
      );
    }
    return {
      rows: Number(frame.header.rows),
      ids,
      probs: probs instanceof Float32Array ? probs : null,
      // the next round's drafting inside this call is that round's drafter time
      timing: timingOf(frame.header, wallMs - aheadMs),
    };
  }

  truncate(cache: KvCache, length: number): void {
    const c = this.cacheOf(cache);
    if (!Number.isInteger(length) || length < 0 || length > c.length) {
      throw new InferenceError(`cannot truncate a cache of ${c.length} positions to ${length}`);
    }
    if (length === c.length) return;
    c.keep = Math.min(c.keep ?? Infinity, length);
    c.length = length;
  }

  release(cache: KvCache): void {
    if (!(cache instanceof RemoteKvCache) || cache.released) return;
    cache.released = true;
    cache.session.release();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Drafter sessions on a model server: each request's drafter runs there, one call per draft. */
export class RemoteDraftChannel implements DraftChannel {
  constructor(private readonly client: RemoteClient) {}

  open(spec: unknown): DraftSessionHandle {
    const s = spec as { kind: string };
    const session = new RemoteSession(this.client, {
      model: s.kind === "dllm" ? "drafter" : "ar-drafter",
      drafter: spec,
    });
    const client = this.client;
    return {
      id: session.id,
      async draft(call: DraftCall): Promise<DraftReply> {
        const t0 = performance.now();
        const id = await session.id;
        const { append, ...header } = call;
        const frame = await client.frame(`/v1/sessions/${id}/draft`, header, {
          append: Int32Array.from(append),
        });
        const tokens = frame.sections.tokens;
        const confidences = frame.sections.confidences;
        if (!(tokens instanceof Int32Array) || !(confidences instanceof Float32Array)) {
          throw new InferenceError("a draft came back without tokens and confidences");
        }
        const drafterMs = Number(frame.header.drafterMs) || 0;
        const policyMs = Number(frame.header.policyMs) || 0;
        const wallMs = performance.now() - t0;
        client.observeOverhead(wallMs, drafterMs + policyMs);
        return {
          tokens: Array.from(tokens),
          confidences: Array.from(confidences),
          passes: Number(frame.header.passes),
          drafterMs,
          policyMs,
          wallMs,
        };
      },
      release: () => session.release(),
    };
  }
}
