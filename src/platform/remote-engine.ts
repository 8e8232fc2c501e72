/**
 * An engine whose models run on a model server (FAILFAST_BACKEND=remote): host-neutral, so the
 * Workers entry and the Deno server build it alike, each handing in its own policy core. The
 * models' config and tokenizer come from the server at start, so the host ships no model files.
 */

import type { Config } from "../config.ts";
import { InferenceError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { FailFastEngine, type LoadedModel, readyEngine } from "../engine/engine.ts";
import { type CostProfile, median, RowCurve } from "../engine/pass-costs.ts";
import { parseModelConfig } from "../model/config.ts";
import { modelFromSources, type ModelInfo } from "../model/model-dir.ts";
import type { PolicyCore } from "../policy/core.ts";
import { RemoteClient, RemoteDraftChannel, RemoteModelSession } from "../runtime/remote.ts";
import { PROTOCOL_VERSION } from "../runtime/wire.ts";

interface ModelMetadata {
  kind: "ar" | "dllm";
  config: string;
  generationConfig: string | null;
}

interface ServerMetadata {
  protocol: number;
  instance: string;
  name: string;
  tokenizer: string;
  tokenizerConfig: string;
  models: Partial<Record<"verifier" | "drafter" | "ar-drafter", ModelMetadata>>;
}

/** Median round-trip time of a few calls that do no work on the server. */
async function roundTripMs(client: RemoteClient): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    await client.call("GET", "/health", { idempotent: true });
    times.push(performance.now() - t0);
  }
  return median(times);
}

/**
 * The server's pass costs, plus what each call adds as this engine sees it: measured at start,
 * then kept current from every call (RemoteClient.overheadMs).
 */
async function remoteCosts(client: RemoteClient): Promise<CostProfile> {
  const p = await client.json<{
    verify: [number, number][];
    denoiseMs: number | null;
    arStepMs: number | null;
    roundMs: number;
  }>("GET", "/v1/costs", undefined, true);
  client.observeOverhead(await roundTripMs(client), 0);
  return {
    verify: new RowCurve(p.verify),
    denoiseMs: p.denoiseMs,
    arStepMs: p.arStepMs,
    roundMs: p.roundMs,
    adaptive: true,
    callMs: () => client.overheadMs,
  };
}

/** A client of the configured model server. */
export function remoteClientOf(
  config: Config,
  onSession?: (free: () => Promise<unknown>) => void,
): RemoteClient {
  if (!config.remoteUrl) {
    throw new InferenceError("FAILFAST_BACKEND=remote needs FAILFAST_REMOTE_URL (a model server)");
  }
  return new RemoteClient({
    url: config.remoteUrl,
    key: config.remoteKey,
    timeoutMs: config.remoteTimeoutMs,
    onSession,
  });
}

/**
 * Connects to the configured model server and returns a ready engine over its models.
 *
 * @example
 * const engine = await openRemoteEngine(config, log, await loadPolicy());
 */
export async function openRemoteEngine(
  config: Config,
  log: Logger,
  policy: PolicyCore,
  options: {
    progress?: (message: string) => void;
    /** The client to use (default: one from the configuration). */
    client?: RemoteClient;
  } = {},
): Promise<FailFastEngine> {
  const progress = options.progress ?? (() => {});
  const client = options.client ?? remoteClientOf(config);
  progress(`fetching model metadata from ${client.url}`);
  const meta = await client.json<ServerMetadata>("GET", "/v1/model", undefined, true);
  if (meta.protocol !== PROTOCOL_VERSION) {
    throw new InferenceError(
      `the model server at ${client.url} speaks protocol ${meta.protocol}; this engine speaks ${PROTOCOL_VERSION}`,
    );
  }
  const v = meta.models.verifier;
  if (!v) throw new InferenceError(`the model server at ${client.url} holds no verifier`);
  const verifierInfo = modelFromSources(`${client.url} verifier`, "ar", {
    ...v,
    tokenizer: meta.tokenizer,
    tokenizerConfig: meta.tokenizerConfig,
  });
  const rows = config.remoteOutput === "tokens";
  const open = (role: "verifier" | "drafter" | "ar-drafter"): LoadedModel | null => {
    const m = meta.models[role];
    if (!m) return null;
    const dir: ModelInfo = role === "verifier" ? verifierInfo : {
      ...verifierInfo, // the server checked that its drafters share the verifier's vocabulary
      dir: `${client.url} ${role}`,
      kind: m.kind,
      config: parseModelConfig(
        `${client.url} ${role} config.json`,
        m.config,
        m.kind,
        m.generationConfig ?? undefined,
      ),
    };
    return { dir, session: new RemoteModelSession(client, role, dir.config, { rows }) };
  };
  const parts = {
    verifier: open("verifier")!,
    drafter: open("drafter"),
    arDrafter: open("ar-drafter"),
    policy,
    remoteDrafters: new RemoteDraftChannel(client),
  };
  log.info("model server connected", {
    url: client.url,
    instance: meta.instance,
    models: Object.keys(meta.models).join(","),
  });
  const engine = new FailFastEngine(parts, config, log, { profiler: () => remoteCosts(client) });
  return await readyEngine(engine, config, progress);
}
