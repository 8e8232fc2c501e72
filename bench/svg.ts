/**
 * SVG charts drawn as text, with no browser and no dependency: bars (grouped or stacked), lines,
 * and a heat map. Every drawn value is also written as a label or a `data-value` attribute, so
 * that a figure can be checked against the numbers it was drawn from.
 */

const W = 720;
const H = 400;
const M = { top: 48, right: 170, bottom: 96, left: 64 };
const PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1"];

/** Escapes text for SVG content and attributes. */
function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(
    /"/g,
    "&quot;",
  );
}

/** A number as it is labelled (and as a test finds it again). */
export function label(x: number, digits = 2): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(digits);
}

function frame(title: string, body: string[], note?: string): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<title>${esc(title)}</title>`,
    `<rect x="0" y="0" width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${
      esc(title)
    }</text>`,
    ...body,
    note ? `<text x="${M.left}" y="${H - 8}" font-size="11" fill="#555">${esc(note)}</text>` : "",
    "</svg>",
  ].filter((l) => l !== "").join("\n") + "\n";
}

/** A "nice" axis maximum and tick step for values up to `max`. */
function ticks(max: number): { top: number; step: number } {
  if (!(max > 0)) return { top: 1, step: 0.25 };
  const raw = max / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * mag).find((s) => s >= raw)!;
  return { top: Math.ceil(max / step) * step, step };
}

function yAxis(top: number, step: number, name: string): string[] {
  const plotH = H - M.top - M.bottom;
  const out = [
    `<line x1="${M.left}" y1="${M.top}" x2="${M.left}" y2="${H - M.bottom}" stroke="#333"/>`,
    `<line x1="${M.left}" y1="${H - M.bottom}" x2="${W - M.right}" y2="${
      H - M.bottom
    }" stroke="#333"/>`,
    `<text transform="translate(16 ${M.top + plotH / 2}) rotate(-90)" text-anchor="middle">${
      esc(name)
    }</text>`,
  ];
  for (let v = 0; v <= top + 1e-9; v += step) {
    const y = H - M.bottom - (v / top) * plotH;
    out.push(
      `<line x1="${M.left - 4}" y1="${y}" x2="${W - M.right}" y2="${y}" stroke="#ddd"/>`,
      `<text x="${M.left - 8}" y="${y + 4}" text-anchor="end">${label(v)}</text>`,
    );
  }
  return out;
}

function legend(names: string[]): string[] {
  return names.flatMap((n, i) => [
    `<rect x="${W - M.right + 14}" y="${M.top + i * 20}" width="12" height="12" fill="${
      PALETTE[i % PALETTE.length]
    }"/>`,
    `<text x="${W - M.right + 32}" y="${M.top + i * 20 + 10}">${esc(n)}</text>`,
  ]);
}

export interface Series {
  name: string;
  values: number[];
}

/**
 * Bars: one group per category, one bar per series (grouped), or the series stacked in one bar.
 * A reference line (e.g. 1x) may be drawn across.
 */
export function bars(options: {
  title: string;
  categories: string[];
  series: Series[];
  yName: string;
  stacked?: boolean;
  reference?: number;
  note?: string;
  digits?: number;
}): string {
  const { categories, series } = options;
  const totals = categories.map((_, c) =>
    options.stacked
      ? series.reduce((a, s) => a + (s.values[c] ?? 0), 0)
      : Math.max(...series.map((s) => s.values[c] ?? 0))
  );
  const { top, step } = ticks(Math.max(...totals, options.reference ?? 0));
  const plotW = W - M.left - M.right, plotH = H - M.top - M.bottom;
  const groupW = plotW / Math.max(1, categories.length);
  const barW = options.stacked ? groupW * 0.6 : (groupW * 0.8) / Math.max(1, series.length);
  const body = yAxis(top, step, options.yName);
  const y = (v: number) => H - M.bottom - (v / top) * plotH;
  categories.forEach((cat, c) => {
    const x0 = M.left + c * groupW + (options.stacked ? groupW * 0.2 : groupW * 0.1);
    let base = 0;
    series.forEach((s, i) => {
      const v = s.values[c] ?? 0;
      const x = options.stacked ? x0 : x0 + i * barW;
      const y1 = y(base + v), y0 = y(base);
      body.push(
        `<rect x="${x.toFixed(1)}" y="${y1.toFixed(1)}" width="${barW.toFixed(1)}" height="${
          Math.max(0, y0 - y1).toFixed(1)
        }" fill="${PALETTE[i % PALETTE.length]}" data-series="${esc(s.name)}" data-category="${
          esc(cat)
        }" data-value="${label(v, 4)}"><title>${
          esc(`${cat}, ${s.name}: ${label(v, options.digits)}`)
        }</title></rect>`,
      );
      // a value label where it fits above its bar (the data-value carries it anyway)
      if (!options.stacked && barW >= 16) {
        body.push(
          `<text x="${(x + barW / 2).toFixed(1)}" y="${
            (y1 - 3).toFixed(1)
          }" text-anchor="middle" font-size="9">${label(v, options.digits)}</text>`,
        );
      }
      if (options.stacked) base += v;
    });
    body.push(
      `<text transform="translate(${(M.left + (c + 0.5) * groupW).toFixed(1)} ${
        H - M.bottom + 12
      }) rotate(30)" font-size="10">${esc(cat)}</text>`,
    );
  });
  if (options.reference !== undefined) {
    const yr = y(options.reference);
    body.push(
      `<line x1="${M.left}" y1="${yr}" x2="${
        W - M.right
      }" y2="${yr}" stroke="#e15759" stroke-dasharray="4 3"/>`,
    );
  }
  if (series.length > 1) body.push(...legend(series.map((s) => s.name)));
  return frame(options.title, body, options.note);
}

