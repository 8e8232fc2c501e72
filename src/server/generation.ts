/**
 * The two generation routes (chat and completions), streaming and not: admission (limits,
 * context length), cancellation, and the response. One consumer reads the engine's events for
 * both response styles; a stream is Hono's streamSSE, whose writes wait for the client (a slow
 * reader slows the generation instead of filling memory).
 *
 * A generation stops for one of three reasons, one AbortSignal.any of them: the client went away
 * (499, nothing more is sent), the request's time limit (408, or an error event on a stream), or
 * the server's shutdown (503 likewise).
 */
import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import type { Config } from "../config.ts";
import { InvalidRequestError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { Engine, GenerateEvent } from "../engine/types.ts";
import { type Endpoint, parseRequest } from "./openai-schema.ts";
import {
  chunks,
  completionBody,
  newResponseId,
  type ResponseMeta,
  usageOf,
} from "./openai-response.ts";
import { errorBody, HttpError, statusOf } from "./http-errors.ts";
import type { Limiter } from "./limits.ts";
import type { Metrics } from "./metrics.ts";
import { jsonBody, requestKeyIndex } from "./middleware.ts";

type DoneEvent = Extract<GenerateEvent, { type: "done" }>;
type DeltaEvent = Extract<GenerateEvent, { type: "delta" }>;

const CLIENT_GONE = () =>
  new HttpError(499, "the client closed the request", "client_closed_request");

/** What the routes need from the server that holds them. */
export interface GenerationDeps {
  config: Config;
  log: Logger;
  metrics: Metrics;
  limiter: Limiter;
  apiKeys: readonly string[];
  /** The engine, or throws the 503 that says why there is none (loading, failed, draining). */
  engine(): Engine;
  /** Registers a generation; its controller is aborted (with a 503) by a shutdown. */
  begin(): AbortController;
  /** Unregisters it. */
  end(flight: AbortController): void;
}

/** The HTTP error a stopped generation answers with, from its signal's reason. */
function stopReason(reason: unknown, timeoutMs: number): HttpError {
  if (reason instanceof HttpError) return reason;
  if (reason instanceof DOMException && reason.name === "TimeoutError") {
    return new HttpError(
      408,
      `the request exceeded this server's time limit of ${timeoutMs} ms`,
      "timeout",
      { type: "timeout_error" },
    );
  }
  return CLIENT_GONE(); // the client's own signal
}

/** Reads a generation's events to its end, handing each delta on; returns the done event. */
async function consume(
  first: IteratorResult<GenerateEvent>,
  iter: AsyncIterator<GenerateEvent>,
  onDelta: (ev: DeltaEvent) => void | Promise<void>,
): Promise<DoneEvent> {
  let done: DoneEvent | null = null;
  for (let r = first; !r.done; r = await iter.next()) {
    if (r.value.type === "delta") await onDelta(r.value);
    else done = r.value;
  }
  if (!done) throw new Error("the engine ended a generation without a done event");
  return done;
}

/** The handler of one endpoint. */
export function generationRoute(
  deps: GenerationDeps,
  endpoint: Endpoint,
): (c: Context) => Promise<Response> {
  const { config, log, metrics, limiter } = deps;
  const route = endpoint === "chat" ? "/v1/chat/completions" : "/v1/completions";

  return async (c) => {
    const arrival = performance.now();
    const eng = deps.engine();
    const parsed = parseRequest(endpoint, await jsonBody(c), config);
    const request = parsed.request;
    if (deps.apiKeys.length > 0) request.cacheScope = `key ${requestKeyIndex(c)}`;
    const promptTokens = eng.countPromptTokens(request);
    const ctx = eng.contextLength;
    const promptParam = endpoint === "chat" ? "messages" : "prompt";
    if (promptTokens >= ctx) {
      throw new InvalidRequestError(
        `This model's maximum context length is ${ctx} tokens; the prompt is ${promptTokens} tokens, leaving none for the completion. Shorten the prompt.`,
        promptParam,
        "context_length_exceeded",
      );
    }
    if (promptTokens + request.maxTokens > ctx) {
      if (parsed.maxTokensExplicit) {
        throw new InvalidRequestError(
          `This model's maximum context length is ${ctx} tokens; the prompt is ${promptTokens} tokens and max_tokens asks for ${request.maxTokens}. Lower max_tokens to at most ${
            ctx - promptTokens
          }.`,
          "max_tokens",
          "context_length_exceeded",
        );
      }
      request.maxTokens = ctx - promptTokens;
    }

    const meta: ResponseMeta = {
      endpoint,
      id: newResponseId(endpoint),
      created: Math.floor(Date.now() / 1000),
      model: parsed.model,
    };
    const rlog = log.child({ request: meta.id });
    const flight = deps.begin();
    const clientGone = new AbortController(); // the stream's reader cancelled it
    const signals = [flight.signal, clientGone.signal, c.req.raw.signal];
    if (config.requestTimeoutMs > 0) signals.push(AbortSignal.timeout(config.requestTimeoutMs));
    const signal = AbortSignal.any(signals);
    let release: (() => void) | undefined;
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      release?.();
      deps.end(flight);
      metrics.requestSeconds.observe((performance.now() - arrival) / 1000, { route });
    };
    /** Why the generation stopped early, or null. */
    const stopped = () =>
      signal.aborted ? stopReason(signal.reason, config.requestTimeoutMs) : null;

    let iter: AsyncIterator<GenerateEvent>;
    let first: IteratorResult<GenerateEvent>;
    try {
      release = await limiter.acquire(signal).catch((e) => {
        throw signal.aborted ? stopped() : e;
      });
      metrics.queueSeconds.observe((performance.now() - arrival) / 1000);
      iter = eng.generate(request, signal)[Symbol.asyncIterator]();
      first = await iter.next();
    } catch (e) {
      finish();
      throw e;
    }
    let ttftRecorded = false;
    const firstText = () => {
      if (ttftRecorded) return;
      ttftRecorded = true;
      metrics.ttftSeconds.observe((performance.now() - arrival) / 1000);
    };
    const recordDone = (ev: DoneEvent) => {
      metrics.recordGeneration(ev.stats, ev.finishReason);
      rlog.info("generation finished", {
        endpoint,
        stream: parsed.stream,
        strategy: ev.stats.strategy,
        finish: ev.finishReason,
        prompt_tokens: ev.stats.promptTokens,
        completion_tokens: ev.stats.completionTokens,
        rounds: ev.stats.rounds,
        ms: Math.round(performance.now() - arrival),
      });
    };

    if (!parsed.stream) {
      try {
        let text = "";
        const done = await consume(first, iter, (ev) => {
          firstText();
          text += ev.text;
        });
        recordDone(done);
        const reason = stopped();
        if (done.finishReason === "cancelled" && reason) throw reason;
        return c.json(completionBody(meta, text, done.finishReason, usageOf(done.stats)), 200, {
          "x-request-id": meta.id,
        });
      } finally {
        finish();
      }
    }

    c.header("x-request-id", meta.id);
    c.header("x-accel-buffering", "no"); // proxies must not buffer the stream
    return streamSSE(c, async (stream) => {
      stream.onAbort(() => clientGone.abort(CLIENT_GONE()));
      const send = (value: unknown) => stream.writeSSE({ data: JSON.stringify(value) });
      try {
        const opening = chunks.opening(meta, parsed.includeUsage);
        if (opening) await send(opening);
        const done = await consume(first, iter, async (ev) => {
          firstText();
          await send(chunks.delta(meta, ev, parsed.includeUsage));
        });
        recordDone(done);
        const reason = stopped();
        if (done.finishReason === "cancelled" && reason) {
          if (statusOf(reason) !== 499) await send(errorBody(reason));
          return;
        }
        await send(chunks.finish(meta, done.finishReason, parsed.includeUsage));
        if (parsed.includeUsage) await send(chunks.usage(meta, usageOf(done.stats)));
        await stream.writeSSE({ data: "[DONE]" });
      } catch (e) {
        rlog.error("generation failed", { err: e });
        await send(errorBody(e));
      } finally {
        finish();
      }
    });
  };
}
