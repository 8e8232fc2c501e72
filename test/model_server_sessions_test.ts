import assert from "node:assert/strict";
import { type ModelRole, SessionStore } from "../src/model-server/sessions.ts";
import type { KvCache } from "../src/runtime/types.ts";

/** A store on a clock the test moves, with sessions that count how often they were freed. */
function storeAt(options: { ttlMs?: number; max?: number } = {}) {
  let now = 1_000;
  const store = new SessionStore({
    ttlMs: options.ttlMs ?? 10_000,
    max: options.max ?? 8,
    now: () => now,
  });
  const freed = new Map<string, number>();
  const add = (model: ModelRole = "verifier", positions = 0) => {
    const s = store.add({
      model,
      cache: { length: positions } as unknown as KvCache,
      drafter: null,
      free: () => freed.set(s.id, (freed.get(s.id) ?? 0) + 1),
    });
    return s;
  };
  return {
    store,
    add,
    freed: (id: string) => freed.get(id) ?? 0,
    advance: (ms: number) => (now += ms),
  };
}

Deno.test("model-server sessions: a released id is 'released', one never issued 'unknown'", () => {
  const { store, add, freed } = storeAt();
  try {
    const s = add();
    assert.equal(store.get(s.id), s);
    assert.equal(store.release(s.id), true);
    assert.equal(freed(s.id), 1);
    assert.equal(store.get(s.id), "released");
    assert.equal(store.release(s.id), false, "a second release changes nothing");
    assert.equal(freed(s.id), 1);
    assert.equal(store.get(crypto.randomUUID()), "unknown");
  } finally {
    store.close();
  }
});

Deno.test("model-server sessions: the TTL frees idle sessions and spares busy ones", () => {
  const { store, add, freed, advance } = storeAt({ ttlMs: 100 });
  try {
    const idle = add();
    const busy = add();
    busy.busy = true;
    advance(101);
    assert.equal(store.sweep(), 1);
    assert.equal(store.get(idle.id), "released");
    assert.equal(freed(idle.id), 1);
    assert.equal(store.get(busy.id), busy, "a running call keeps its session");
    // the call ends: its session is used now, so the TTL counts from here
    store.settle(busy);
    advance(50);
    assert.equal(store.sweep(), 0);
    advance(51);
    assert.equal(store.sweep(), 1);
    assert.equal(freed(busy.id), 1);
  } finally {
    store.close();
  }
});

Deno.test("model-server sessions: a session released during its call is freed when it ends", () => {
  const { store, add, freed } = storeAt();
  try {
    const s = add();
    s.busy = true;
    assert.equal(store.release(s.id), true);
    assert.equal(freed(s.id), 0, "its cache is still in use");
    assert.equal(store.get(s.id), "released");
    store.settle(s);
    assert.equal(freed(s.id), 1);
    store.settle(s);
    assert.equal(freed(s.id), 1, "freed once");
  } finally {
    store.close();
  }
});

Deno.test("model-server sessions: the cap, the statistics by model, and close", () => {
  const { store, add, freed } = storeAt({ max: 3 });
  const a = add("verifier", 10);
  const b = add("verifier", 5);
  assert.equal(store.full, false);
  const c = add("drafter", 7);
  assert.equal(store.full, true);
  assert.equal(store.size, 3);
  assert.deepEqual(store.stats(), {
    verifier: { sessions: 2, positions: 15 },
    drafter: { sessions: 1, positions: 7 },
    "ar-drafter": { sessions: 0, positions: 0 },
  });
  store.release(b.id);
  assert.equal(store.full, false);
  store.close();
  assert.equal(store.size, 0);
  for (const s of [a, b, c]) assert.equal(freed(s.id), 1, "every session freed exactly once");
});

Deno.test("model-server sessions: released ids are remembered up to a bound", () => {
  const { store, add } = storeAt({ max: 10_000 });
  try {
    const first = add();
    store.release(first.id);
    for (let i = 0; i < 4096; i++) store.release(add().id);
    // the oldest tombstone made room for newer ones: its id now reads as never issued
    assert.equal(store.get(first.id), "unknown");
    assert.equal(store.size, 0);
  } finally {
    store.close();
  }
});