/** Lines over x = 1, 2, ... (one per series). */
export function lines(options: {
  title: string;
  series: Series[];
  xName: string;
  yName: string;
  note?: string;
}): string {
  const n = Math.max(1, ...options.series.map((s) => s.values.length));
  const { top, step } = ticks(Math.max(1, ...options.series.flatMap((s) => s.values)));
  const plotW = W - M.left - M.right, plotH = H - M.top - M.bottom;
  const x = (i: number) => M.left + (n === 1 ? 0 : (i / (n - 1)) * plotW);
  const y = (v: number) => H - M.bottom - (v / top) * plotH;
  const body = yAxis(top, step, options.yName);
  body.push(
    `<text x="${M.left + plotW / 2}" y="${H - M.bottom + 32}" text-anchor="middle">${
      esc(options.xName)
    }</text>`,
    `<text x="${M.left}" y="${H - M.bottom + 16}" text-anchor="middle">1</text>`,
    `<text x="${x(n - 1)}" y="${H - M.bottom + 16}" text-anchor="middle">${n}</text>`,
  );
  options.series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length];
    const points = s.values.map((v, j) => `${x(j).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
    body.push(
      `<polyline points="${points}" fill="none" stroke="${color}" stroke-width="1.5" data-series="${
        esc(s.name)
      }" data-values="${s.values.join(" ")}"/>`,
    );
    for (const [j, v] of s.values.entries()) {
      body.push(
        `<circle cx="${x(j).toFixed(1)}" cy="${y(v).toFixed(1)}" r="2" fill="${color}"><title>${
          esc(`${s.name}, round ${j + 1}: ${v}`)
        }</title></circle>`,
      );
    }
  });
  body.push(...legend(options.series.map((s) => s.name)));
  return frame(options.title, body, options.note);
}

/** A heat map of `values[row][col]`, each cell labelled. */
export function heatmap(options: {
  title: string;
  rows: string[];
  cols: string[];
  values: (number | null)[][];
  rowName: string;
  colName: string;
  note?: string;
}): string {
  const all = options.values.flat().filter((v): v is number => v !== null);
  const lo = Math.min(...all), hi = Math.max(...all);
  const left = M.left + 40; // room for the row labels beside the axis name
  const plotW = W - left - M.right, plotH = H - M.top - M.bottom;
  const cw = plotW / options.cols.length, ch = plotH / options.rows.length;
  const body: string[] = [
    `<text transform="translate(16 ${M.top + plotH / 2}) rotate(-90)" text-anchor="middle">${
      esc(options.rowName)
    }</text>`,
    `<text x="${left + plotW / 2}" y="${H - M.bottom + 36}" text-anchor="middle">${
      esc(options.colName)
    }</text>`,
  ];
  options.rows.forEach((r, i) => {
    body.push(
      `<text x="${left - 8}" y="${(M.top + (i + 0.5) * ch + 4).toFixed(1)}" text-anchor="end">${
        esc(r)
      }</text>`,
    );
    options.cols.forEach((_, j) => {
      const v = options.values[i][j];
      const t = v === null || hi === lo ? 0.5 : (v - lo) / (hi - lo);
      // white (low) to blue (high)
      const shade = (a: number, b: number) => Math.round(a + (b - a) * t);
      const fill = v === null
        ? "#eee"
        : `rgb(${shade(247, 33)},${shade(251, 102)},${shade(255, 172)})`;
      const x = left + j * cw, y = M.top + i * ch;
      body.push(
        `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${cw.toFixed(1)}" height="${
          ch.toFixed(1)
        }" fill="${fill}" stroke="white" data-value="${v === null ? "" : label(v, 4)}"/>`,
        `<text x="${(x + cw / 2).toFixed(1)}" y="${
          (y + ch / 2 + 4).toFixed(1)
        }" text-anchor="middle" fill="${t > 0.6 ? "white" : "black"}">${
          v === null ? "" : label(v)
        }</text>`,
      );
    });
  });
  options.cols.forEach((c, j) => {
    body.push(
      `<text x="${(left + (j + 0.5) * cw).toFixed(1)}" y="${
        H - M.bottom + 16
      }" text-anchor="middle">${esc(c)}</text>`,
    );
  });
  return frame(options.title, body, options.note);
}
