/**
 * Draws the benchmark's figures as SVG from its result files (no browser needed):
 *   accepted-per-round.svg  accepted draft tokens per round along one generation
 *   accepted-length.svg     tokens emitted per round, histogram per strategy
 *   draft-length.svg        FailFast's draft lengths under the controller
 *   sensitivity.svg         speed-up over tau x N_max (the sweep)
 *   time-breakdown.svg      where time goes: drafter, verifier, policy, other, per strategy
 *   modelled.svg            measured speed-up next to the paper's latency model's
 * Reads bench/results/strategies.json (and strategies-sweep.json when present); writes
 * bench/results/figures/ (or --out DIR). `deno task bench` runs it last.
 *
 *   deno run -A bench/figures.ts [--results DIR] [--out DIR]
 */
import { parseArgs } from "node:util";
import { MAIN_ROWS } from "./main-rows.ts";
import { readRows, writeAtomic } from "./results.ts";
import { bars, heatmap, label, lines } from "./svg.ts";

/** What a figure reads of a strategy row (bench/strategies.ts's Row). */
export interface ResultRow {
  name: string;
  params?: Record<string, unknown>;
  speedupFinished: number;
  acceptedLengths: number[];
  draftLengths: number[];
  share: { drafter: number; verifier: number; policy: number; other: number };
  modelled: Record<string, number>;
  /** The first question's rounds: draft tokens proposed and accepted in each (space-separated). */
  trace?: { drafted: string; accepted: string };
}

export interface Figure {
  file: string;
  svg: string;
}

/** The share of all counts in each bin of a histogram; the last bin also holds what is beyond. */
function shares(counts: number[], bins: number[]): number[] {
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const total = sum(counts) || 1;
  const last = bins[bins.length - 1];
  return bins.map((n) => (n === last ? sum(counts.slice(n)) : counts[n] ?? 0) / total);
}

const byName = (rows: ResultRow[]) => new Map(rows.map((r) => [r.name, r]));

/** The main rows present in a run, with their short labels. */
function mainRows(rows: ResultRow[]): { short: string; row: ResultRow }[] {
  const found = byName(rows);
  return MAIN_ROWS.flatMap((m) =>
    found.has(m.name) ? [{ short: m.short, row: found.get(m.name)! }] : []
  );
}

/** Every figure of a run's rows (and of a sweep's, when given). */
export function figures(rows: ResultRow[], sweep: ResultRow[] | null): Figure[] {
  const main = mainRows(rows);
  const out: Figure[] = [];
  const counts = (s: string) => s.trim() === "" ? [] : s.trim().split(/\s+/).map(Number);
  const traced = main.filter((m) => m.row.trace && counts(m.row.trace.accepted).length > 0)
    .slice(0, 3);
  if (traced.length > 0) {
    out.push({
      file: "accepted-per-round.svg",
      svg: lines({
        title: "Accepted draft tokens per round, one GSM8K answer",
        series: traced.map((m) => ({ name: m.short, values: counts(m.row.trace!.accepted) })),
        xName: "round",
        yName: "accepted draft tokens",
        note: "The first benchmark question; a long run of accepted tokens is a long draft won.",
      }),
    });
  }
  const lengthRows = main.slice(0, 5);
  const maxLen = Math.min(
    16,
    Math.max(...lengthRows.map((m) => m.row.acceptedLengths.length - 1)),
  );
  const lengths = Array.from({ length: maxLen }, (_, i) => i + 1);
  out.push({
    file: "accepted-length.svg",
    svg: bars({
      title: "Tokens emitted per round (share of rounds)",
      categories: lengths.map((n) => n === maxLen ? `${n}+` : String(n)),
      series: lengthRows.map((m) => ({
        name: m.short,
        values: shares(m.row.acceptedLengths, lengths),
      })),
      yName: "share of rounds",
      digits: 2,
      note: "1 = the verifier's own token only (no draft token accepted).",
    }),
  });
  const ff = main[0];
  if (ff) {
    const counts = ff.row.draftLengths;
    const cap = Math.min(counts.length - 1, 40);
    const ks = Array.from({ length: cap + 1 }, (_, k) => k);
    out.push({
      file: "draft-length.svg",
      svg: bars({
        title: `Draft length chosen per round: ${ff.short}`,
        categories: ks.map((k) => k === cap && counts.length - 1 > cap ? `${k}+` : String(k)),
        series: [{ name: ff.short, values: shares(counts, ks) }],
        yName: "share of rounds",
        digits: 2,
        note: "0 = a plain decoding step (the controller expected no draft to pay).",
      }),
    });
  }
  out.push({
    file: "time-breakdown.svg",
    svg: bars({
      title: "Where the time goes (share of wall time)",
      categories: main.map((m) => m.short),
      series: (["drafter", "verifier", "policy", "other"] as const).map((k) => ({
        name: k,
        values: main.map((m) => m.row.share[k]),
      })),
      yName: "share of wall time",
      stacked: true,
    }),
  });
  const sizes = Object.keys(main[0]?.row.modelled ?? {});
  out.push({
    file: "modelled.svg",
    svg: bars({
      title: "Speed-up over ar: measured here, and modelled with the paper's latencies",
      categories: main.map((m) => m.short),
      series: [
        { name: "measured (this CPU)", values: main.map((m) => m.row.speedupFinished) },
        ...sizes.map((size) => ({
          name: `modelled, ${size} verifier`,
          values: main.map((m) => m.row.modelled[size]),
        })),
      ],
      yName: "speed-up over ar",
      reference: 1,
      note: "Modelled: the same rounds priced with the paper's A6000 pass latencies.",
    }),
  });
  const grid = (sweep ?? []).filter((r) =>
    /^failfast tau=[\d.]+ N_max=\d+$/.test(r.name) && r.params
  );
  if (grid.length > 0) {
    const taus = [...new Set(grid.map((r) => Number(r.params!.tau)))].sort((a, b) => a - b);
    const caps = [...new Set(grid.map((r) => Number(r.params!.nMax)))].sort((a, b) => a - b);
    const cell = (tau: number, cap: number) =>
      grid.find((r) => Number(r.params!.tau) === tau && Number(r.params!.nMax) === cap)
        ?.speedupFinished ?? null;
    out.push({
      file: "sensitivity.svg",
      svg: heatmap({
        title: "FailFast's speed-up over ar by tau and N_max (N0 = N = 10)",
        rows: taus.map((t) => `tau ${label(t)}`),
        cols: caps.map((c) => `N_max ${c}`),
        values: taus.map((t) => caps.map((c) => cell(t, c))),
        rowName: "stop threshold tau",
        colName: "draft cap N_max",
      }),
    });
  }
  return out;
}

if (import.meta.main) {
  const { values: args } = parseArgs({
    args: Deno.args,
    options: {
      results: { type: "string", default: new URL("./results/", import.meta.url).pathname },
      out: { type: "string" },
    },
  });
  const dir = args.results!.replace(/\/?$/, "/");
  const outDir = (args.out ?? `${dir}figures`).replace(/\/?$/, "/");
  const rows = await readRows<ResultRow>(`${dir}strategies.json`);
  if (!rows) {
    console.error(`no ${dir}strategies.json: run deno task bench:strategies first`);
    Deno.exit(1);
  }
  await Deno.mkdir(outDir, { recursive: true });
  for (const f of figures(rows, await readRows<ResultRow>(`${dir}strategies-sweep.json`))) {
    await writeAtomic(`${outDir}${f.file}`, f.svg);
    console.error(`wrote ${f.file}`);
  }
}
