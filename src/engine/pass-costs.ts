/**
 * What forward passes cost, for the draft-length controller (draft-controller.ts).
 *
 * A verify pass over r rows: on a GPU nearly flat in r (the paper's latency model), on a CPU
 * growing with r. `profilePassCosts` measures the curve once per engine at start (rows 1, 2, 4,
 * ... up to the longest draft, on the engine's own sessions); in flight the engine feeds every
 * pass it times back, and each kind of pass keeps a correction factor, an exponential moving
 * average of measured over profiled time. The factor absorbs what a profile cannot see: the
 * machine's load, and that a verify pass right after a drafter pass runs slower (the cores'
 * thread pools and caches were the drafter's). A verify pass's factor is kept per band of rows
 * as well (1, 2-3, 4-7, ...): a profile's few timings can be off at one end of the curve, and the
 * price of a plain step (one row) against a draft's decides whether drafting pays at all.
 */

import type { ModelSession } from "../runtime/types.ts";

/** Kinds of pass the controller prices. */
export type PassKind = "verify" | "verifyAfterDraft" | "denoise" | "arStep" | "round";

/** Weight of the newest observation in the moving averages. */
const EMA = 0.05;

/** A piecewise-linear cost curve over rows, from measured points. */
export class RowCurve {
  constructor(private readonly points: readonly [rows: number, ms: number][]) {
    if (points.length === 0) throw new RangeError("a cost curve needs at least one point");
    for (let i = 1; i < points.length; i++) {
      if (points[i][0] <= points[i - 1][0]) throw new RangeError("cost points must grow in rows");
    }
  }

  /** Cost of a pass over `rows` rows (extrapolated from the last two points beyond them). */
  at(rows: number): number {
    const p = this.points;
    if (p.length === 1 || rows <= p[0][0]) return p[0][1];
    for (let i = 1; i < p.length; i++) {
      if (rows <= p[i][0] || i === p.length - 1) {
        const [r0, m0] = p[i - 1], [r1, m1] = p[i];
        return Math.max(0, m0 + (m1 - m0) * (rows - r0) / (r1 - r0));
      }
    }
    return p[p.length - 1][1];
  }

  /** The measured points. */
  get table(): readonly [number, number][] {
    return this.points;
  }
}

/** Profiled costs: a verify curve and one drafter pass of each kind. */
export interface CostProfile {
  verify: RowCurve;
  /** One denoising pass of the block-diffusion drafter (null: no such drafter). */
  denoiseMs: number | null;
  /** One step of the AR drafter (null: no such drafter). */
  arStepMs: number | null;
  /** Engine work per round outside the passes (policy, streaming), ms. */
  roundMs: number;
  /** false: the costs are constants (a latency model) and in-flight timings do not move them. */
  adaptive: boolean;
  /**
   * What each call to the runtime adds to its pass, live (a remote runtime's round trip):
   * added to every pass's price, and taken out of observed timings before they correct the
   * profile. Absent: 0.
   */
  callMs?: () => number;
}

/** The paper's latency model (A6000, vLLM): a flat verifier step and a 6.1 ms drafter pass. */
export function paperCosts(verifierStepMs = 52.6, drafterPassMs = 6.1): CostProfile {
  return {
    verify: new RowCurve([[1, verifierStepMs]]),
    denoiseMs: drafterPassMs,
    arStepMs: drafterPassMs,
    roundMs: 0,
    adaptive: false,
  };
}

/**
 * Live costs of one engine: the profile, corrected by what passes take in flight. Shared by the
 * engine's requests (one machine, one load).
 */
export class PassCosts {
  private readonly factor: Record<PassKind, number> = {
    verify: 1,
    verifyAfterDraft: 1,
    denoise: 1,
    arStep: 1,
    round: 1,
  };

  /** Verify factors per band of rows (rowBand); a band not yet timed uses its kind's factor. */
  private readonly bandFactor: Record<"verify" | "verifyAfterDraft", number[]> = {
    verify: [],
    verifyAfterDraft: [],
  };

  constructor(readonly profile: CostProfile) {}

  /** A verify pass over `rows` rows, after a drafter pass or not. */
  verifyMs(rows: number, afterDraft: boolean): number {
    const kind = afterDraft ? "verifyAfterDraft" : "verify";
    const factor = this.bandFactor[kind][rowBand(rows)] ?? this.factor[kind];
    return this.profile.verify.at(rows) * factor + this.callMs();
  }

  /** A drafter pass, without its call (a draft pays one call for all its passes). */
  denoiseMs(): number {
    return (this.profile.denoiseMs ?? Infinity) * this.factor.denoise;
  }

  arStepMs(): number {
    return (this.profile.arStepMs ?? Infinity) * this.factor.arStep;
  }

