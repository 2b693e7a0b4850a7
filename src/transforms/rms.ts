/** RMSprop's rescalings, as `optax.scale_by_rms` and `optax.scale_by_stddev`. */
import type { GradientTransformationExtraArgs } from '../base.js';
import { safeIncrement } from '../base.js';
import type { StageName } from '../kernels/stages.js';
import {
  checkBoolean,
  checkDecay,
  checkFinite,
  checkNonNegative,
  checkOptionKeys,
} from '../validate.js';
import { type ElementwiseState, elementwise } from './elementwise.js';

/** Options of {@link scaleByRms} and {@link scaleByStddev} (and of `rmsprop`), optax's defaults. */
export interface ScaleByRmsOptions {
  /** Decay of the average of squared gradients, in [0, 1). Default 0.9. */
  decay?: number;
  /** Added to the denominator (inside or outside the square root). Default 1e-8. */
  eps?: number;
  /** Every element's starting second moment. Default 0. */
  initialScale?: number;
  /** Add `eps` inside the square root (`1 / sqrt(nu + eps)`) rather than outside. Default true. */
  epsInSqrt?: boolean;
  /** Divide the averages by `1 - decay^t` (the state then counts steps). Default false. */
  biasCorrection?: boolean;
}

/** The option names {@link scaleByRms} accepts. */
export const RMS_OPTIONS = ['decay', 'eps', 'initialScale', 'epsInSqrt', 'biasCorrection'] as const;

/**
 * {@link scaleByRms} (`centered: false`) or {@link scaleByStddev}, named `fn` in errors (what
 * `rmsprop` builds).
 *
 * @example
 * ```ts
 * const tx = makeScaleByRmsOrStddev('rmsprop', true, { decay: 0.5 }); // scaleByStddev({ decay: 0.5 })
 * makeScaleByRmsOrStddev('rmsprop', false, { decay: 1 }); // RangeError: rmsprop: decay must be in [0, 1), got 1
 * ```
 */
export function makeScaleByRmsOrStddev(
  fn: string,
  centered: boolean,
  options: ScaleByRmsOptions,
): GradientTransformationExtraArgs<ElementwiseState> {
  checkOptionKeys(fn, options, RMS_OPTIONS);
  const decay = checkDecay(fn, 'decay', options.decay ?? 0.9);
  const eps = checkNonNegative(fn, 'eps', options.eps ?? 1e-8);
  const initialScale = checkFinite(fn, 'initialScale', options.initialScale ?? 0);
  const epsInSqrt = checkBoolean(fn, 'epsInSqrt', options.epsInSqrt ?? true);
  const bc = checkBoolean(fn, 'biasCorrection', options.biasCorrection ?? false);
  const stage = `${centered ? 'stddev' : 'rms'}${bc ? 'Bc' : ''}${epsInSqrt ? '' : 'EpsOut'}`;
  return elementwise({
    fn,
    stages: [stage as StageName],
    arrays: centered
      ? [{ key: 'mu' }, { key: 'nu', init: initialScale }]
      : [{ key: 'nu', init: initialScale }],
    counted: bc,
    constants: { a: 1 - decay, d: decay, eps },
    step: bc
      ? (count, set) => {
          // 1 - decay^t in float64, t = count + 1 (saturating).
          set('bc', 1 - decay ** safeIncrement(count));
          return 0;
        }
      : undefined,
  });
}

/**
 * Rescales updates by the root of an exponential moving average of squared gradients, as
 * `optax.scale_by_rms`: `nu = (1 - decay) g² + decay nu`, and the update is
 * `g / sqrt(nuHat + eps)` (or `g / (sqrt(nuHat) + eps)` with `epsInSqrt: false`), computed as
 * optax does, `(1 / sqrt(...)) * g`. `nuHat` is `nu`, or with `biasCorrection`
 * `nu / (1 - decay^t)` (bias correction computed in float64). The state is optax's
 * `ScaleByRmsState` `{ nu }`, or `{ count, nu }` with bias correction; `nu` starts at
 * `initialScale`. `decay` must be in [0, 1), `eps` >= 0.
 *
 * @example
 * ```ts
 * const tx = scaleByRms({ decay: 0.75, eps: 0 });
 * const [u] = tx.update({ w: 2 }, tx.init({ w: 0 })); // { w: 2 }
 * ```
 */
export function scaleByRms(
  options: ScaleByRmsOptions = {},
): GradientTransformationExtraArgs<ElementwiseState> {
  return makeScaleByRmsOrStddev('scaleByRms', false, options);
}

/**
 * Rescales updates by the root of the centered moving average of squares, as
 * `optax.scale_by_stddev` (centered RMSprop): `mu = (1 - decay) g + decay mu`,
 * `nu = (1 - decay) g² + decay nu`, and the update is `g / sqrt(nuHat - muHat² + eps)` (or with
 * `eps` outside the root), `(1 / sqrt(...)) * g` as in optax. The state is optax's
 * `ScaleByRStdDevState` `{ mu, nu }` (`{ count, mu, nu }` with bias correction); options as
 * {@link scaleByRms}.
 *
 * @example
 * ```ts
 * const tx = scaleByStddev({ decay: 0.5, eps: 0 });
 * const [u] = tx.update({ w: 2 }, tx.init({ w: 0 })); // { w: 2 }
 * ```
 */
export function scaleByStddev(
  options: ScaleByRmsOptions = {},
): GradientTransformationExtraArgs<ElementwiseState> {
  return makeScaleByRmsOrStddev('scaleByStddev', true, options);
}
