/** Adagrad's rescaling, as `optax.scale_by_rss`. */
import type { GradientTransformationExtraArgs } from '../base.js';
import { checkNonNegative, checkOptionKeys } from '../validate.js';
import { type ElementwiseState, elementwise } from './elementwise.js';

/** Options of {@link scaleByRss} (and of `adagrad`), with optax's defaults. */
export interface ScaleByRssOptions {
  /** Every accumulator's starting value (>= 0). Default 0.1. */
  initialAccumulatorValue?: number;
  /** Added to the sum of squares inside the square root. Default 1e-7. */
  eps?: number;
}

/** The option names {@link scaleByRss} accepts. */
export const RSS_OPTIONS = ['initialAccumulatorValue', 'eps'] as const;

/**
 * {@link scaleByRss} with the caller's name in errors (`adagrad` builds its rescaling with it).
 *
 * @example
 * ```ts
 * makeScaleByRss('adagrad', { eps: -1 }); // RangeError: adagrad: eps must be >= 0 and finite, got -1
 * ```
 */
export function makeScaleByRss(
  fn: string,
  options: ScaleByRssOptions,
): GradientTransformationExtraArgs<ElementwiseState> {
  checkOptionKeys(fn, options, RSS_OPTIONS);
  const init = checkNonNegative(
    fn,
    'initialAccumulatorValue',
    options.initialAccumulatorValue ?? 0.1,
  );
  const eps = checkNonNegative(fn, 'eps', options.eps ?? 1e-7);
  return elementwise({
    fn,
    stages: ['rss'],
    arrays: [{ key: 'sumOfSquares', init }],
    counted: false,
    constants: { eps },
  });
}

/**
 * Rescales updates by the root of the sum of all squared gradients so far, as
 * `optax.scale_by_rss`: `sumOfSquares = g² + sumOfSquares`, and the update is
 * `g / sqrt(sumOfSquares + eps)` where the sum is > 0, else 0 (`1 / sqrt` then `* g`, optax's
 * `rsqrt(...) * g`, in that order). The state is optax's `ScaleByRssState` `{ sumOfSquares }`,
 * each leaf filled with `initialAccumulatorValue` at `init`. Both options must be finite and >= 0.
 *
 * @example
 * ```ts
 * const tx = scaleByRss({ initialAccumulatorValue: 0 });
 * const [u] = tx.update({ w: 3 }, tx.init({ w: 0 })); // { w: 0.9999999944444444 }
 * ```
 */
export function scaleByRss(
  options: ScaleByRssOptions = {},
): GradientTransformationExtraArgs<ElementwiseState> {
  return makeScaleByRss('scaleByRss', options);
}
