/**
 * Step-size schedules, following the definitions of optax's `optax.schedules`.
 *
 * Every factory validates its arguments eagerly and throws a `TypeError` (wrong type) or a
 * `RangeError` (value out of range) whose message names the function, the parameter, the value
 * received and what was expected.
 *
 * Every returned {@link Schedule} accepts any numeric step count except `NaN` (which throws a
 * `RangeError`). Counts below zero, including `-Infinity`, are treated as `0`; fractional counts
 * are allowed and evaluated with the same formula as whole ones; `+Infinity` yields the limiting
 * value of the schedule.
 *
 * @module
 */

import type { Schedule } from './schedule-types.js';

// ---------------------------------------------------------------------------
// Validation helpers
// ---------------------------------------------------------------------------

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'function') return 'a function';
  return String(value);
}

function requireNumber(fn: string, name: string, value: unknown, expected: string): number {
  if (typeof value !== 'number') {
    throw new TypeError(`${fn}: ${name} must be ${expected}, got ${show(value)}`);
  }
  return value;
}

function finite(fn: string, name: string, value: unknown): number {
  const v = requireNumber(fn, name, value, 'a finite number');
  if (!Number.isFinite(v)) throw new RangeError(`${fn}: ${name} must be a finite number, got ${v}`);
  return v;
}

function positiveFinite(fn: string, name: string, value: unknown): number {
  const expected = 'a finite number > 0';
  const v = requireNumber(fn, name, value, expected);
  if (!Number.isFinite(v) || v <= 0) {
    throw new RangeError(`${fn}: ${name} must be ${expected}, got ${v}`);
  }
  return v;
}

function positiveInteger(fn: string, name: string, value: unknown): number {
  const expected = 'a positive integer';
  const v = requireNumber(fn, name, value, expected);
  if (!Number.isInteger(v) || v <= 0) {
    throw new RangeError(`${fn}: ${name} must be ${expected}, got ${v}`);
  }
  return v;
}

function nonNegativeInteger(fn: string, name: string, value: unknown): number {
  const expected = 'a non-negative integer';
  const v = requireNumber(fn, name, value, expected);
  if (!Number.isInteger(v) || v < 0) {
    throw new RangeError(`${fn}: ${name} must be ${expected}, got ${v}`);
  }
  return v;
}

function fraction(fn: string, name: string, value: unknown): number {
  const expected = 'a number in [0, 1]';
  const v = requireNumber(fn, name, value, expected);
  if (!(v >= 0 && v <= 1)) throw new RangeError(`${fn}: ${name} must be ${expected}, got ${v}`);
  return v;
}

function boolean(fn: string, name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') {
    throw new TypeError(`${fn}: ${name} must be a boolean, got ${show(value)}`);
  }
  return value;
}

function optionsObject(fn: string, name: string, value: unknown): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`${fn}: ${name} must be an options object, got ${show(value)}`);
  }
}

/** Validates a step count given to a schedule: `NaN` throws, negative counts become `0`. */
function checkedCount(fn: string, count: unknown): number {
  const c = requireNumber(fn, 'count', count, 'a number');
  if (Number.isNaN(c)) {
    throw new RangeError(`${fn}: count must be a number that is not NaN, got NaN`);
  }
  return Math.max(c, 0);
}

/** Wraps an unchecked schedule so that its count is validated and clamped at zero. */
function guarded(fn: string, raw: Schedule): Schedule {
  return (count) => raw(checkedCount(fn, count));
}

const BOUNDARY_KEY = /^(0|[1-9]\d*)$/;

/** Parses `{ step: scale }` into ascending boundaries and their scales. */
function parseBoundariesAndScales(
  fn: string,
  value: unknown,
): { boundaries: number[]; scales: number[] } {
  if (value === undefined) return { boundaries: [], scales: [] };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(
      `${fn}: boundariesAndScales must be an object mapping steps to scales, got ${show(value)}`,
    );
  }
  const entries: Array<[number, number]> = [];
  for (const [key, scale] of Object.entries(value)) {
    if (!BOUNDARY_KEY.test(key)) {
      throw new RangeError(
        `${fn}: boundariesAndScales keys must be non-negative integer steps, got ${show(key)}`,
      );
    }
    const name = `boundariesAndScales[${key}]`;
    const expected = 'a finite number >= 0';
    const s = requireNumber(fn, name, scale, expected);
    if (!Number.isFinite(s) || s < 0) {
      throw new RangeError(`${fn}: ${name} must be ${expected}, got ${s}`);
    }
    entries.push([Number(key), s]);
  }
  entries.sort((a, b) => a[0] - b[0]);
  return { boundaries: entries.map((e) => e[0]), scales: entries.map((e) => e[1]) };
}

