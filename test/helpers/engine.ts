/** Building an engine on the bundled models for tests, with sessions that count live caches. */

import { type Config, loadConfig } from "../../src/config.ts";
import { Logger } from "../../src/log.ts";
import { type EngineParts, FailFastEngine, type LoadedModel } from "../../src/engine/engine.ts";
import { openDrafters } from "../../src/platform/deno.ts";
import type {
  ChatMessage,
  GenerateEvent,
  GenerateRequest,
  GenerationStats,
} from "../../src/engine/types.ts";
import type { SamplingParams } from "../../src/policy/core.ts";
import { loadModelDir } from "../../src/model/model-dir.ts";
import { loadPolicy } from "../../src/policy/load-deno.ts";
import { openModel } from "../../src/runtime/create.ts";
import type { KvCache, ModelSession } from "../../src/runtime/types.ts";
import { AR_DRAFTER_DIR, DRAFTER_DIR, VERIFIER_DIR } from "./models.ts";

/** Wraps a session and counts caches created and not yet released. */
export class CountingSession implements ModelSession {
  live = 0;
  constructor(private readonly inner: ModelSession) {}
  get config() {
    return this.inner.config;
  }
  get backend() {
    return this.inner.backend;
  }
  createCache(): KvCache {
    this.live++;
    return this.inner.createCache();
  }
  forward(...args: Parameters<ModelSession["forward"]>) {
    return this.inner.forward(...args);
  }
  truncate(cache: KvCache, length: number): void {
    this.inner.truncate(cache, length);
  }
  release(cache: KvCache): void {
    if (!cache.released) this.live--;
    this.inner.release(cache);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

export interface TestEngine {
  engine: FailFastEngine;
  parts: EngineParts;
  sessions: CountingSession[];
  config: Config;
}

/** The bundled models on onnxruntime-node, with counting sessions. */
export async function testEngine(env: Record<string, string> = {}): Promise<TestEngine> {
  const config = loadConfig({
    env: (n) =>
      ({
        FAILFAST_VERIFIER_DIR: VERIFIER_DIR,
        FAILFAST_DRAFTER_DIR: DRAFTER_DIR,
        FAILFAST_AR_DRAFTER_DIR: AR_DRAFTER_DIR,
        FAILFAST_THREADS: "1",
        ...env,
      })[n],
  });
  const log = new Logger("warn");
  const sessions: CountingSession[] = [];
  const counted = (m: LoadedModel): LoadedModel => {
    const session = new CountingSession(m.session);
    sessions.push(session);
    return { dir: m.dir, session };
  };
  const verifierDir = await loadModelDir(VERIFIER_DIR, "ar");
  const verifier = counted({ dir: verifierDir, session: await openModel(verifierDir, config) });
  // the drafters as the engine opens them (threads, FAILFAST_DRAFTER_QUANTIZE)
  const { drafter, arDrafter } = await openDrafters(config, log);
  const parts: EngineParts = {
    verifier,
    drafter: drafter && counted(drafter),
    arDrafter: arDrafter && counted(arDrafter),
    policy: await loadPolicy(),
  };
  return { engine: new FailFastEngine(parts, config, log), parts, sessions, config };
}

export interface Collected {
  tokens: number[];
  text: string;
  finishReason: string;
  stats: GenerationStats;
  deltas: Extract<GenerateEvent, { type: "delta" }>[];
}

/** Runs a generation to the end and gathers its events. */
export async function collect(events: AsyncIterable<GenerateEvent>): Promise<Collected> {
  const out: Partial<Collected> = { tokens: [], text: "", deltas: [] };
  for await (const ev of events) {
    if (ev.type === "delta") {
      out.tokens!.push(...ev.tokens);
      out.text += ev.text;
      out.deltas!.push(ev);
    } else {
      out.finishReason = ev.finishReason;
      out.stats = ev.stats;
    }
  }
  return out as Collected;
}

export function chat(question: string, extra: Partial<GenerateRequest> = {}): GenerateRequest {
  return { messages: [{ role: "user", content: question }], maxTokens: 256, ...extra };
}

/**
 * The verifier's processed next-token distribution after `messages` (rendered with the chat
 * template), and its likely tokens (probability above 0.02): the exact target of a sampling test.
 */
export async function firstTokenDistribution(
  parts: EngineParts,
  messages: ChatMessage[],
  sampling: SamplingParams,
): Promise<{ p: Float32Array; support: number[] }> {
  const tok = parts.verifier.dir.tokenizer;
  const prompt = tok.encode(tok.renderChat(messages));
  const session = parts.verifier.session;
  const cache = session.createCache();
  const r = await session.forward(cache, prompt, { commit: false, lastRows: 1 });
  session.release(cache);
  const p = parts.policy.processedProbs(r.logits, sampling);
  return { p, support: [...p.keys()].filter((i) => p[i] > 0.02) };
}
