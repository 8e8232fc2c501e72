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

/** Writes `<name>.json` (data plus machine facts) and `<name>.md` atomically. */
export async function writeResults(name: string, data: unknown, markdown: string): Promise<void> {
  const dir = new URL("./results/", import.meta.url);
  await Deno.mkdir(dir, { recursive: true });
  const write = async (file: string, text: string) => {
    const tmp = new URL(`${file}.tmp`, dir);
    await Deno.writeTextFile(tmp, text);
    await Deno.rename(tmp, new URL(file, dir));
  };
  await write(
    `${name}.json`,
    JSON.stringify({ machine: machine(), ...data as object }, null, 2) + "\n",
  );
  await write(`${name}.md`, markdown + "\n");
  console.error(`wrote bench/results/${name}.json and .md`);
}