// ---------------------------------------------------------------------------
// Unchecked builders (arguments already validated, counts already >= 0)
// ---------------------------------------------------------------------------

function constantRaw(value: number): Schedule {
  return () => value;
}

function polynomialRaw(
  initValue: number,
  endValue: number,
  power: number,
  transitionSteps: number,
  transitionBegin: number,
): Schedule {
  return (count) => {
    const t = Math.min(Math.max(count - transitionBegin, 0), transitionSteps);
    const frac = 1 - t / transitionSteps;
    return (initValue - endValue) * frac ** power + endValue;
  };
}

function exponentialRaw(
  initValue: number,
  transitionSteps: number,
  decayRate: number,
  transitionBegin: number,
  staircase: boolean,
  endValue: number | undefined,
): Schedule {
  const clip = decayRate < 1 ? Math.max : Math.min;
  return (count) => {
    const shifted = count - transitionBegin;
    let p = shifted / transitionSteps;
    if (staircase) p = Math.floor(p);
    // `1 ** Infinity` is NaN in JavaScript; a rate of 1 never changes the value.
    let value = shifted <= 0 || decayRate === 1 ? initValue : initValue * decayRate ** p;
    if (endValue !== undefined) value = clip(value, endValue);
    return value;
  };
}

function cosineDecayRaw(
  initValue: number,
  decaySteps: number,
  alpha: number,
  exponent: number,
): Schedule {
  return (count) => {
    const t = Math.min(count, decaySteps);
    const cosine = 0.5 * (1 + Math.cos((Math.PI * t) / decaySteps));
    return initValue * ((1 - alpha) * cosine ** exponent + alpha);
  };
}

type Interpolate = (start: number, end: number, pct: number) => number;

const linearInterpolate: Interpolate = (start, end, pct) => (end - start) * pct + start;

const cosineInterpolate: Interpolate = (start, end, pct) =>
  end + ((start - end) / 2) * (Math.cos(Math.PI * pct) + 1);

/** `boundaries` ascending, non-negative; `scales` the same length. */
function piecewiseInterpolateRaw(
  interpolate: Interpolate,
  initValue: number,
  boundaries: readonly number[],
  scales: readonly number[],
): Schedule {
  const bounds = [0, ...boundaries];
  const values = [initValue];
  for (const scale of scales) values.push(values[values.length - 1]! * scale);
  const last = bounds.length - 1;
  return (count) => {
    if (count >= bounds[last]!) return values[last]!;
    // bounds[0] = 0 <= count, so the loop always returns.
    let i = last - 1;
    while (i > 0 && bounds[i]! > count) i--;
    const lo = bounds[i]!;
    const pct = (count - lo) / Math.max(bounds[i + 1]! - lo, 1);
    return interpolate(values[i]!, values[i + 1]!, pct);
  };
}

/** `boundaries` ascending, length `schedules.length - 1`. */
function joinRaw(schedules: readonly Schedule[], boundaries: readonly number[]): Schedule {
  return (count) => {
    for (let i = boundaries.length - 1; i >= 0; i--) {
      const boundary = boundaries[i]!;
      if (count >= boundary) return schedules[i + 1]!(count - boundary);
    }
    return schedules[0]!(count);
  };
}

// ---------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------

/**
 * A schedule that returns `value` at every step.
 *
 * @param value - Any finite number.
 * @example
 * ```ts
 * const lr = constantSchedule(0.1);
 * lr(0); // 0.1
 * lr(1000); // 0.1
 * ```
 */
export function constantSchedule(value: number): Schedule {
  const fn = 'constantSchedule';
  return guarded(fn, constantRaw(finite(fn, 'value', value)));
}

/** Options of {@link polynomialSchedule}. */
export interface PolynomialScheduleOptions {
  /** Value held until `transitionBegin`. */
  initValue: number;
  /** Value reached at `transitionBegin + transitionSteps` and held afterwards. */
  endValue: number;
  /** Exponent of the polynomial, a finite number > 0 (`1` is linear). */
  power: number;
  /** Length of the transition, a positive integer. */
  transitionSteps: number;
  /** Steps to wait before the transition starts, a non-negative integer. Defaults to `0`. */
  transitionBegin?: number;
}

