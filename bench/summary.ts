/**
 * The README's table of current figures, from the strategy benchmark's results: the main rows'
 * speed-up over `ar` on GSM8K (greedy and at temperature 0.7), on HumanEval's prompts and on the
 * project's own prompts outside the training domain, each measured in its own interleaved run,
 * over the answers that end before the token cap (an answer looping to the cap is trivially easy
 * to draft and would flatter every row).
 * Prints Markdown; a result file that is missing leaves its column empty.
 *
 *   deno run -A bench/summary.ts
 */

import { MAIN_ROWS } from "./main-rows.ts";
import { readRows } from "./results.ts";

interface ResultRow {
  name: string;
  /** Speed-up over ar on the answers that end before the token cap. */
  speedupFinished: number;
  meanAccepted: number;
  maxAcceptedFinished: number;
}

const RUNS: { file: string; title: string }[] = [
  { file: "strategies", title: "GSM8K" },
  { file: "strategies-t0.7", title: "GSM8K, T = 0.7" },
  { file: "strategies-humaneval", title: "HumanEval prompts" },
  { file: "strategies-general", title: "general prompts" },
];

async function load(file: string): Promise<Map<string, ResultRow> | null> {
  const rows = await readRows<ResultRow>(new URL(`./results/${file}.json`, import.meta.url));
  return rows && new Map(rows.map((r) => [r.name, r]));
}

const runs = await Promise.all(RUNS.map((r) => load(r.file)));
const main = runs[0];
const lines = [
  `| strategy | ${
    RUNS.map((r) => r.title).join(" | ")
  } | tokens per round (GSM8K) | longest accepted draft (GSM8K) |`,
  `|---|${RUNS.map(() => "---").join("|")}|---|---|`,
];
for (const { name, label } of MAIN_ROWS) {
  const cells = runs.map((run) => {
    const r = run?.get(name);
    return r ? `${r.speedupFinished.toFixed(2)}x` : "-";
  });
  const m = main?.get(name);
  lines.push(
    `| ${label} | ${cells.join(" | ")} | ${m ? m.meanAccepted.toFixed(2) : "-"} | ${
      m ? m.maxAcceptedFinished : "-"
    } |`,
  );
}
console.log(lines.join("\n"));
