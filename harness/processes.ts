/**
 * Real processes for the edge tests and benchmarks: a model server (`deno task serve` with
 * FAILFAST_ROLE=model-server), the API server, and the worker under `wrangler dev` (workerd),
 * each on a free loopback port, stopped by whoever started them.
 */

const ROOT = new URL("../", import.meta.url).pathname;
const DENO = `${ROOT}node_modules/.bin/deno`;
const WRANGLER = `${ROOT}node_modules/.bin/wrangler`;

/** A free TCP port on 127.0.0.1. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

export interface Process {
  url: string;
  port: number;
  /** Stops it (SIGTERM, then SIGKILL after 3 s) and waits for it to exit. */
  stop(signal?: Deno.Signal): Promise<void>;
  /** What it wrote, for failure messages. */
  output(): string;
}

async function waitFor(url: string, timeoutMs: number, proc: Deno.ChildProcess, out: () => string) {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  proc.status.then(() => (exited = true));
  while (Date.now() < deadline) {
    if (exited) throw new Error(`the process exited before ${url} answered:\n${out()}`);
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await r.body?.cancel();
      if (r.status === 200) return;
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms:\n${out()}`);
}

function spawn(
  cmd: string,
  args: string[],
  env: Record<string, string>,
  port: number,
  readyPath: string,
  timeoutMs: number,
): Promise<Process> {
  const proc = new Deno.Command(cmd, {
    args,
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  const decoder = new TextDecoder();
  const drain = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) text = (text + decoder.decode(chunk)).slice(-20_000);
  };
  const drained = Promise.all([drain(proc.stdout), drain(proc.stderr)]);
  const url = `http://127.0.0.1:${port}`;
  const out = () => text;
  let stopped: Promise<void> | null = null;
  const handle: Process = {
    url,
    port,
    output: out,
    stop(signal: Deno.Signal = "SIGTERM") {
      stopped ??= (async () => {
        try {
          proc.kill(signal);
        } catch { /* already gone */ }
        const timer = setTimeout(() => {
          try {
            proc.kill("SIGKILL");
          } catch { /* already gone */ }
        }, 3000);
        await proc.status;
        clearTimeout(timer);
        await drained;
      })();
      return stopped;
    },
  };
  return waitFor(`${url}${readyPath}`, timeoutMs, proc, out).then(
    () => handle,
    async (e) => {
      await handle.stop("SIGKILL");
      throw e;
    },
  );
}

export const MODEL_SERVER_KEY = "edge-test-key";

/** A model server on the bundled models. */
export function startModelServer(
  options: { port?: number; env?: Record<string, string> } = {},
): Promise<Process> {
  const port = options.port ?? freePort();
  return spawn(
    DENO,
    ["run", "-A", "src/cli/serve.ts"],
    {
      FAILFAST_ROLE: "model-server",
      HOST: "127.0.0.1",
      PORT: String(port),
      FAILFAST_MODEL_SERVER_KEY: MODEL_SERVER_KEY,
      FAILFAST_LOG_LEVEL: "warn",
      ...options.env,
    },
    port,
    "/health",
    60_000,
  );
}

/** The all-in-one Deno server (engine and models in one process) on the bundled models. */
export function startApiServer(env: Record<string, string> = {}): Promise<Process> {
  const port = freePort();
  return spawn(
    DENO,
    ["run", "-A", "src/cli/serve.ts"],
    {
      HOST: "127.0.0.1",
      PORT: String(port),
      FAILFAST_LOG_LEVEL: "warn",
      ...env,
    },
    port,
    "/health",
    60_000,
  );
}

/** The worker under `wrangler dev`, its model server at `remoteUrl`. */
export function startWorker(
  remoteUrl: string,
  vars: Record<string, string> = {},
): Promise<Process> {
  const port = freePort();
  const allVars: Record<string, string> = {
    FAILFAST_REMOTE_URL: remoteUrl,
    FAILFAST_REMOTE_KEY: MODEL_SERVER_KEY,
    FAILFAST_LOG_LEVEL: "warn",
    ...vars,
  };
  const args = [
    "dev",
    "--ip",
    "127.0.0.1",
    "--port",
    String(port),
    "--inspector-port",
    String(freePort()),
  ];
  for (const [k, v] of Object.entries(allVars)) args.push("--var", `${k}:${v}`);
  return spawn(
    WRANGLER,
    args,
    {
      WRANGLER_SEND_METRICS: "false",
      PATH: Deno.env.get("PATH") ?? "",
      HOME: Deno.env.get("HOME") ?? ROOT,
    },
    port,
    "/health",
    90_000,
  );
}

/** Live sessions on a model server, from its /metrics. */
export async function liveSessions(modelServerUrl: string): Promise<number> {
  const text = await (await fetch(`${modelServerUrl}/metrics`, {
    headers: { authorization: `Bearer ${MODEL_SERVER_KEY}` },
  })).text();
  let n = 0;
  for (const m of text.matchAll(/^failfast_model_server_sessions\{[^}]*\} (\d+)$/gm)) {
    n += Number(m[1]);
  }
  return n;
}