/**
 * Polynomial transition from `initValue` to `endValue`.
 *
 * With `t = clamp(count - transitionBegin, 0, transitionSteps)` the value is
 * `(initValue - endValue) * (1 - t / transitionSteps) ** power + endValue`.
 *
 * Unlike optax, a `transitionSteps <= 0` or a negative `transitionBegin` throws instead of being
 * silently replaced (by a constant schedule, or by `0`); use {@link constantSchedule} for a
 * constant.
 *
 * @example
 * ```ts
 * const lr = polynomialSchedule({ initValue: 1, endValue: 0.01, power: 2, transitionSteps: 100, transitionBegin: 5 });
 * lr(5); // 1
 * lr(6); // ≈ 0.980299
 * lr(105); // 0.01
 * ```
 */
export function polynomialSchedule(options: PolynomialScheduleOptions): Schedule {
  const fn = 'polynomialSchedule';
  optionsObject(fn, 'options', options);
  return guarded(fn, polynomialFrom(fn, options));
}

function polynomialFrom(fn: string, o: PolynomialScheduleOptions): Schedule {
  return polynomialRaw(
    finite(fn, 'initValue', o.initValue),
    finite(fn, 'endValue', o.endValue),
    positiveFinite(fn, 'power', o.power),
    positiveInteger(fn, 'transitionSteps', o.transitionSteps),
    nonNegativeInteger(fn, 'transitionBegin', o.transitionBegin ?? 0),
  );
}

/** Options of {@link linearSchedule}. */
export type LinearScheduleOptions = Omit<PolynomialScheduleOptions, 'power'>;

/**
 * Linear transition from `initValue` to `endValue` over `transitionSteps` steps, starting at
 * `transitionBegin`; the same as {@link polynomialSchedule} with `power: 1`.
 *
 * @example
 * ```ts
 * const lr = linearSchedule({ initValue: 1, endValue: 0, transitionSteps: 10 });
 * lr(0); // 1
 * lr(5); // 0.5
 * lr(50); // 0
 * ```
 */
export function linearSchedule(options: LinearScheduleOptions): Schedule {
  const fn = 'linearSchedule';
  optionsObject(fn, 'options', options);
  return guarded(fn, polynomialFrom(fn, { ...options, power: 1 }));
}

/**
 * Piecewise constant schedule: `initValue` multiplied by the scale of every boundary that the
 * count has reached (`count >= boundary`).
 *
 * @param initValue - Value before the first boundary, a finite number.
 * @param boundariesAndScales - `{ step: scale }`; steps are non-negative integers, scales finite
 *   numbers `>= 0`. Omitted or empty gives a constant schedule.
 * @example
 * ```ts
 * const lr = piecewiseConstantSchedule(1, { 100: 0.1, 200: 0.1 });
 * lr(99); // 1
 * lr(100); // 0.1
 * lr(200); // ≈ 0.01
 * ```
 */
export function piecewiseConstantSchedule(
  initValue: number,
  boundariesAndScales?: Record<number, number>,
): Schedule {
  const fn = 'piecewiseConstantSchedule';
  const init = finite(fn, 'initValue', initValue);
  const { boundaries, scales } = parseBoundariesAndScales(fn, boundariesAndScales);
  return guarded(fn, (count) => {
    let value = init;
    for (let i = 0; i < boundaries.length && count >= boundaries[i]!; i++) value *= scales[i]!;
    return value;
  });
}

/** Options of {@link exponentialDecay}. */
export interface ExponentialDecayOptions {
  /** Value held until `transitionBegin`. */
  initValue: number;
  /** Steps over which the value is multiplied by `decayRate` once, a positive integer. */
  transitionSteps: number;
  /** Multiplicative factor per `transitionSteps` steps, a finite number > 0. */
  decayRate: number;
  /** Steps to wait before decaying, a non-negative integer. Defaults to `0`. */
  transitionBegin?: number;
  /** Decay in whole multiples of `transitionSteps` (a staircase). Defaults to `false`. */
  staircase?: boolean;
  /**
   * Bound at which the decay stops: a lower bound when `decayRate < 1`, otherwise an upper bound.
   * The bound applies at every count, including before `transitionBegin`.
   */
  endValue?: number;
}

