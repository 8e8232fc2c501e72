/** Shared helpers of the benchmarks: statistics and writing bench/results/<name>.{json,md}. */

/** Median of a non-empty list. */
export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Machine facts recorded next to every result (figures only compare within one run). */
export function machine(): Record<string, unknown> {
  return {
    date: new Date().toISOString(),
    deno: Deno.version.deno,
    os: Deno.build.os,
    arch: Deno.build.arch,
    cpus: navigator.hardwareConcurrency,
  };
}

/** Writes a file through a temporary one, so a reader never sees half of it. */
export async function writeAtomic(path: string | URL, text: string): Promise<void> {
  const tmp = `${path instanceof URL ? path.pathname : path}.tmp`;
  await Deno.writeTextFile(tmp, text);
  await Deno.rename(tmp, path);
}

/** The `rows` of a result file, or null when there is no such file. */
export async function readRows<Row>(path: string | URL): Promise<Row[] | null> {
  try {
    return JSON.parse(await Deno.readTextFile(path)).rows as Row[];
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

/** Writes `<name>.json` (data plus machine facts) and `<name>.md` atomically. */
export async function writeResults(name: string, data: unknown, markdown: string): Promise<void> {
  const dir = new URL("./results/", import.meta.url);
  await Deno.mkdir(dir, { recursive: true });
  await writeAtomic(
    new URL(`${name}.json`, dir),
    JSON.stringify({ machine: machine(), ...data as object }, null, 2) + "\n",
  );
  await writeAtomic(new URL(`${name}.md`, dir), markdown + "\n");
  console.error(`wrote bench/results/${name}.json and .md`);
}
