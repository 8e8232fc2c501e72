// Profiled pass costs kept between processes: round trip, expiry, corrupt files, engine use.
import assert from "node:assert/strict";
import { FailFastEngine } from "../src/engine/engine.ts";
import {
  COST_CACHE_MAX_AGE_MS,
  type CostCache,
  fileCostCache,
} from "../src/engine/pass-cost-cache.ts";
import { type CostProfile, RowCurve } from "../src/engine/pass-costs.ts";
import { Logger } from "../src/log.ts";
import { testEngine } from "./helpers/engine.ts";

const log = new Logger("silent");
const profile = (): CostProfile => ({
  verify: new RowCurve([[1, 3.1], [2, 3.2], [8, 4.4]]),
  denoiseMs: 1.2,
  arStepMs: null,
  roundMs: 0.5,
  adaptive: true,
});

Deno.test("pass-cost cache: a saved profile loads back under its key, and expires", async () => {
  const dir = await Deno.makeTempDir();
  try {
    let now = 1_000_000;
    const cache = fileCostCache(`${dir}/sub/costs.json`, log, () => now);
    assert.equal(await cache.load("a"), null, "nothing yet");
    await cache.save("a", profile());
    await cache.save("b", { ...profile(), denoiseMs: 9 });
    const got = (await cache.load("a"))!;
    assert.deepEqual(got.verify.table, profile().verify.table);
    assert.equal(got.denoiseMs, 1.2);
    assert.equal(got.arStepMs, null);
    assert.equal((await cache.load("b"))!.denoiseMs, 9);
    assert.equal(await cache.load("c"), null);
    const files = [...Deno.readDirSync(`${dir}/sub`)].map((e) => e.name);
    assert.deepEqual(files, ["costs.json"], "no temporary file is left behind");
    now += COST_CACHE_MAX_AGE_MS + 1;
    assert.equal(await cache.load("a"), null, "a day later the machine may have changed");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pass-cost cache: a corrupt or foreign file is a miss, and is replaced on save", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/costs.json`;
    const cache = fileCostCache(path, log);
    for (const text of ["{not json", "[1, 2]", '{"entries": {"a": {"savedAt": 1e99}}}']) {
      await Deno.writeTextFile(path, text);
      assert.equal(await cache.load("a"), null, text);
    }
    await Deno.writeTextFile(
      path,
      JSON.stringify({
        entries: { a: { ...profile(), savedAt: Date.now(), verify: [[2, 1], [1, 2]] } },
      }),
    );
    assert.equal(await cache.load("a"), null, "rows that do not grow are not a curve");
    await cache.save("a", profile());
    assert.ok(await cache.load("a"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "pass-cost cache: an engine takes a cached profile instead of profiling, and saves a new one",
  sanitizeResources: false,
  async fn() {
    const { parts, config, sessions } = await testEngine();
    const saved: CostProfile[] = [];
    const stored = profile();
    const hit: CostCache = {
      load: () => Promise.resolve(stored),
      save: (_k, p) => Promise.resolve(void saved.push(p)),
    };
    const cached = new FailFastEngine(parts, config, log, {
      owns: "none",
      costCache: { cache: hit, key: "k" },
    });
    assert.equal((await cached.passCosts()).profile, stored, "no profile was run");
    assert.equal(saved.length, 0);
    const miss: CostCache = { load: () => Promise.resolve(null), save: hit.save };
    const fresh = new FailFastEngine(parts, config, log, {
      owns: "none",
      costCache: { cache: miss, key: "k" },
    });
    const costs = await fresh.passCosts();
    assert.equal(saved.length, 1, "the profile it ran is saved");
    assert.equal(saved[0], costs.profile);
    assert.ok(costs.profile.verify.table.length >= 2);
    await Promise.all(sessions.map((s) => s.close()));
  },
});