/**
 * Exponential decay: `initValue * decayRate ** p` where
 * `p = (count - transitionBegin) / transitionSteps` (floored when `staircase`), and `initValue`
 * while `count <= transitionBegin`; the result is then clipped at `endValue` when given.
 *
 * Unlike optax, a `transitionSteps <= 0`, a `decayRate` of `0` (or below) and a negative
 * `transitionBegin` throw instead of falling back to a constant schedule or to `0`.
 *
 * @example
 * ```ts
 * const lr = exponentialDecay({ initValue: 1, transitionSteps: 10, decayRate: 0.5, staircase: true });
 * lr(9); // 1
 * lr(10); // 0.5
 * lr(25); // 0.25
 * ```
 */
export function exponentialDecay(options: ExponentialDecayOptions): Schedule {
  const fn = 'exponentialDecay';
  optionsObject(fn, 'options', options);
  return guarded(fn, exponentialFrom(fn, options));
}

function exponentialFrom(fn: string, o: ExponentialDecayOptions): Schedule {
  return exponentialRaw(
    finite(fn, 'initValue', o.initValue),
    positiveInteger(fn, 'transitionSteps', o.transitionSteps),
    positiveFinite(fn, 'decayRate', o.decayRate),
    nonNegativeInteger(fn, 'transitionBegin', o.transitionBegin ?? 0),
    boolean(fn, 'staircase', o.staircase ?? false),
    o.endValue === undefined ? undefined : finite(fn, 'endValue', o.endValue),
  );
}

/** Options of {@link cosineDecaySchedule}. */
export interface CosineDecayScheduleOptions {
  /** Value at count 0. */
  initValue: number;
  /** Length of the decay, a positive integer; the value is held afterwards. */
  decaySteps: number;
  /** Final multiplier of `initValue`, a finite number. Defaults to `0`. */
  alpha?: number;
  /** Exponent applied to the cosine factor, a finite number > 0. Defaults to `1`. */
  exponent?: number;
}

/**
 * Cosine decay: with `t = min(count, decaySteps)` and
 * `c = 0.5 * (1 + cos(pi * t / decaySteps))`, the value is
 * `initValue * ((1 - alpha) * c ** exponent + alpha)`.
 *
 * @example
 * ```ts
 * const lr = cosineDecaySchedule({ initValue: 2, decaySteps: 10 });
 * lr(0); // 2
 * lr(5); // ≈ 1
 * lr(10); // 0
 * ```
 */
export function cosineDecaySchedule(options: CosineDecayScheduleOptions): Schedule {
  const fn = 'cosineDecaySchedule';
  optionsObject(fn, 'options', options);
  return guarded(
    fn,
    cosineDecayRaw(
      finite(fn, 'initValue', options.initValue),
      positiveInteger(fn, 'decaySteps', options.decaySteps),
      finite(fn, 'alpha', options.alpha ?? 0),
      positiveFinite(fn, 'exponent', options.exponent ?? 1),
    ),
  );
}

/**
 * Piecewise schedule that interpolates between accumulated values. The value at boundary `b_k`
 * is `initValue` times the product of the scales of all boundaries up to and including `b_k`;
 * between consecutive boundaries (starting from step 0) the value moves from one accumulated
 * value to the next, linearly or along a half cosine, and after the last boundary it is held.
 *
 * @param interpolateType - `'linear'` or `'cosine'`.
 * @param initValue - Value at count 0, a finite number.
 * @param boundariesAndScales - `{ step: scale }`; steps are non-negative integers, scales finite
 *   numbers `>= 0`.
 * @example
 * ```ts
 * const lr = piecewiseInterpolateSchedule('linear', 1, { 4: 0.1, 8: 0.01 });
 * lr(2); // 0.55
 * lr(4); // 0.1
 * lr(6); // 0.0505
 * ```
 */
export function piecewiseInterpolateSchedule(
  interpolateType: 'linear' | 'cosine',
  initValue: number,
  boundariesAndScales?: Record<number, number>,
): Schedule {
  const fn = 'piecewiseInterpolateSchedule';
  const interpolate = interpolatorFor(fn, interpolateType);
  const init = finite(fn, 'initValue', initValue);
  const { boundaries, scales } = parseBoundariesAndScales(fn, boundariesAndScales);
  return guarded(fn, piecewiseInterpolateRaw(interpolate, init, boundaries, scales));
}

