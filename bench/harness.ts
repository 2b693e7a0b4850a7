/**
 * Timing: every case of one size and dtype (a group) is measured in rounds interleaved with the
 * floor (bench/floor.ts) on one and on two threads, so that load from other processes, which on a
 * shared machine comes and goes within seconds, falls on a case and on the floor it is compared
 * with alike. A round of a case is a few samples after one untimed sample; a case's time is the
 * median over rounds of its round medians, and its ratio to a floor is the median over rounds of
 * (its round median / the floor's round median in the same round).
 */

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Floor } from './floor.js';
import { othersShare, snapshot } from './load.js';

let collect: (() => void) | undefined;
/** A full garbage collection (run between cases, untimed; exposes V8's `gc` on first use). */
export function gc(): void {
  if (!collect) {
    setFlagsFromString('--expose-gc');
    collect = runInNewContext('gc') as () => void;
  }
  collect();
}

/** One thing timed in a group: a mode of optax-ts, a peer, or the floor. */
export interface Contender {
  /** Row label. */
  name: string;
  /**
   * Shown in the table's note column (kernel, threads, versions); a function is called after the
   * group is measured (an optimizer's thread count is known once its worker has started).
   */
  note?: string | (() => string);
  /** The name of a contender of the same group to report a per-round ratio to (`ratioTo`). */
  ratioTo?: string;
  /**
   * Runs one untimed sample (to warm the caches after the other cases ran), then `samples` timed
   * ones (fewer if they take longer than `budgetMs` in all, but at least 3), and returns their
   * times in ms per step.
   */
  round(samples: number, budgetMs: number): number[] | Promise<number[]>;
  /** Frees what the contender holds (called once, after the group). */
  dispose?(): void | Promise<void>;
}

/** The median of `xs` (the mean of the middle two for an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** A first sample longer than this (ms) counts as timed; see {@link local}. */
export const PRIME_MS = 20;
/**
 * Untimed stepping before a round's samples (ms): it warms the caches after the other cases ran
 * and gives the scheduler time to put a second thread (an optimizer's worker, the 2-thread
 * floor's) on the other core, where a woken worker does not always land at once.
 */
export const WARM_MS = 10;

/** A sample stops early, between two batches of 32 steps, once it has run this long (ms). */
export const SAMPLE_MS = 5;

/**
 * A contender that calls `step` synchronously, up to `batch` calls per sample (so that a sample of
 * a microsecond step is long enough to time), fewer when they pass {@link SAMPLE_MS}. Each round
 * first steps untimed for {@link WARM_MS}; but when its first sample took over {@link PRIME_MS},
 * that sample counts as a timed one and the warming stops there: the arrays are then far larger
 * than the caches, and a slow case (up to half a second a step) takes fewer steps.
 */
export function local(
  name: string,
  step: () => void,
  batch: number,
  extra: Partial<Pick<Contender, 'note' | 'ratioTo' | 'dispose'>> = {},
): Contender {
  /** Runs one sample; returns its ms per step and its length. */
  const sample = (): [number, number] => {
    const t = performance.now();
    let k = 0;
    let now = t;
    while (k < batch && now - t < SAMPLE_MS) {
      const end = Math.min(batch, k + 32);
      for (; k < end; k++) step();
      now = performance.now();
    }
    return [(now - t) / k, now - t];
  };
  return {
    name,
    ...extra,
    round(samples, budgetMs) {
      const out: number[] = [];
      const warm = performance.now();
      const [first, length] = sample();
      if (length > PRIME_MS) out.push(first);
      else while (performance.now() - warm < WARM_MS) sample();
      const start = performance.now();
      while (out.length < samples) {
        out.push(sample()[0]);
        if (performance.now() - start > budgetMs && out.length >= 3) break;
      }
      return out;
    },
  };
}

/** Steps per sample for `n` elements: about 1e5 elements per sample, at least one step. */
export const batchFor = (n: number) => Math.max(1, Math.round(1e5 / n));

/** Pause after each garbage collection, before a round (ms). */
const SETTLE_MS = 10;

/** One measured case of a group. */
export interface Measured {
  name: string;
  note?: string;
  /** Median over rounds of the round medians, ms per step. */
  ms: number;
  /** Each round's median, ms per step. */
  roundMs: number[];
  /** Median over rounds of (round median / the 1-thread floor's round median). */
  ratioFloor1: number;
  /** The same against the 2-thread floor. */
  ratioFloor2: number;
  /** The median of the 1-thread and the 2-thread floor's round medians in this group, ms. */
  floor1Ms: number;
  floor2Ms: number;
  /** With `ratioTo`: the per-round ratio to that contender, and its name. */
  ratioTo?: { name: string; ratio: number };
  /** The share of the machine's CPU time other processes used while the group ran (bench/load.ts). */
  othersCpu: number;
}

/** What {@link measureGroup} measures. */
export interface GroupSpec {
  /** Elements per step (the floor runs on this many, rounded up to a 64-byte multiple). */
  n: number;
  f32: boolean;
  contenders: Contender[];
  rounds: number;
  samples: number;
  /** Time limit of one contender's round (it still takes 3 samples). */
  budgetMs: number;
}

/**
 * Measures the contenders of one group in `rounds` rounds, each round the 1-thread floor, the
 * 2-thread floor, then every contender, with a garbage collection before each. Returns the floors
 * first (as `floor, 1 thread` and `floor, 2 threads`), then the contenders, and disposes them.
 */
export async function measureGroup(floor: Floor, spec: GroupSpec): Promise<Measured[]> {
  const floorN = floor.prepare(spec.n, spec.f32);
  const b = batchFor(floorN);
  const all: Contender[] = [
    local('floor, 1 thread', () => floor.step(), b, {
      note: floorN === spec.n ? 'wasm simd' : `wasm simd, ${floorN} elements`,
    }),
    local('floor, 2 threads', () => floor.step2(), b, {
      note: floorN === spec.n ? 'wasm simd + worker' : `wasm simd + worker, ${floorN} elements`,
    }),
    ...spec.contenders,
  ];
  const rounds: number[][] = all.map(() => []);
  const start = snapshot();
  for (let r = 0; r < spec.rounds; r++)
    for (const [i, c] of all.entries()) {
      gc();
      // Let V8's background threads finish what the collection left them (sweeping, freeing
      // array buffers), which would otherwise compete with this round's second thread.
      await new Promise((r) => setTimeout(r, SETTLE_MS));
      rounds[i]!.push(median(await c.round(spec.samples, spec.budgetMs)));
    }
  const othersCpu = othersShare(start, snapshot());
  for (const c of spec.contenders) await c.dispose?.();
  const [f1, f2] = rounds as [number[], number[]];
  const perRound = (xs: number[], ys: number[]) => median(xs.map((x, r) => x / ys[r]!));
  return all.map((c, i) => {
    const roundMs = rounds[i]!;
    const out: Measured = {
      name: c.name,
      ms: median(roundMs),
      roundMs,
      ratioFloor1: perRound(roundMs, f1),
      ratioFloor2: perRound(roundMs, f2),
      floor1Ms: median(f1),
      floor2Ms: median(f2),
      othersCpu,
    };
    if (c.note !== undefined) out.note = typeof c.note === 'function' ? c.note() : c.note;
    if (c.ratioTo !== undefined) {
      const j = all.findIndex((d) => d.name === c.ratioTo);
      if (j >= 0) out.ratioTo = { name: c.ratioTo, ratio: perRound(roundMs, rounds[j]!) };
    }
    return out;
  });
}
