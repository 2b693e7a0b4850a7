/** AdaBelief's rescaling, as `optax.scale_by_belief`. */
import type { GradientTransformationExtraArgs } from '../base.js';
import { safeIncrement } from '../base.js';
import { checkBoolean, checkDecay, checkNonNegative, checkOptionKeys } from '../validate.js';
import { elementwise } from './elementwise.js';

/** Options of {@link scaleByBelief} (and of `adabelief`), with optax's defaults. */
export interface ScaleByBeliefOptions {
  /** Decay of the first-moment (mean) average. Default 0.9. */
  b1?: number;
  /** Decay of the average of the squared prediction error. Default 0.999. */
  b2?: number;
  /** Added to the denominator outside the square root. Default 1e-16. */
  eps?: number;
  /** Added to the second moment (and kept in the state's `nu`). Default 1e-16. */
  epsRoot?: number;
  /** Use Nesterov momentum. Default false. */
  nesterov?: boolean;
}

/** The option names {@link scaleByBelief} accepts. */
export const BELIEF_OPTIONS = ['b1', 'b2', 'eps', 'epsRoot', 'nesterov'] as const;

/** The state of {@link scaleByBelief} (optax's `ScaleByBeliefState`). */
export interface ScaleByBeliefState<T = any> {
  /** Steps made so far (int32, saturating). */
  count: number;
  /** The first moment (mean) of the gradients. */
  mu: T;
  /** The second moment of the prediction error `g - mu`, `epsRoot` included. */
  nu: T;
}

/**
 * {@link scaleByBelief} whose errors name `fn` (the alias that builds it).
 *
 * @example
 * ```ts
 * makeScaleByBelief('adabelief', { b1: 1 }); // RangeError: adabelief: b1 must be in [0, 1), got 1
 * ```
 */
export function makeScaleByBelief(
  fn: string,
  options: ScaleByBeliefOptions = {},
): GradientTransformationExtraArgs<ScaleByBeliefState> {
  checkOptionKeys(fn, options, BELIEF_OPTIONS);
  const b1 = checkDecay(fn, 'b1', options.b1 ?? 0.9);
  const b2 = checkDecay(fn, 'b2', options.b2 ?? 0.999);
  const eps = checkNonNegative(fn, 'eps', options.eps ?? 1e-16);
  const epsRoot = checkNonNegative(fn, 'epsRoot', options.epsRoot ?? 1e-16);
  const nesterov = checkBoolean(fn, 'nesterov', options.nesterov ?? false);
  return elementwise({
    fn: 'scaleByBelief',
    stages: [nesterov ? 'beliefNesterov' : 'belief'],
    arrays: [{ key: 'mu' }, { key: 'nu' }],
    counted: true,
    constants: { a1: 1 - b1, b1, a2: 1 - b2, b2, epsRoot, eps },
    step(count, set) {
      const t = safeIncrement(count);
      set('bc1', 1 - b1 ** t);
      set('bc2', 1 - b2 ** t);
      if (nesterov) set('bc1Next', 1 - b1 ** safeIncrement(t));
      return 0;
    },
  }) as GradientTransformationExtraArgs<ScaleByBeliefState>;
}

/**
 * Rescales updates with AdaBelief (Zhuang et al., 2020), as `optax.scale_by_belief`:
 * `m = (1 - b1) g + b1 m`, `s = ((1 - b2) (g - m)^2 + b2 s) + epsRoot` (with the new `m`; the
 * state keeps `epsRoot` in `s`), and the update is
 * `mHat / (sqrt(s / (1 - b2^t)) + eps)` with `mHat = m / (1 - b1^t)`, or with `nesterov`
 * `b1 m / (1 - b1^(t+1)) + (1 - b1) g / (1 - b1^t)`. Bias corrections are computed in float64.
 * The state is optax's `ScaleByBeliefState` `{ count, mu, nu }`.
 *
 * Defaults are optax's (`eps = epsRoot = 1e-16`; the paper's are 1e-8 and 0). As in optax, with
 * `eps = epsRoot = 0` an element whose `m` and `s` are both 0 gets 0/0 = NaN. `b1`, `b2` must be
 * in [0, 1), `eps`, `epsRoot` finite and >= 0.
 *
 * @example
 * ```ts
 * const tx = scaleByBelief();
 * // m = 0.2, s = 0.001 * 1.8^2 + 1e-16, so the update is (0.2 / 0.1) / sqrt(s / 0.001) = 2 / 1.8
 * const [u] = tx.update({ w: 2 }, tx.init({ w: 0 })); // { w: 1.1111111111110938 }
 * ```
 */
export function scaleByBelief(
  options: ScaleByBeliefOptions = {},
): GradientTransformationExtraArgs<ScaleByBeliefState> {
  return makeScaleByBelief('scaleByBelief', options);
}