function interpolatorFor(fn: string, type: unknown): Interpolate {
  if (type === 'linear') return linearInterpolate;
  if (type === 'cosine') return cosineInterpolate;
  const message = `${fn}: interpolateType must be 'linear' or 'cosine', got ${show(type)}`;
  throw typeof type === 'string' ? new RangeError(message) : new TypeError(message);
}

/** Options of {@link linearOnecycleSchedule}. */
export interface LinearOnecycleScheduleOptions {
  /** Length of the whole cycle, a positive integer. */
  transitionSteps: number;
  /** Value reached at the end of the first phase, a finite number. */
  peakValue: number;
  /** Fraction of the cycle spent rising to `peakValue`, in [0, 1]. Defaults to `0.3`. */
  pctStart?: number;
  /** Fraction of the cycle at which the value is back at its start, in [0, 1]. Defaults to `0.85`. */
  pctFinal?: number;
  /** The cycle starts at `peakValue / divFactor`, a finite number > 0. Defaults to `25`. */
  divFactor?: number;
  /** The cycle ends at `peakValue / divFactor / finalDivFactor`, a finite number > 0. Defaults to `1e4`. */
  finalDivFactor?: number;
}

/**
 * One-cycle schedule with three linear phases, from step 0 to `floor(pctStart * transitionSteps)`
 * rising from `peakValue / divFactor` to `peakValue`, then to `floor(pctFinal * transitionSteps)`
 * falling back to `peakValue / divFactor`, then to `transitionSteps` falling to
 * `peakValue / divFactor / finalDivFactor`, which is held afterwards.
 *
 * The three phase ends must be strictly increasing, so `transitionSteps` must be large enough for
 * the given fractions (optax silently drops a phase when two of them coincide).
 *
 * @example
 * ```ts
 * const lr = linearOnecycleSchedule({ transitionSteps: 100, peakValue: 1 });
 * lr(0); // 0.04
 * lr(30); // 1
 * lr(85); // 0.04
 * lr(100); // 0.000004
 * ```
 */
export function linearOnecycleSchedule(options: LinearOnecycleScheduleOptions): Schedule {
  const fn = 'linearOnecycleSchedule';
  optionsObject(fn, 'options', options);
  const steps = positiveInteger(fn, 'transitionSteps', options.transitionSteps);
  const peak = finite(fn, 'peakValue', options.peakValue);
  const pctStart = fraction(fn, 'pctStart', options.pctStart ?? 0.3);
  const pctFinal = fraction(fn, 'pctFinal', options.pctFinal ?? 0.85);
  const div = positiveFinite(fn, 'divFactor', options.divFactor ?? 25);
  const finalDiv = positiveFinite(fn, 'finalDivFactor', options.finalDivFactor ?? 1e4);
  const first = Math.floor(pctStart * steps);
  const second = Math.floor(pctFinal * steps);
  if (!(first < second && second < steps)) {
    throw new RangeError(
      `${fn}: the phase ends floor(pctStart * transitionSteps) = ${first}, ` +
        `floor(pctFinal * transitionSteps) = ${second} and transitionSteps = ${steps} must be ` +
        `strictly increasing (got pctStart ${pctStart}, pctFinal ${pctFinal}, transitionSteps ${steps})`,
    );
  }
  return guarded(
    fn,
    piecewiseInterpolateRaw(
      linearInterpolate,
      peak / div,
      [first, second, steps],
      [div, 1 / div, 1 / finalDiv],
    ),
  );
}

/** Options of {@link cosineOnecycleSchedule}. */
export type CosineOnecycleScheduleOptions = Omit<LinearOnecycleScheduleOptions, 'pctFinal'>;

/**
 * One-cycle schedule with two half-cosine phases: from `peakValue / divFactor` up to `peakValue`
 * at step `floor(pctStart * transitionSteps)`, then down to
 * `peakValue / (divFactor * finalDivFactor)` at `transitionSteps`, which is held afterwards.
 *
 * `floor(pctStart * transitionSteps)` must be below `transitionSteps` (so `pctStart < 1`).
 *
 * @example
 * ```ts
 * const lr = cosineOnecycleSchedule({ transitionSteps: 100, peakValue: 1 });
 * lr(0); // ≈ 0.04
 * lr(15); // ≈ 0.52
 * lr(30); // 1
 * lr(100); // 0.000004
 * ```
 */
