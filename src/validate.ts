/**
 * Hyperparameter checks, run when a transformation is built, so that a bad value fails at once with
 * a message naming the function, the parameter, its value and what is expected.
 */
import type { ScalarOrSchedule } from './schedule-types.js';

function show(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || value === undefined) return String(value);
  return typeof value;
}

/** Throws unless `value` is a finite number. */
export function checkFinite(fn: string, name: string, value: unknown, why = ''): number {
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw new RangeError(`${fn}: ${name} must be a finite number, got ${show(value)}${why}`);
  return value;
}

/** Throws unless `value` is a finite number `>= 0`. */
export function checkNonNegative(fn: string, name: string, value: unknown, why = ''): number {
  checkFinite(fn, name, value, why);
  if ((value as number) < 0)
    throw new RangeError(`${fn}: ${name} must be >= 0 and finite, got ${show(value)}${why}`);
  return value as number;
}

/** Throws unless `0 <= value < 1` (a decay rate). */
export function checkDecay(fn: string, name: string, value: unknown, why = ''): number {
  if (typeof value !== 'number' || !(value >= 0 && value < 1))
    throw new RangeError(`${fn}: ${name} must be in [0, 1), got ${show(value)}${why}`);
  return value;
}

/** Throws unless `value` is an integer `>= min`. */
export function checkInteger(fn: string, name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min)
    throw new RangeError(`${fn}: ${name} must be an integer >= ${min}, got ${show(value)}`);
  return value;
}

/** Throws unless `value` is a boolean. */
export function checkBoolean(fn: string, name: string, value: unknown): boolean {
  if (typeof value !== 'boolean')
    throw new TypeError(`${fn}: ${name} must be true or false, got ${show(value)}`);
  return value;
}

/** Throws unless `value` is a finite number or a function (a schedule). */
export function checkScalarOrSchedule(fn: string, name: string, value: unknown): ScalarOrSchedule {
  if (typeof value === 'function') return value as ScalarOrSchedule;
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw new RangeError(
      `${fn}: ${name} must be a finite number or a schedule (count) => number, got ${show(value)}`,
    );
  return value;
}

/**
 * Throws unless `value` is a gradient transformation (an object with `init` and `update`
 * functions); `name` says which argument, e.g. `inner` or `argument 2`.
 */
export function checkTransformation(fn: string, name: string, value: unknown): void {
  const tx = value as { init?: unknown; update?: unknown } | null | undefined;
  if (!tx || typeof tx.init !== 'function' || typeof tx.update !== 'function')
    throw new TypeError(
      `${fn}: ${name} must be a gradient transformation with init and update, got ${show(value)}`,
    );
}

/** Throws when an options object has a key the function does not know (a likely typo). */
export function checkOptionKeys(
  fn: string,
  options: object | undefined,
  known: readonly string[],
): void {
  if (options === undefined) return;
  if (options === null || typeof options !== 'object')
    throw new TypeError(`${fn}: options must be an object, got ${show(options)}`);
  for (const key of Object.keys(options)) {
    if (!known.includes(key))
      throw new TypeError(
        `${fn}: unknown option ${JSON.stringify(key)}; expected one of ${known.join(', ')}`,
      );
  }
}

/**
 * The value of a number or schedule at `count`; throws when a schedule returns something that is
 * not a finite number, so a broken schedule never turns into NaN updates.
 */
export function evaluate(fn: string, name: string, value: ScalarOrSchedule, count: number): number {
  if (typeof value === 'number') return value;
  const v = value(count);
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw new RangeError(
      `${fn}: the ${name} schedule returned ${show(v)} at count ${count}; expected a finite number`,
    );
  return v;
}

/** The largest int32, the bound of a step count (kept here so that this module imports nothing). */
const COUNT_MAX = 2_147_483_647;

/**
 * Throws unless `value` is a step count: an integer in [0, 2^31 - 1] (counts saturate there, as
 * optax's int32 counts do). `what` names it in the message, e.g. `scaleByRadam.update: state.count`.
 */
export function checkCount(what: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > COUNT_MAX)
    throw new RangeError(
      `${what} must be an integer step count in [0, ${COUNT_MAX}], got ${show(value)}`,
    );
  return value;
}
