/**
 * Builds the policy core (build/policy.wasm, `deno task build:wasm`) only when it is missing or
 * older than its AssemblyScript source, so that `serve` and `generate` start without compiling it.
 */

const ROOT = new URL("../../", import.meta.url);
const WASM = new URL("build/policy.wasm", ROOT);
const SOURCES = new URL("assembly/", ROOT);

async function mtime(url: URL): Promise<number | null> {
  try {
    return (await Deno.stat(url)).mtime?.getTime() ?? null;
  } catch {
    return null;
  }
}

/** Newest modification time of the core's sources (null: no sources, e.g. an installed copy). */
async function newestSource(sources: URL): Promise<number | null> {
  let newest: number | null = null;
  try {
    for await (const entry of Deno.readDir(sources)) {
      if (!entry.isFile || !entry.name.endsWith(".ts")) continue;
      const t = await mtime(new URL(entry.name, sources));
      if (t !== null && (newest === null || t > newest)) newest = t;
    }
  } catch {
    return null;
  }
  return newest;
}

/** Whether build/policy.wasm (or `wasm`, built from the folder `sources`) must be (re)built. */
export async function policyStale(wasm: URL = WASM, sources: URL = SOURCES): Promise<boolean> {
  const built = await mtime(wasm);
  if (built === null) return true;
  const source = await newestSource(sources);
  return source !== null && source > built;
}

/** Builds the core when stale; throws an Error carrying the compiler's output when that fails. */
export async function ensurePolicyBuilt(log: (message: string) => void = () => {}): Promise<void> {
  if (!await policyStale()) return;
  log("building the policy core (deno task build:wasm)");
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "build:wasm"],
    cwd: decodeURIComponent(ROOT.pathname),
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (out.code !== 0) {
    const text = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
    throw new Error(`building the policy core failed:\n${text.trim()}`);
  }
}
