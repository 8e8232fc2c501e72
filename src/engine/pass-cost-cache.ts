/**
 * A file that keeps profiled pass costs between processes, so that a one-shot command (the CLI)
 * or a restarted server does not spend its first half second profiling the same models on the
 * same machine again. Entries are keyed by everything that changes the costs (the model files'
 * sizes and times, backend, device, threads, quantization, the longest draft) and expire after a
 * day, since the machine's load changes too; in flight the costs are corrected as ever.
 *
 * A missing, unreadable or corrupt file is a cache miss (logged), never an error; writes go to a
 * temporary file renamed over the old one, so a crash leaves the old file or the new one.
 */

import type { Logger } from "../log.ts";
import { type CostProfile, RowCurve } from "./pass-costs.ts";

/** How long a profile is trusted. */
export const COST_CACHE_MAX_AGE_MS = 24 * 3600 * 1000;

/** Where profiles are kept and found. */
export interface CostCache {
  load(key: string): Promise<CostProfile | null>;
  save(key: string, profile: CostProfile): Promise<void>;
}

interface Entry {
  savedAt: number;
  verify: [number, number][];
  denoiseMs: number | null;
  arStepMs: number | null;
  roundMs: number;
}

const isMs = (x: unknown) => typeof x === "number" && Number.isFinite(x) && x >= 0;

/** The profile an entry holds, or null when the entry is not one. */
function fromEntry(e: unknown): CostProfile | null {
  if (e === null || typeof e !== "object") return null;
  const x = e as Partial<Entry>;
  if (!Array.isArray(x.verify) || x.verify.length === 0) return null;
  if (!x.verify.every((p) => Array.isArray(p) && p.length === 2 && isMs(p[0]) && isMs(p[1]))) {
    return null;
  }
  if (!(x.denoiseMs === null || isMs(x.denoiseMs))) return null;
  if (!(x.arStepMs === null || isMs(x.arStepMs))) return null;
  if (!isMs(x.roundMs)) return null;
  try {
    return {
      verify: new RowCurve(x.verify),
      denoiseMs: x.denoiseMs ?? null,
      arStepMs: x.arStepMs ?? null,
      roundMs: x.roundMs!,
      adaptive: true,
    };
  } catch {
    return null; // rows not increasing
  }
}

/** A cost cache in the JSON file at `path` (its folder is created when needed). */
export function fileCostCache(path: string, log: Logger, now = () => Date.now()): CostCache {
  const read = async (): Promise<Record<string, unknown>> => {
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) {
        log.warn("pass-cost cache unreadable", { path, err: e as Error });
      }
      return {};
    }
    try {
      const data = JSON.parse(text);
      if (data && typeof data === "object" && data.entries && typeof data.entries === "object") {
        return data.entries as Record<string, unknown>;
      }
    } catch {
      // fall through
    }
    log.warn("pass-cost cache is not a cache file; ignoring it", { path });
    return {};
  };
  return {
    async load(key) {
      const entry = (await read())[key] as Partial<Entry> | undefined;
      if (!entry || !isMs(entry.savedAt) || now() - entry.savedAt! > COST_CACHE_MAX_AGE_MS) {
        return null;
      }
      return fromEntry(entry);
    },
    async save(key, profile) {
      const entries = await read();
      // drop expired entries, so the file does not grow without bound
      for (const [k, e] of Object.entries(entries)) {
        const at = (e as Partial<Entry>)?.savedAt;
        if (!isMs(at) || now() - at! > COST_CACHE_MAX_AGE_MS) delete entries[k];
      }
      const entry: Entry = {
        savedAt: now(),
        verify: profile.verify.table.map(([r, ms]) => [r, ms]),
        denoiseMs: profile.denoiseMs,
        arStepMs: profile.arStepMs,
        roundMs: profile.roundMs,
      };
      entries[key] = entry;
      const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : ".";
      const tmp = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
      try {
        await Deno.mkdir(dir, { recursive: true });
        await Deno.writeTextFile(tmp, JSON.stringify({ version: 1, entries }, null, 1));
        await Deno.rename(tmp, path);
      } catch (e) {
        log.warn("pass-cost cache not written", { path, err: e as Error });
        await Deno.remove(tmp).catch(() => {});
      }
    },
  };
}