export function cosineOnecycleSchedule(options: CosineOnecycleScheduleOptions): Schedule {
  const fn = 'cosineOnecycleSchedule';
  optionsObject(fn, 'options', options);
  const steps = positiveInteger(fn, 'transitionSteps', options.transitionSteps);
  const peak = finite(fn, 'peakValue', options.peakValue);
  const pctStart = fraction(fn, 'pctStart', options.pctStart ?? 0.3);
  const div = positiveFinite(fn, 'divFactor', options.divFactor ?? 25);
  const finalDiv = positiveFinite(fn, 'finalDivFactor', options.finalDivFactor ?? 1e4);
  const first = Math.floor(pctStart * steps);
  if (!(first < steps)) {
    throw new RangeError(
      `${fn}: floor(pctStart * transitionSteps) = ${first} must be less than transitionSteps = ` +
        `${steps} (got pctStart ${pctStart})`,
    );
  }
  return guarded(
    fn,
    piecewiseInterpolateRaw(
      cosineInterpolate,
      peak / div,
      [first, steps],
      [div, 1 / (div * finalDiv)],
    ),
  );
}

/** Options of {@link warmupConstantSchedule}. */
export interface WarmupConstantScheduleOptions {
  /** Value at count 0. */
  initValue: number;
  /** Value reached at `warmupSteps` and held afterwards. */
  peakValue: number;
  /** Length of the linear warmup, a non-negative integer (`0`: `peakValue` from the start). */
  warmupSteps: number;
}

/**
 * Linear warmup from `initValue` to `peakValue` over `warmupSteps` steps, then constant.
 *
 * With `warmupSteps: 0` the schedule is `peakValue` throughout (optax would hold `initValue`,
 * an artefact of its constant fallback for empty linear transitions).
 *
 * @example
 * ```ts
 * const lr = warmupConstantSchedule({ initValue: 0, peakValue: 1, warmupSteps: 4 });
 * lr(2); // 0.5
 * lr(4); // 1
 * lr(100); // 1
 * ```
 */
export function warmupConstantSchedule(options: WarmupConstantScheduleOptions): Schedule {
  const fn = 'warmupConstantSchedule';
  optionsObject(fn, 'options', options);
  const init = finite(fn, 'initValue', options.initValue);
  const peak = finite(fn, 'peakValue', options.peakValue);
  const warmup = nonNegativeInteger(fn, 'warmupSteps', options.warmupSteps);
  return guarded(fn, warmup === 0 ? constantRaw(peak) : polynomialRaw(init, peak, 1, warmup, 0));
}

/** Options of {@link warmupCosineDecaySchedule} and of each {@link sgdrSchedule} cycle. */
export interface WarmupCosineDecayScheduleOptions {
  /** Value at count 0. */
  initValue: number;
  /** Value reached at the end of the warmup. */
  peakValue: number;
  /** Length of the linear warmup, a non-negative integer. */
  warmupSteps: number;
  /** Total length including the warmup, an integer greater than `warmupSteps`. */
  decaySteps: number;
  /** Value reached at `decaySteps` and held afterwards. Defaults to `0`. */
  endValue?: number;
  /** Exponent of the cosine factor, a finite number > 0. Defaults to `1`. */
  exponent?: number;
}

/**
 * Linear warmup from `initValue` to `peakValue` over `warmupSteps` steps, then cosine decay from
 * `peakValue` to `endValue` over the remaining `decaySteps - warmupSteps` steps (`decaySteps`
 * counts the warmup). The decay is {@link cosineDecaySchedule} with
 * `alpha = endValue / peakValue` (`0` when `peakValue` is `0`), joined at `warmupSteps`.
 *
 * @example
 * ```ts
 * const lr = warmupCosineDecaySchedule({ initValue: 0, peakValue: 1, warmupSteps: 10, decaySteps: 110, endValue: 0.1 });
 * lr(5); // 0.5
 * lr(10); // 1
 * lr(60); // ≈ 0.55
 * lr(110); // ≈ 0.1
 * ```
 */
export function warmupCosineDecaySchedule(options: WarmupCosineDecayScheduleOptions): Schedule {
  const fn = 'warmupCosineDecaySchedule';
  optionsObject(fn, 'options', options);
  return guarded(fn, warmupCosineFrom(fn, '', options));
}

