/**
 * The benchmark's figures, drawn from the committed results: each SVG is well-formed and carries
 * the numbers of the JSON it was drawn from.
 */
import assert from "node:assert/strict";
import { figures, type ResultRow } from "../bench/figures.ts";
import { MAIN_ROWS } from "../bench/main-rows.ts";
import { label } from "../bench/svg.ts";
import { checkXml } from "./helpers/xml.ts";

const read = async (name: string): Promise<ResultRow[]> =>
  JSON.parse(await Deno.readTextFile(new URL(`../bench/results/${name}.json`, import.meta.url)))
    .rows;

Deno.test("bench figures: every SVG parses and carries its JSON's numbers", async () => {
  const rows = await read("strategies");
  const sweep = await read("strategies-sweep");
  const figs = new Map(figures(rows, sweep).map((f) => [f.file, f.svg]));
  for (const [file, svg] of figs) {
    assert.doesNotThrow(() => checkXml(svg), file);
    assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/, file);
  }
  for (
    const f of [
      "accepted-length.svg",
      "draft-length.svg",
      "time-breakdown.svg",
      "modelled.svg",
      "sensitivity.svg",
    ]
  ) assert.ok(figs.has(f), `${f} drawn`);
  const byName = new Map(rows.map((r) => [r.name, r]));
  const main = MAIN_ROWS.filter((m) => byName.has(m.name)).map((m) => byName.get(m.name)!);
  const has = (file: string, value: number) =>
    assert.ok(
      figs.get(file)!.includes(`data-value="${label(value, 4)}"`),
      `${file} carries ${label(value, 4)}`,
    );
  for (const r of main) {
    has("modelled.svg", r.speedupFinished);
    for (const size of Object.keys(r.modelled)) has("modelled.svg", r.modelled[size]);
    for (const k of ["drafter", "verifier", "policy", "other"] as const) {
      has("time-breakdown.svg", r.share[k]);
    }
  }
  const ff = main[0];
  const total = ff.draftLengths.reduce((a, b) => a + b, 0);
  has("draft-length.svg", ff.draftLengths[0] / total);
  has("draft-length.svg", (ff.draftLengths[3] ?? 0) / total);
  const rounds = ff.acceptedLengths.reduce((a, b) => a + b, 0);
  has("accepted-length.svg", ff.acceptedLengths[1] / rounds);
  for (const r of sweep.filter((r) => /^failfast tau=[\d.]+ N_max=\d+$/.test(r.name))) {
    has("sensitivity.svg", r.speedupFinished);
  }
  if (ff.trace) {
    assert.ok(figs.get("accepted-per-round.svg")!.includes(`data-values="${ff.trace.accepted}"`));
  }
});

Deno.test("bench figures: the well-formedness check refuses broken documents", () => {
  for (
    const bad of [
      "<svg><g></svg>",
      "<svg>a < b</svg>",
      "<svg>R&D</svg>",
      '<svg><rect x=1 y="2"/></svg>',
      "<svg></svg><svg></svg>",
      "<svg>",
    ]
  ) assert.throws(() => checkXml(bad), Error, bad);
  checkXml('<svg a="1"><g><text>1 &lt; 2 &amp; 3</text><rect/></g></svg>');
});
