/**
 * The demo page in headless Chromium (Debian's `chromium` through playwright-core): a prompt is
 * sent, the answer streams in as highlighted rounds with accepted/drafted labels and bars, and the
 * statistics table appears. A screenshot is written to build/test-output/server-ui.png.
 */
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { serve } from "../src/server/serve.ts";
import { FakeEngine } from "./helpers/fake-engine.ts";
import { silentLog, testConfig } from "./helpers/server.ts";

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = (() => {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
})();
if (!hasChromium) {
  console.error(
    `server ui: skipping the browser test: ${CHROMIUM} is absent (apt-get install -y chromium)`,
  );
}

Deno.test({
  name: "server ui: the page streams highlighted rounds and shows statistics (Chromium)",
  ignore: !hasChromium,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const engine = new FakeEngine({ roundDelayMs: 15, naturalLength: 80 });
    const server = serve({ config: testConfig(), log: silentLog, engine });
    const userDataDir = await Deno.makeTempDir({ prefix: "failfast-chromium-" });
    const context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
      viewport: { width: 1000, height: 760 },
    });
    try {
      const page = context.pages()[0] ?? await context.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(String(e)));
      await page.goto(server.url + "/");
      assert.match(await page.title(), /FailFast/);
      await page.selectOption("#strategy", "failfast");
      await page.click("#go");
      await page.waitForSelector("#stats-table", { timeout: 15_000 });
      const rounds = await page.locator("#out .round").count();
      const badges = await page.locator("#out .badge").allTextContents();
      const bars = await page.locator("#strip .bar").count();
      const text = await page.locator("#out").evaluate((el) =>
        [...el.querySelectorAll(".round")].map((s) => s.textContent).join("")
      );
      const stats = await page.locator("#stats-table").innerText();
      const dir = new URL("../build/test-output/", import.meta.url);
      await Deno.mkdir(dir, { recursive: true });
      const shot = decodeURIComponent(new URL("server-ui.png", dir).pathname);
      await page.screenshot({ path: shot, fullPage: true });
      console.log(`server ui: screenshot written to ${shot}`);
      assert.deepEqual(errors, []);
      assert.equal(text, engine.expectedText(engine.requests[0]));
      assert.equal(rounds, 7); // 10 + 15 + 1 + 3 + 31 + 10, then 10 of 15 (80 tokens)
      assert.equal(bars, 7);
      assert.deepEqual(badges.slice(0, 5), ["9/10", "14/20", "0/10", "2/10", "30/30"]);
      assert.match(stats, /strategy\s+failfast/);
      assert.match(stats, /rounds\s+7/);
      assert.match(stats, /acceptance rate/);
      assert.equal(engine.requests[0].strategy, "failfast");
    } finally {
      await context.close();
      await server.shutdown();
      await Deno.remove(userDataDir, { recursive: true }).catch(() => {});
    }
  },
});
