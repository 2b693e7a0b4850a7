/** An exponential moving average of the updates, as `optax.ema`. */
import type { GradientTransformationExtraArgs } from '../base.js';
import { safeIncrement } from '../base.js';
import { checkBoolean, checkDecay, checkOptionKeys, describeValue } from '../validate.js';
import { type ElementwiseState, elementwise } from './elementwise.js';

/** Options of {@link ema}, with optax's defaults. */
export interface EmaOptions {
  /** Divide the average by `1 - decay^t` (optax's `debias`). Default true. */
  debias?: boolean;
  /**
   * optax's `accumulator_dtype`. Only `null` (the default: the accumulator takes each param's
   * dtype) is supported.
   */
  accumulatorDtype?: null;
}

/**
 * Checks optax's `accumulator_dtype`, of which only `null` (infer from the params) is supported.
 *
 * @example
 * ```ts
 * checkAccumulatorDtype('ema', null); // undefined
 * checkAccumulatorDtype('ema', 'bfloat16'); // TypeError: ema: accumulatorDtype must be null (state arrays take each param's dtype), got string "bfloat16"
 * ```
 */
export function checkAccumulatorDtype(fn: string, value: unknown): void {
  if (value !== undefined && value !== null)
    throw new TypeError(
      `${fn}: accumulatorDtype must be null (state arrays take each param's dtype), got ${describeValue(value)}`,
    );
}

/**
 * {@link ema} with the caller's name in errors and `decayName` for the decay's name (`signum`
 * builds its momentum with it: `makeEma('signum', beta, { debias: false }, 'beta')`).
 *
 * @example
 * ```ts
 * makeEma('signum', 1, {}, 'beta'); // RangeError: signum: beta must be in [0, 1), got 1
 * ```
 */
export function makeEma(
  fn: string,
  decay: number,
  options: EmaOptions,
  decayName = 'decay',
): GradientTransformationExtraArgs<ElementwiseState> {
  checkOptionKeys(fn, options, ['debias', 'accumulatorDtype']);
  const d = checkDecay(fn, decayName, decay);
  const debias = checkBoolean(fn, 'debias', options.debias ?? true);
  checkAccumulatorDtype(fn, options.accumulatorDtype);
  return elementwise({
    fn,
    stages: [debias ? 'ema' : 'emaNoDebias'],
    arrays: [{ key: 'ema' }],
    counted: true,
    constants: { a: 1 - d, d },
    step: debias
      ? (count, set) => {
          set('bc', 1 - d ** safeIncrement(count));
          return 0;
        }
      : undefined,
  });
}

/**
 * An exponential moving average of past updates, as `optax.ema`: `ema = (1 - decay) u +
 * decay ema`, and the update is `ema / (1 - decay^t)` (`t` the step, from 1; the correction in
 * float64), or `ema` itself with `debias: false`. The state is optax's `EmaState` `{ count, ema }`
 * (counted even without debiasing). `decay` must be in [0, 1).
 *
 * @example
 * ```ts
 * const tx = ema(0.5);
 * let state = tx.init({ w: 0 });
 * let u;
 * [u, state] = tx.update({ w: 2 }, state); // { w: 2 }
 * [u, state] = tx.update({ w: 4 }, state); // { w: 3.3333333333333335 }
 * ```
 */
export function ema(
  decay: number,
  options: EmaOptions = {},
): GradientTransformationExtraArgs<ElementwiseState> {
  return makeEma('ema', decay, options);
}
