/** Yogi's rescaling, as `optax.scale_by_yogi`. */
import type { GradientTransformationExtraArgs } from '../base.js';
import { safeIncrement } from '../base.js';
import { checkDecay, checkNonNegative, checkOptionKeys } from '../validate.js';
import { elementwise } from './elementwise.js';
import type { ScaleByAdamState } from './radam.js';

/** Options of {@link scaleByYogi}, with optax's defaults. */
export interface ScaleByYogiOptions {
  /** Decay of the first-moment (mean) average. Default 0.9. */
  b1?: number;
  /** Rate of the second moment's additive, sign-controlled update. Default 0.999. */
  b2?: number;
  /** Added to the denominator outside the square root. Default 1e-3. */
  eps?: number;
  /** Added to the second moment inside the square root. Default 0. */
  epsRoot?: number;
  /** The initial value of both moments, every element. Default 1e-6. */
  initialAccumulatorValue?: number;
}

/** The option names {@link scaleByYogi} accepts. */
export const YOGI_OPTIONS = ['b1', 'b2', 'eps', 'epsRoot', 'initialAccumulatorValue'] as const;

/**
 * {@link scaleByYogi} whose errors name `fn` (the alias that builds it).
 *
 * @example
 * ```ts
 * makeScaleByYogi('yogi', { eps: Number.NaN }); // RangeError: yogi: eps must be a finite number, got NaN
 * ```
 */
export function makeScaleByYogi(
  fn: string,
  options: ScaleByYogiOptions = {},
): GradientTransformationExtraArgs<ScaleByAdamState> {
  checkOptionKeys(fn, options, YOGI_OPTIONS);
  const b1 = checkDecay(fn, 'b1', options.b1 ?? 0.9);
  const b2 = checkDecay(fn, 'b2', options.b2 ?? 0.999);
  const eps = checkNonNegative(fn, 'eps', options.eps ?? 1e-3);
  const epsRoot = checkNonNegative(fn, 'epsRoot', options.epsRoot ?? 0);
  const init = checkNonNegative(
    fn,
    'initialAccumulatorValue',
    options.initialAccumulatorValue ?? 1e-6,
  );
  return elementwise({
    fn: 'scaleByYogi',
    stages: ['yogi'],
    arrays: [
      { key: 'mu', init },
      { key: 'nu', init },
    ],
    counted: true,
    constants: { a1: 1 - b1, b1, a2: 1 - b2, epsRoot, eps },
    step(count, set) {
      const t = safeIncrement(count);
      set('bc1', 1 - b1 ** t);
      set('bc2', 1 - b2 ** t);
      return 0;
    },
  }) as GradientTransformationExtraArgs<ScaleByAdamState>;
}

/**
 * Rescales updates with Yogi (Zaheer et al., 2018), as `optax.scale_by_yogi`:
 * `mu = (1 - b1) g + b1 mu`, and the second moment moves by a fixed fraction of `g^2` towards it,
 * `nu = nu - ((1 - b2) sign(nu - g^2)) g^2`; the update is
 * `(mu / (1 - b1^t)) / (sqrt(nu / (1 - b2^t) + epsRoot) + eps)` (bias corrections in float64).
 * Both moments start at `initialAccumulatorValue` (1e-6, rounded to the params' type), not 0, as
 * in optax. The state is optax's `ScaleByAdamState` `{ count, mu, nu }`.
 *
 * `b1`, `b2` must be in [0, 1), `eps`, `epsRoot`, `initialAccumulatorValue` finite and >= 0
 * (optax asks for a positive initial value but does not check it).
 *
 * @example
 * ```ts
 * const tx = scaleByYogi();
 * tx.init({ w: new Float32Array(2) }).nu; // { w: Float32Array [1e-6, 1e-6] }
 * // mu = 0.2000009, nu = 1e-6 + 0.001 * 4: (mu / 0.1) / (sqrt(nu / 0.001) + 1e-3)
 * const [u] = tx.update({ w: 2 }, tx.init({ w: 0 })); // { w: 0.9993798953720721 }
 * ```
 */
export function scaleByYogi(
  options: ScaleByYogiOptions = {},
): GradientTransformationExtraArgs<ScaleByAdamState> {
  return makeScaleByYogi('scaleByYogi', options);
}
