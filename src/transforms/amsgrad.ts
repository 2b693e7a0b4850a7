/** AMSGrad's rescaling, as `optax.scale_by_amsgrad`. */
import type { GradientTransformationExtraArgs } from '../base.js';
import { safeIncrement } from '../base.js';
import { checkBoolean, checkDecay, checkNonNegative, checkOptionKeys } from '../validate.js';
import { elementwise } from './elementwise.js';

/** Options of {@link scaleByAmsgrad} (and of `amsgrad`), with optax's defaults. */
export interface ScaleByAmsgradOptions {
  /** Decay of the first-moment (mean) average. Default 0.9. */
  b1?: number;
  /** Decay of the second-moment (uncentred variance) average. Default 0.999. */
  b2?: number;
  /** Added to the denominator outside the square root. Default 1e-8. */
  eps?: number;
  /** Added to the running maximum inside the square root. Default 0. */
  epsRoot?: number;
  /** Bias-correct the first moment. Default true (false is the original paper's). */
  biasCorrectionMu?: boolean;
  /**
   * Bias-correct the second moment before the running maximum. Default true (false is the
   * original paper's).
   */
  biasCorrectionNu?: boolean;
}

/** The option names {@link scaleByAmsgrad} accepts. */
export const AMSGRAD_OPTIONS = [
  'b1',
  'b2',
  'eps',
  'epsRoot',
  'biasCorrectionMu',
  'biasCorrectionNu',
] as const;

/** The state of {@link scaleByAmsgrad} (optax's `ScaleByAmsgradState`). */
export interface ScaleByAmsgradState<T = any> {
  /** Steps made so far (int32, saturating). */
  count: number;
  /** The first moment (mean) of the gradients. */
  mu: T;
  /** The second moment (uncentred variance) of the gradients, not bias-corrected. */
  nu: T;
  /** The running maximum of the (bias-corrected, by default) second moment. */
  nuMax: T;
}

/**
 * {@link scaleByAmsgrad} whose errors name `fn` (the alias that builds it).
 *
 * @example
 * ```ts
 * makeScaleByAmsgrad('amsgrad', { b2: -0.5 }); // RangeError: amsgrad: b2 must be in [0, 1), got -0.5
 * ```
 */
export function makeScaleByAmsgrad(
  fn: string,
  options: ScaleByAmsgradOptions = {},
): GradientTransformationExtraArgs<ScaleByAmsgradState> {
  checkOptionKeys(fn, options, AMSGRAD_OPTIONS);
  const b1 = checkDecay(fn, 'b1', options.b1 ?? 0.9);
  const b2 = checkDecay(fn, 'b2', options.b2 ?? 0.999);
  const eps = checkNonNegative(fn, 'eps', options.eps ?? 1e-8);
  const epsRoot = checkNonNegative(fn, 'epsRoot', options.epsRoot ?? 0);
  const correctMu = checkBoolean(fn, 'biasCorrectionMu', options.biasCorrectionMu ?? true);
  const correctNu = checkBoolean(fn, 'biasCorrectionNu', options.biasCorrectionNu ?? true);
  return elementwise({
    fn: 'scaleByAmsgrad',
    stages: ['amsgrad'],
    arrays: [{ key: 'mu' }, { key: 'nu' }, { key: 'nuMax' }],
    counted: true,
    constants: { a1: 1 - b1, b1, a2: 1 - b2, b2, epsRoot, eps },
    step(count, set) {
      // A correction that is off divides by 1, which leaves every value's bits as they are.
      const t = safeIncrement(count);
      set('bc1', correctMu ? 1 - b1 ** t : 1);
      set('bc2', correctNu ? 1 - b2 ** t : 1);
      return 0;
    },
  }) as GradientTransformationExtraArgs<ScaleByAmsgradState>;
}

/**
 * Rescales updates with AMSGrad (Reddi et al., 2018), as `optax.scale_by_amsgrad`: Adam's moments
 * `mu = (1 - b1) g + b1 mu`, `nu = (1 - b2) g^2 + b2 nu`, then (optax's order) the bias correction
 * of `nu` first and the maximum after, `nuMax = max(nuMax, nu / (1 - b2^t))`; the update is
 * `(mu / (1 - b1^t)) / (sqrt(nuMax + epsRoot) + eps)`. `biasCorrectionMu` / `biasCorrectionNu`
 * turn either correction off. Bias corrections are computed in float64. The state is optax's
 * `ScaleByAmsgradState` `{ count, mu, nu, nuMax }`.
 *
 * Unlike `scaleByAdam` here, nothing guards 0/0: as in optax, with `eps = epsRoot = 0` an element
 * whose gradients have all been 0 gets NaN. `b1`, `b2` must be in [0, 1), `eps`, `epsRoot`
 * finite and >= 0.
 *
 * @example
 * ```ts
 * const tx = scaleByAmsgrad();
 * const [u, s] = tx.update({ w: 2 }, tx.init({ w: 0 })); // { w: 0.999999995 }
 * s.nuMax; // { w: 4 }
 * ```
 */
export function scaleByAmsgrad(
  options: ScaleByAmsgradOptions = {},
): GradientTransformationExtraArgs<ScaleByAmsgradState> {
  return makeScaleByAmsgrad('scaleByAmsgrad', options);
}
