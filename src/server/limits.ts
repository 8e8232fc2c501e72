/**
 * Concurrency limit with a bounded FIFO queue: at most `maxConcurrent` generations run, at most
 * `maxQueue` wait; beyond that `acquire` throws `OverloadedError` (HTTP 429 with `Retry-After`,
 * estimated from recent generation times).
 */
import { OverloadedError } from "../errors.ts";

interface Waiter {
  resolve: (release: () => void) => void;
  reject: (e: unknown) => void;
}

/** Slots for generations, plus a bounded queue of waiters. */
export class Limiter {
  #active = 0;
  #queue: Waiter[] = [];
  /** Exponential moving average of slot hold times, in seconds. */
  #avgSeconds = 1;

  constructor(readonly maxConcurrent: number, readonly maxQueue: number) {}

  /** Generations holding a slot. */
  get active(): number {
    return this.#active;
  }

  /** Requests waiting for a slot. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Seconds a new request would likely wait, for `Retry-After` (at least 1). */
  retryAfterSeconds(): number {
    const waves = (this.#queue.length + 1) / this.maxConcurrent;
    return Math.max(1, Math.ceil(this.#avgSeconds * waves));
  }

  /**
   * Waits for a slot and returns its release function (call it exactly once; later calls are
   * ignored). Throws `OverloadedError` when the queue is full, or `signal.reason` when the
   * signal aborts while waiting.
   */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#active < this.maxConcurrent) {
      this.#active++;
      return Promise.resolve(this.#releaser());
    }
    if (this.#queue.length >= this.maxQueue) {
      return Promise.reject(
        new OverloadedError(
          `the server is at its limit of ${this.maxConcurrent} running and ${this.maxQueue} queued requests; retry later`,
          this.retryAfterSeconds(),
        ),
      );
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve: (release) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(release);
        },
        reject,
      };
      const onAbort = () => {
        const i = this.#queue.indexOf(waiter);
        if (i >= 0) this.#queue.splice(i, 1);
        reject(signal!.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#queue.push(waiter);
    });
  }

  #releaser(): () => void {
    const start = performance.now();
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const seconds = (performance.now() - start) / 1000;
      this.#avgSeconds = 0.8 * this.#avgSeconds + 0.2 * seconds;
      const next = this.#queue.shift();
      if (next) next.resolve(this.#releaser());
      else this.#active--;
    };
  }
}