  /** What one call to the runtime adds (0 in process). */
  callMs(): number {
    return this.profile.callMs?.() ?? 0;
  }

  roundMs(): number {
    return this.profile.roundMs * this.factor.round;
  }

  /** Records a timed pass (`rows` for verify passes) into the moving correction factors. */
  observe(kind: PassKind, ms: number, rows = 1): void {
    if (!this.profile.adaptive || !Number.isFinite(ms) || ms <= 0) return;
    const base = kind === "verify" || kind === "verifyAfterDraft"
      ? this.profile.verify.at(rows)
      : kind === "denoise"
      ? this.profile.denoiseMs
      : kind === "arStep"
      ? this.profile.arStepMs
      : this.profile.roundMs;
    if (!base || !Number.isFinite(base)) return;
    // a verify timing includes its call; callers take the call out of drafter timings (one call
    // serves a whole draft)
    const call = kind === "verify" || kind === "verifyAfterDraft" ? this.callMs() : 0;
    const ratio = Math.min(10, Math.max(0.1, (ms - call) / base));
    if (kind === "verify" || kind === "verifyAfterDraft") {
      // a band starts from its kind's factor, the best guess before its own timings
      const bands = this.bandFactor[kind];
      const band = bands[rowBand(rows)] ?? this.factor[kind];
      bands[rowBand(rows)] = band + EMA * (ratio - band);
    }
    this.factor[kind] += EMA * (ratio - this.factor[kind]);
  }

  /** The current correction factors (for statistics and tests). */
  get factors(): Readonly<Record<PassKind, number>> {
    return this.factor;
  }
}

/** A verify pass's band of rows: 0 for 1 row, 1 for 2-3, 2 for 4-7, ... */
function rowBand(rows: number): number {
  return 31 - Math.clz32(Math.max(1, rows));
}

/** Median of a few timings (the upper one of an even count). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

/**
 * Profiles the verifier's pass by rows (1, 2, 4, ... up to `maxRows`) and one pass of each
 * drafter, on the engine's own sessions, with `past` cached positions (a typical context). Takes
 * a few hundred passes: well under a second for small models.
 */
export async function profilePassCosts(
  sessions: {
    verifier: ModelSession;
    drafter: ModelSession | null;
    arDrafter: ModelSession | null;
  },
  options: { maxRows: number; past?: number; reps?: number },
): Promise<CostProfile> {
  const reps = options.reps ?? 7;
  const v = sessions.verifier;
  const past = Math.min(options.past ?? 128, Math.floor(v.config.maxPositions / 2));
  const filler = (n: number, at = 0) =>
    Array.from({ length: n }, (_, i) => 10 + (at + i * 7) % Math.max(1, v.config.vocabSize - 20));
  const rowsList: number[] = [];
  const maxRows = Math.max(1, Math.min(options.maxRows, v.config.maxPositions - past));
  for (let r = 1; r < maxRows; r *= 2) rowsList.push(r);
  rowsList.push(maxRows);
  const cache = v.createCache();
  const times = new Map<number, number[]>(rowsList.map((r) => [r, []]));
  try {
    await v.forward(cache, filler(past), { commit: true, lastRows: 1 });
    for (let rep = 0; rep < reps + 1; rep++) {
      for (const r of rowsList) {
        const res = await v.forward(cache, filler(r, rep), { commit: true });
        if (rep > 0) times.get(r)!.push(res.timing.totalMs); // the first round warms up
        v.truncate(cache, past);
      }
    }
  } finally {
    v.release(cache);
  }
  const verify = new RowCurve(rowsList.map((r) => [r, median(times.get(r)!)]));

  const drafterPass = async (s: ModelSession | null, window: number, rows: number) => {
    if (!s) return null;
    const c = s.createCache();
    const ts: number[] = [];
    try {
      const start = Math.min(past, Math.floor(s.config.maxPositions / 2));
      const blockStart = s.config.blockSize
        ? Math.floor(start / s.config.blockSize) * s.config.blockSize
        : start;
      await s.forward(c, filler(blockStart), { commit: true, lastRows: 1 });
      for (let rep = 0; rep < reps + 1; rep++) {
        const res = await s.forward(c, filler(window, rep), { commit: false, lastRows: rows });
        if (rep > 0) ts.push(res.timing.totalMs);
      }
    } finally {
      s.release(c);
    }
    return median(ts);
  };
  const S = sessions.drafter?.config.subBlockSize ?? 8;
  return {
    verify,
    denoiseMs: await drafterPass(sessions.drafter, 2 * S, S),
    arStepMs: await drafterPass(sessions.arDrafter, 1, 1),
    roundMs: 0.2 * verify.at(1),
    adaptive: true,
  };
}
