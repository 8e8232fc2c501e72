/**
 * `deno task bench`: runs every benchmark in turn, each in its own process (so one's memory and
 * JIT state do not colour the next): policy core, forward passes per backend, strategies end to
 * end, and the server's streaming overhead. Arguments after `--` go to the strategy benchmark
 * (e.g. `deno task bench -- --count 10`); `--only policy,runtime,strategies,server,figures` picks
 * parts. Results land in bench/results/, the figures drawn from them in bench/results/figures/.
 */

import { parseArgs } from "node:util";

const parts = ["policy", "runtime", "strategies", "server"];
const { values: args, positionals: passOn } = parseArgs({
  args: Deno.args,
  options: { only: { type: "string" } },
  allowPositionals: true,
});
const only = args.only?.split(",") ?? [...parts, "figures"];
const unknown = only.filter((p) => ![...parts, "figures"].includes(p));
if (unknown.length) {
  console.error(
    `--only: unknown part ${unknown.join(", ")}; parts: ${[...parts, "figures"].join(",")}`,
  );
  Deno.exit(2);
}

let failed = 0;
for (const part of parts.filter((p) => only.includes(p))) {
  const file = new URL(`./${part}.ts`, import.meta.url);
  console.error(`\n== bench: ${part} ==`);
  const args = ["run", "-A", file.pathname, ...(part === "strategies" ? passOn : [])];
  const { code } = await new Deno.Command(Deno.execPath(), {
    args,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (code !== 0) {
    console.error(`bench ${part} failed with exit code ${code}`);
    failed++;
  }
}
// the figures, from whatever results the parts above left
if (only.includes("figures")) {
  console.error("\n== bench: figures ==");
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./figures.ts", import.meta.url).pathname],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (code !== 0) failed++;
}
Deno.exit(failed ? 1 : 0);