function warmupCosineFrom(
  fn: string,
  prefix: string,
  o: WarmupCosineDecayScheduleOptions,
): Schedule {
  const init = finite(fn, `${prefix}initValue`, o.initValue);
  const peak = finite(fn, `${prefix}peakValue`, o.peakValue);
  const warmup = nonNegativeInteger(fn, `${prefix}warmupSteps`, o.warmupSteps);
  const decayName = `${prefix}decaySteps`;
  const decaySteps = requireNumber(fn, decayName, o.decaySteps, 'an integer');
  if (!Number.isInteger(decaySteps) || decaySteps <= warmup) {
    throw new RangeError(
      `${fn}: ${decayName} must be an integer greater than ${prefix}warmupSteps (${warmup}), ` +
        `got ${decaySteps}`,
    );
  }
  const end = finite(fn, `${prefix}endValue`, o.endValue ?? 0);
  const exponent = positiveFinite(fn, `${prefix}exponent`, o.exponent ?? 1);
  const alpha = peak === 0 ? 0 : end / peak;
  const warmupPart = warmup === 0 ? constantRaw(init) : polynomialRaw(init, peak, 1, warmup, 0);
  return joinRaw(
    [warmupPart, cosineDecayRaw(peak, decaySteps - warmup, alpha, exponent)],
    [warmup],
  );
}

/** Options of {@link warmupExponentialDecaySchedule}. */
export interface WarmupExponentialDecayScheduleOptions {
  /** Value at count 0. */
  initValue: number;
  /** Value reached at the end of the warmup, where the exponential decay starts. */
  peakValue: number;
  /** Length of the linear warmup, a non-negative integer. */
  warmupSteps: number;
  /** See {@link ExponentialDecayOptions.transitionSteps}. */
  transitionSteps: number;
  /** See {@link ExponentialDecayOptions.decayRate}. */
  decayRate: number;
  /** Steps after the warmup during which `peakValue` is held. Defaults to `0`. */
  transitionBegin?: number;
  /** See {@link ExponentialDecayOptions.staircase}. Defaults to `false`. */
  staircase?: boolean;
  /** See {@link ExponentialDecayOptions.endValue}. */
  endValue?: number;
}

/**
 * Linear warmup from `initValue` to `peakValue` over `warmupSteps` steps, then
 * {@link exponentialDecay} starting from `peakValue`, counted from the end of the warmup.
 *
 * @example
 * ```ts
 * const lr = warmupExponentialDecaySchedule({ initValue: 0, peakValue: 1, warmupSteps: 10, transitionSteps: 10, decayRate: 0.5 });
 * lr(5); // 0.5
 * lr(10); // 1
 * lr(20); // 0.5
 * ```
 */
export function warmupExponentialDecaySchedule(
  options: WarmupExponentialDecayScheduleOptions,
): Schedule {
  const fn = 'warmupExponentialDecaySchedule';
  optionsObject(fn, 'options', options);
  const init = finite(fn, 'initValue', options.initValue);
  const peak = finite(fn, 'peakValue', options.peakValue);
  const warmup = nonNegativeInteger(fn, 'warmupSteps', options.warmupSteps);
  const decay = exponentialFrom(fn, {
    initValue: peak,
    transitionSteps: options.transitionSteps,
    decayRate: options.decayRate,
    transitionBegin: options.transitionBegin,
    staircase: options.staircase,
    endValue: options.endValue,
  });
  const warmupPart = warmup === 0 ? constantRaw(init) : polynomialRaw(init, peak, 1, warmup, 0);
  return guarded(fn, joinRaw([warmupPart, decay], [warmup]));
}

/**
 * SGDR (stochastic gradient descent with warm restarts): consecutive
 * {@link warmupCosineDecaySchedule} cycles, each lasting its own `decaySteps` and each seeing the
 * count since its own start. The last cycle holds its `endValue` afterwards.
 *
 * @param cosineKwargs - One non-empty list of cycle options.
 * @example
 * ```ts
 * const lr = sgdrSchedule([
 *   { initValue: 0, peakValue: 1, warmupSteps: 2, decaySteps: 10 },
 *   { initValue: 0, peakValue: 0.5, warmupSteps: 2, decaySteps: 20 },
 * ]);
 * lr(2); // 1
 * lr(10); // 0 (second cycle starts)
 * lr(12); // 0.5
 * ```
 */
