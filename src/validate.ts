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

/** The class name of an object, read without calling anything the object defines. */
function className(x: object): string | undefined {
  try {
    const proto = Object.getPrototypeOf(x);
    if (proto === null) return undefined;
    const ctor = Object.getOwnPropertyDescriptor(proto, 'constructor')?.value;
    return typeof ctor === 'function' && typeof ctor.name === 'string' && ctor.name !== ''
      ? ctor.name
      : undefined;
  } catch {
    return undefined;
  }
}

/** True for a typed array made in another realm (a `vm` context, an iframe, a worker's copy). */
export function isForeignTypedArray(x: unknown): boolean {
  if (!ArrayBuffer.isView(x) || x instanceof DataView) return false;
  const tag = Object.prototype.toString.call(x).slice(8, -1);
  const here = (globalThis as Record<string, unknown>)[tag];
  return typeof here === 'function' && !(x instanceof (here as new () => object));
}

/**
 * Describes any value for an error message without throwing (not even for symbols, BigInts,
 * objects without a prototype or values from another realm): `number NaN`, `string "abc"`,
 * `bigint 10n`, `undefined`, `a function`, `Float32Array of length 3`, `Map`, `an object with keys
 * [a, b]`, `an array of length 2`.
 *
 * @example
 * ```ts
 * describeValue(10n); // 'bigint 10n'
 * describeValue(Object.create(null)); // 'an object with keys []'
 * ```
 */
export function describeValue(x: unknown): string {
  switch (typeof x) {
    case 'undefined':
      return 'undefined';
    case 'number':
    case 'boolean':
      return `${typeof x} ${String(x)}`;
    case 'string':
      return `string ${JSON.stringify(x.length > 40 ? `${x.slice(0, 40)}...` : x)}`;
    case 'bigint':
      return `bigint ${x.toString()}n`;
    case 'symbol':
      return `symbol ${x.description === undefined ? '' : JSON.stringify(x.description)}`.trim();
    case 'function':
      return 'a function';
  }
  if (x === null) return 'null';
  if (Array.isArray(x)) return `an array of length ${x.length}`;
  if (ArrayBuffer.isView(x)) {
    const tag = Object.prototype.toString.call(x).slice(8, -1);
    const foreign = isForeignTypedArray(x) ? ' from another realm' : '';
    return x instanceof DataView || !('length' in x)
      ? `${tag}${foreign}`
      : `${tag}${foreign} of length ${(x as unknown as { length: number }).length}`;
  }
  const name = className(x as object);
  if (name === undefined || name === 'Object') {
    let keys: string[] = [];
    try {
      keys = Object.keys(x as object).sort();
    } catch {
      // A proxy that refuses: no keys to show.
    }
    const shown = keys.slice(0, 8).join(', ') + (keys.length > 8 ? ', ...' : '');
    return `an object with keys [${shown}]`;
  }
  return name;
}

/**
 * Throws a `TypeError` unless `value` is a string: for the parameters that name things in
 * messages (`name`, `path`, `fn`).
 *
 * @example
 * ```ts
 * checkName('treeL2Norm', 'name', 'grads'); // 'grads'
 * checkName('treeL2Norm', 'name', 3); // TypeError: treeL2Norm: name must be a string (it names the tree in error messages), got number 3
 * ```
 */
export function checkName(fn: string, param: string, value: unknown): string {
  if (typeof value !== 'string')
    throw new TypeError(
      `${fn}: ${param} must be a string (it names the tree in error messages), got ${describeValue(value)}`,
    );
  return value;
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
