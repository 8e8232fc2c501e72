import assert from "node:assert/strict";
import { OverloadedError } from "../src/errors.ts";
import { Limiter } from "../src/server/limits.ts";

Deno.test("limits: slots are handed out in arrival order, and a full queue is refused", async () => {
  const limiter = new Limiter(2, 2);
  const first = await limiter.acquire();
  const second = await limiter.acquire();
  assert.equal(limiter.active, 2);
  const order: string[] = [];
  const third = limiter.acquire().then((release) => (order.push("third"), release));
  const fourth = limiter.acquire().then((release) => (order.push("fourth"), release));
  assert.equal(limiter.queued, 2);
  await assert.rejects(limiter.acquire(), (e: unknown) => {
    assert.ok(e instanceof OverloadedError);
    assert.match(e.message, /2 running and 2 queued/);
    assert.ok(e.retryAfterSeconds >= 1);
    return true;
  });
  first();
  first(); // a second call of the same release frees nothing more
  const releaseThird = await third;
  assert.deepEqual(order, ["third"]);
  assert.equal(limiter.active, 2, "the freed slot went to the waiter, not back to the pool");
  second();
  const releaseFourth = await fourth;
  assert.deepEqual(order, ["third", "fourth"]);
  releaseThird();
  releaseFourth();
  assert.equal(limiter.active, 0);
  assert.equal(limiter.queued, 0);
});

Deno.test("limits: a waiter whose signal aborts leaves the queue with the signal's reason", async () => {
  const limiter = new Limiter(1, 4);
  const held = await limiter.acquire();
  const ac = new AbortController();
  const waiting = limiter.acquire(ac.signal);
  const behind = limiter.acquire();
  assert.equal(limiter.queued, 2);
  ac.abort(new Error("client went away"));
  await assert.rejects(waiting, /client went away/);
  assert.equal(limiter.queued, 1);
  held();
  const release = await behind; // the slot skips the aborted waiter
  assert.equal(limiter.active, 1);
  release();
  assert.equal(limiter.active, 0);
  await assert.rejects(limiter.acquire(AbortSignal.abort(new Error("already"))), /already/);
  assert.equal(limiter.active, 0, "an aborted signal takes no slot");
});
