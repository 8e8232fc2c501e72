/**
 * The model server's sessions: a KV cache (and, for a drafter session, the drafter built beside
 * it) per id, created by a remote engine for one request and freed by it, by an idle TTL, or at
 * shutdown. The number of live sessions is capped; released ids are remembered for a while, so a
 * late call on one is told "released" (409) rather than "unknown" (404).
 */

import type { Drafter } from "../engine/drafter.ts";
import type { DrafterSpec } from "../engine/drafter-spec.ts";
import type { ExtendDecision } from "../engine/drafter.ts";
import type { KvCache } from "../runtime/types.ts";

export const MODEL_ROLES = ["verifier", "drafter", "ar-drafter"] as const;
export type ModelRole = typeof MODEL_ROLES[number];

/** How many released ids are remembered. */
const TOMBSTONES = 4096;

export interface Session {
  readonly id: string;
  readonly model: ModelRole;
  readonly cache: KvCache;
  /** A drafter session's drafter and the context it has been sent; null for a pass session. */
  readonly drafter: {
    drafter: Drafter;
    spec: DrafterSpec;
    context: number[];
    /** This call's extension decision (from the controller's rule it carried), or none. */
    extend: ExtendDecision | null;
  } | null;
  lastUsed: number;
  /** A call is running on it (a second one at once is refused; the TTL skips it). */
  busy: boolean;
  /** Released while busy: freed when its call ends (settle). */
  releasing?: boolean;
  /** Frees its cache (and drafter). */
  readonly free: () => void;
}

export type Lookup = Session | "unknown" | "released";

export class SessionStore {
  private readonly live = new Map<string, Session>();
  private readonly released = new Set<string>();
  private readonly timer: ReturnType<typeof setInterval>;

  constructor(
    private readonly options: { ttlMs: number; max: number; now?: () => number },
  ) {
    // Swept a few times per TTL, so a session outlives its TTL by a quarter of it at most.
    this.timer = setInterval(() => this.sweep(), Math.max(50, Math.min(1000, options.ttlMs / 4)));
    // the sweeper alone does not keep a process alive
    (globalThis as { Deno?: { unrefTimer?(id: number): void } }).Deno?.unrefTimer?.(
      this.timer as unknown as number,
    );
  }

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  get size(): number {
    return this.live.size;
  }

  get full(): boolean {
    return this.live.size >= this.options.max;
  }

  add(session: Omit<Session, "id" | "lastUsed" | "busy">): Session {
    const s: Session = { ...session, id: crypto.randomUUID(), lastUsed: this.now(), busy: false };
    this.live.set(s.id, s);
    return s;
  }

  get(id: string): Lookup {
    const s = this.live.get(id);
    if (s) return s;
    return this.released.has(id) ? "released" : "unknown";
  }

  /** Frees a session; returns false when it was not live. */
  release(id: string): boolean {
    const s = this.live.get(id);
    if (!s) return false;
    this.live.delete(id);
    this.released.add(id);
    if (this.released.size > TOMBSTONES) {
      this.released.delete(this.released.values().next().value!);
    }
    if (s.busy) s.releasing = true; // its running call still uses the cache
    else s.free();
    return true;
  }

  /** Called when a session's call ends: frees it if it was released meanwhile. */
  settle(s: Session): void {
    s.busy = false;
    s.lastUsed = this.now();
    if (s.releasing) {
      s.releasing = false;
      s.free();
    }
  }

  /** Frees every session idle for longer than the TTL; returns how many. */
  sweep(): number {
    const limit = this.now() - this.options.ttlMs;
    let n = 0;
    for (const s of [...this.live.values()]) {
      if (!s.busy && s.lastUsed < limit && this.release(s.id)) n++;
    }
    return n;
  }

  /** Live sessions and the positions their caches hold, by model. */
  stats(): Record<ModelRole, { sessions: number; positions: number }> {
    const out = Object.fromEntries(
      MODEL_ROLES.map((m) => [m, { sessions: 0, positions: 0 }]),
    ) as Record<ModelRole, { sessions: number; positions: number }>;
    for (const s of this.live.values()) {
      out[s.model].sessions++;
      out[s.model].positions += s.cache.length;
    }
    return out;
  }

  /** Frees every session and stops the sweeper. */
  close(): void {
    clearInterval(this.timer);
    for (const id of [...this.live.keys()]) this.release(id);
  }
}