export function sgdrSchedule(cosineKwargs: readonly WarmupCosineDecayScheduleOptions[]): Schedule {
  const fn = 'sgdrSchedule';
  if (!Array.isArray(cosineKwargs)) {
    throw new TypeError(
      `${fn}: cosineKwargs must be an array of options, got ${show(cosineKwargs)}`,
    );
  }
  if (cosineKwargs.length === 0) {
    throw new RangeError(`${fn}: cosineKwargs must contain at least one cycle, got an empty array`);
  }
  const parts: Schedule[] = [];
  const boundaries: number[] = [];
  let step = 0;
  cosineKwargs.forEach((o: unknown, i) => {
    optionsObject(fn, `cosineKwargs[${i}]`, o);
    const cycle = o as WarmupCosineDecayScheduleOptions;
    parts.push(warmupCosineFrom(fn, `cosineKwargs[${i}].`, cycle));
    step += cycle.decaySteps;
    boundaries.push(step);
  });
  boundaries.pop();
  return guarded(fn, joinRaw(parts, boundaries));
}

/**
 * Runs `schedules[0]` until `boundaries[0]`, then `schedules[1]` until `boundaries[1]`, and so on.
 * From `boundaries[i]` on, `schedules[i + 1]` receives `count - boundaries[i]`, the number of
 * steps since that boundary.
 *
 * @param schedules - At least one schedule.
 * @param boundaries - Non-decreasing non-negative integers, one fewer than `schedules`.
 * @example
 * ```ts
 * const lr = joinSchedules(
 *   [constantSchedule(1), linearSchedule({ initValue: 0, endValue: 1, transitionSteps: 10 })],
 *   [5],
 * );
 * lr(4); // 1
 * lr(5); // 0
 * lr(10); // 0.5
 * ```
 */
export function joinSchedules(
  schedules: readonly Schedule[],
  boundaries: readonly number[],
): Schedule {
  const fn = 'joinSchedules';
  if (!Array.isArray(schedules)) {
    throw new TypeError(`${fn}: schedules must be an array of functions, got ${show(schedules)}`);
  }
  if (schedules.length === 0) {
    throw new RangeError(`${fn}: schedules must contain at least one schedule, got an empty array`);
  }
  schedules.forEach((s: unknown, i) => {
    if (typeof s !== 'function') {
      throw new TypeError(`${fn}: schedules[${i}] must be a function, got ${show(s)}`);
    }
  });
  if (!Array.isArray(boundaries)) {
    throw new TypeError(`${fn}: boundaries must be an array of integers, got ${show(boundaries)}`);
  }
  if (boundaries.length !== schedules.length - 1) {
    throw new RangeError(
      `${fn}: boundaries must have schedules.length - 1 = ${schedules.length - 1} entries, ` +
        `got ${boundaries.length}`,
    );
  }
  boundaries.forEach((b: unknown, i) => {
    const v = nonNegativeInteger(fn, `boundaries[${i}]`, b);
    if (i > 0 && v < boundaries[i - 1]!) {
      throw new RangeError(
        `${fn}: boundaries must be non-decreasing, got boundaries[${i}] = ${v} after ` +
          `boundaries[${i - 1}] = ${boundaries[i - 1]}`,
      );
    }
  });
  return guarded(fn, joinRaw([...schedules], [...boundaries]));
}

/**
 * All schedule factories of this module, grouped as in optax's `optax.schedules`.
 *
 * @namespace
 */
export const schedules = {
  /** `constantSchedule`, also exported on its own. */
  constantSchedule,
  /** `polynomialSchedule`, also exported on its own. */
  polynomialSchedule,
  /** `linearSchedule`, also exported on its own. */
  linearSchedule,
  /** `piecewiseConstantSchedule`, also exported on its own. */
  piecewiseConstantSchedule,
  /** `exponentialDecay`, also exported on its own. */
  exponentialDecay,
  /** `cosineDecaySchedule`, also exported on its own. */
  cosineDecaySchedule,
  /** `piecewiseInterpolateSchedule`, also exported on its own. */
  piecewiseInterpolateSchedule,
  /** `linearOnecycleSchedule`, also exported on its own. */
  linearOnecycleSchedule,
  /** `cosineOnecycleSchedule`, also exported on its own. */
  cosineOnecycleSchedule,
  /** `warmupConstantSchedule`, also exported on its own. */
  warmupConstantSchedule,
  /** `warmupCosineDecaySchedule`, also exported on its own. */
  warmupCosineDecaySchedule,
  /** `warmupExponentialDecaySchedule`, also exported on its own. */
  warmupExponentialDecaySchedule,
  /** `sgdrSchedule`, also exported on its own. */
  sgdrSchedule,
  /** `joinSchedules`, also exported on its own. */
  joinSchedules,
} as const;
