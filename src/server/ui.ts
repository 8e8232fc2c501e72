/**
 * The demo page served at `GET /`: one self-contained HTML document (no framework, no external
 * assets). A user types a prompt, picks a strategy and watches the answer stream in; each
 * speculation round is a highlighted span labelled `accepted/drafted`, a strip of bars shows
 * every round's draft length (grey) against its accepted length (green) — "fail fast, win big" —
 * and the request's statistics (`usage.speculative`) appear at the end. Tokens a context lookup
 * drafted (free drafts where the text repeats) are blue: a round is blue when most of what it
 * accepted came from a lookup, and each bar shows the lookup's share.
 */

/** What the page needs to know about the server. */
export interface PageOptions {
  modelName: string;
  strategy: string;
  strategies: string[];
  authRequired: boolean;
  maxTokens: number;
  /** The server's default for merging a context lookup into drafts. */
  lookup: boolean;
  /** The benchmark figures the server serves at /figures/ (file names). */
  figures?: string[];
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

/** Links to the benchmark's figures, when the server has them. */
function figureLinks(names: string[]): string {
  if (names.length === 0) return "";
  const links = names.map((n) =>
    `<a href="/figures/${encodeURIComponent(n)}">${escapeHtml(n.replace(/\.svg$/, ""))}</a>`
  );
  return `<p class="sub">Benchmark figures: ${links.join(" · ")}</p>`;
}

/** The page's HTML. */
export function renderPage(options: PageOptions): string {
  const opts = options.strategies.map((s) =>
    `<option value="${escapeHtml(s)}"${s === options.strategy ? " selected" : ""}>${
      escapeHtml(s)
    }</option>`
  ).join("");
  const config = JSON.stringify({ model: options.modelName }).replace(/</g, "\\u003c");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>FailFast · ${escapeHtml(options.modelName)}</title>
<style>
  :root { --acc: #1f9d55; --look: #2f6fd0; --draft: #c9ccd1; --ink: #1d2329; --muted: #6b7480; }
  * { box-sizing: border-box; }
  body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink);
    max-width: 960px; margin: 0 auto; padding: 20px; background: #fafbfc; }
  h1 { font-size: 22px; margin: 0 0 4px; }
  .sub { color: var(--muted); margin: 0 0 16px; }
  textarea { width: 100%; min-height: 90px; font: inherit; padding: 8px; border: 1px solid #ccd;
    border-radius: 6px; }
  .row { display: flex; flex-wrap: wrap; gap: 12px; align-items: center; margin: 10px 0; }
  label { color: var(--muted); font-size: 13px; }
  select, input { font: inherit; padding: 3px 6px; }
  input[type=number] { width: 80px; }
  button { font: inherit; padding: 6px 18px; border: 0; border-radius: 6px; background: var(--ink);
    color: #fff; cursor: pointer; }
  button:disabled { opacity: .5; cursor: default; }
  #out { white-space: pre-wrap; background: #fff; border: 1px solid #e1e4e8; border-radius: 6px;
    padding: 12px; min-height: 120px; font: 15px/1.9 ui-monospace, SFMono-Regular, Menlo, monospace; }
  .round { border-radius: 3px; }
  .a0 { background: transparent; box-shadow: inset 0 -2px 0 #e5b3b3; }
  .a1 { background: rgba(31,157,85,.14); }
  .a2 { background: rgba(31,157,85,.28); }
  .a3 { background: rgba(31,157,85,.45); }
  .l1 { background: rgba(47,111,208,.14); }
  .l2 { background: rgba(47,111,208,.28); }
  .l3 { background: rgba(47,111,208,.45); }
  .badge { font: 10px/1 system-ui, sans-serif; color: var(--muted); vertical-align: super;
    margin: 0 2px; }
  .nolabels .badge { display: none; }
  #strip { display: flex; align-items: flex-end; gap: 3px; height: 100px; margin: 12px 0 4px;
    border-bottom: 1px solid #ccd; overflow-x: auto; }
  .bar { position: relative; width: 12px; flex: none; background: var(--draft); border-radius: 2px 2px 0 0; }
  .bar > i { position: absolute; left: 0; right: 0; bottom: 0; background: var(--acc);
    border-radius: 2px 2px 0 0; }
  .bar > i > b { position: absolute; left: 0; right: 0; bottom: 0; background: var(--look); }
  .legend { color: var(--muted); font-size: 12px; }
  .legend b { display: inline-block; width: 10px; height: 10px; margin: 0 4px 0 10px; }
  table { border-collapse: collapse; margin-top: 12px; font-size: 14px; }
  td { padding: 2px 14px 2px 0; } td:first-child { color: var(--muted); }
  .err { color: #b3261e; }
</style>
</head>
<body>
<h1>FailFast speculative decoding</h1>
<p class="sub">Model <b>${escapeHtml(options.modelName)}</b>. A diffusion drafter proposes, the
model verifies: short drafts where it is hard (fail fast), long ones where it is easy (win big).
Highlighted spans are rounds; the label is <i>accepted/drafted</i>; blue ones were drafted for
free by a lookup where the text repeats itself.</p>
${figureLinks(options.figures ?? [])}
<textarea id="prompt" placeholder="Ask something">Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. How many clips did Natalia sell altogether in April and May?</textarea>
<div class="row">
  <label>strategy <select id="strategy">${opts}</select></label>
  <label>max tokens <input id="max" type="number" min="1" max="${options.maxTokens}" value="${
    Math.min(200, options.maxTokens)
  }"></label>
  <label>temperature <input id="temp" type="number" min="0" max="2" step="0.1" value="0"></label>
  <label><input id="lookup" type="checkbox"${
    options.lookup ? " checked" : ""
  }> lookup drafts</label>
  <label><input id="chat" type="checkbox" checked> chat template</label>
  <label><input id="labels" type="checkbox" checked> round labels</label>
  ${options.authRequired ? '<label>API key <input id="key" type="password" size="16"></label>' : ""}
  <button id="go">Generate</button>
</div>
<div id="out"></div>
<div id="strip" aria-label="rounds: drafted (grey) and accepted (green)"></div>
<div class="legend"><b style="background:var(--draft)"></b>drafted<b style="background:var(--acc)"></b>accepted
  <b style="background:var(--look)"></b>accepted, from a lookup · one bar per round</div>
<div id="stats"></div>
<script>
const CONFIG = ${config};
const $ = (id) => document.getElementById(id);
let controller = null;
$("labels").onchange = () => $("out").classList.toggle("nolabels", !$("labels").checked);
$("go").onclick = async () => {
  if (controller) { controller.abort(); return; }
  const out = $("out"), strip = $("strip"), stats = $("stats");
  out.textContent = ""; strip.textContent = ""; stats.textContent = "";
  const chat = $("chat").checked, prompt = $("prompt").value;
  const body = {
    model: CONFIG.model, stream: true, stream_options: { include_usage: true },
    max_tokens: Number($("max").value), temperature: Number($("temp").value),
    failfast: { strategy: $("strategy").value, lookup: $("lookup").checked },
  };
  if (chat) body.messages = [{ role: "user", content: prompt }]; else body.prompt = prompt;
  const headers = { "content-type": "application/json" };
  if ($("key") && $("key").value) headers.authorization = "Bearer " + $("key").value;
  controller = new AbortController();
  $("go").textContent = "Stop";
  const t0 = performance.now();
  let ttft = null, maxDraft = 1, rounds = [], usage = null, finish = null;
  try {
    const res = await fetch(chat ? "/v1/chat/completions" : "/v1/completions",
      { method: "POST", headers, body: JSON.stringify(body), signal: controller.signal });
    if (!res.ok) {
      const e = await res.json().catch(() => ({}));
      throw new Error((e.error && e.error.message) || res.status + " " + res.statusText);
    }
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buf += value;
      let cut;
      while ((cut = buf.indexOf("\\n\\n")) >= 0) {
        const block = buf.slice(0, cut); buf = buf.slice(cut + 2);
        if (!block.startsWith("data: ")) continue;
        const data = block.slice(6);
        if (data === "[DONE]") continue;
        const msg = JSON.parse(data);
        if (msg.error) throw new Error(msg.error.message);
        if (msg.usage) usage = msg.usage;
        const c = msg.choices && msg.choices[0];
        if (!c) continue;
        if (c.finish_reason) finish = c.finish_reason;
        const text = chat ? (c.delta && c.delta.content) : c.text;
        if (!text) continue;
        if (ttft === null) ttft = performance.now() - t0;
        const ff = c.failfast || { drafted: 0, accepted_draft: 0, accepted_lookup: 0, tokens: 1 };
        rounds.push(ff);
        const span = document.createElement("span");
        const a = ff.accepted_draft, look = ff.accepted_lookup || 0;
        const hue = 2 * look > a ? "l" : "a";
        span.className = "round " + (ff.drafted === 0 ? "" : a === 0 ? "a0" : hue + (a < 4 ? 1 : a < 10 ? 2 : 3));
        span.title = "drafted " + ff.drafted + ", accepted " + a + (look ? " (" + look + " from a lookup)" : "") +
          ", emitted " + ff.tokens + " tokens";
        span.textContent = text;
        out.appendChild(span);
        if (ff.drafted > 0) {
          const badge = document.createElement("span");
          badge.className = "badge";
          badge.textContent = a + "/" + ff.drafted;
          out.appendChild(badge);
          maxDraft = Math.max(maxDraft, ff.drafted);
          const bar = document.createElement("div");
          bar.className = "bar";
          bar.dataset.drafted = ff.drafted;
          bar.dataset.accepted = a;
          bar.dataset.lookup = look;
          bar.title = span.title;
          const inner = document.createElement("i");
          inner.appendChild(document.createElement("b"));
          bar.appendChild(inner);
          strip.appendChild(bar);
          for (const b of strip.children) {
            b.style.height = (100 * b.dataset.drafted / maxDraft) + "%";
            b.firstChild.style.height = (100 * b.dataset.accepted / b.dataset.drafted) + "%";
            const share = Number(b.dataset.accepted) ? b.dataset.lookup / b.dataset.accepted : 0;
            b.firstChild.firstChild.style.height = (100 * share) + "%";
          }
        }
      }
    }
    const ms = performance.now() - t0;
    if (usage) showStats(usage, ms, ttft, finish);
  } catch (e) {
    if (e.name !== "AbortError") {
      const p = document.createElement("p"); p.className = "err"; p.textContent = "Error: " + e.message;
      stats.appendChild(p);
    }
  } finally {
    controller = null;
    $("go").textContent = "Generate";
  }
};
function showStats(u, ms, ttft, finish) {
  const s = u.speculative || {};
  const rows = [
    ["strategy", s.strategy],
    ["completion tokens", u.completion_tokens + " (prompt " + u.prompt_tokens + ")"],
    ["rounds", s.rounds],
    ["mean accepted length", s.mean_accepted_length + " tokens per round"],
    ["acceptance rate", (100 * (s.acceptance_rate || 0)).toFixed(1) + "% (" + s.accepted_tokens + " of " + s.drafted_tokens + " drafted)"],
    ["longest accepted draft", s.max_accepted],
    ["accepted by source", s.accepted_by_source ? "drafter " + s.accepted_by_source.drafter +
      " · context lookup " + s.accepted_by_source.context + " · earlier outputs " + s.accepted_by_source.history : "-"],
    ["drafter passes per round", s.drafter_passes_per_round],
    ["time", (ms / 1000).toFixed(2) + " s, first token " + (ttft === null ? "-" : (ttft / 1000).toFixed(2) + " s")],
    ["speed", (u.completion_tokens / (ms / 1000)).toFixed(1) + " tokens/s"],
    ["finish reason", finish],
  ];
  const table = document.createElement("table");
  table.id = "stats-table";
  for (const [k, v] of rows) {
    const tr = table.insertRow();
    tr.insertCell().textContent = k;
    tr.insertCell().textContent = v === undefined ? "-" : String(v);
  }
  $("stats").appendChild(table);
}
</script>
</body>
</html>
`;
}
