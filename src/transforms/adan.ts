/** Adan's rescaling, as `optax.scale_by_adan`. */
import type { GradientTransformationExtraArgs } from '../base.js';
import { safeIncrement } from '../base.js';
import { checkDecay, checkNonNegative, checkOptionKeys } from '../validate.js';
import { elementwise } from './elementwise.js';

/** Options of {@link scaleByAdan} (and of `adan`), with optax's defaults. */
export interface ScaleByAdanOptions {
  /** Decay of the gradients' average. Default 0.98. */
  b1?: number;
  /** Decay of the gradient differences' average. Default 0.92. */
  b2?: number;
  /** Decay of the squared term's average. Default 0.99. */
  b3?: number;
  /** Added to the denominator outside the square root. Default 1e-8. */
  eps?: number;
  /** Added inside the square root. Default 0 here, 1e-8 in `adan` (optax's defaults). */
  epsRoot?: number;
}

/** The option names {@link scaleByAdan} accepts. */
export const ADAN_OPTIONS = ['b1', 'b2', 'b3', 'eps', 'epsRoot'] as const;

/** The state of {@link scaleByAdan} (optax's `ScaleByAdanState`; its step count is `t`). */
export interface ScaleByAdanState<T = any> {
  /** The gradients' average. */
  m: T;
  /** The gradient differences' average. */
  v: T;
  /** The squared term's average. */
  n: T;
  /** The previous step's gradient. */
  g: T;
  /** Steps made so far (int32, saturating). */
  t: number;
}

/**
 * {@link scaleByAdan} whose errors name `fn` (the alias that builds it).
 *
 * @example
 * ```ts
 * makeScaleByAdan('adan', { b3: 1 }); // RangeError: adan: b3 must be in [0, 1), got 1
 * ```
 */
export function makeScaleByAdan(
  fn: string,
  options: ScaleByAdanOptions = {},
): GradientTransformationExtraArgs<ScaleByAdanState> {
  checkOptionKeys(fn, options, ADAN_OPTIONS);
  const b1 = checkDecay(fn, 'b1', options.b1 ?? 0.98);
  const b2 = checkDecay(fn, 'b2', options.b2 ?? 0.92);
  const b3 = checkDecay(fn, 'b3', options.b3 ?? 0.99);
  const eps = checkNonNegative(fn, 'eps', options.eps ?? 1e-8);
  const epsRoot = checkNonNegative(fn, 'epsRoot', options.epsRoot ?? 0);
  return elementwise({
    fn: 'scaleByAdan',
    // The first step has no previous gradient: its difference is 0 (optax's `t == 0` branch).
    stages: ['adanFirst', 'adan'],
    arrays: [{ key: 'm' }, { key: 'v' }, { key: 'n' }, { key: 'g' }],
    counted: true,
    countKey: 't',
    constants: { a1: 1 - b1, b1, a2: 1 - b2, b2, a3: 1 - b3, b3, epsRoot, eps },
    step(count, set) {
      const t = safeIncrement(count);
      set('bc1', 1 - b1 ** t);
      set('bc2', 1 - b2 ** t);
      set('bc3', 1 - b3 ** t);
      return count === 0 ? 0 : 1;
    },
  }) as GradientTransformationExtraArgs<ScaleByAdanState>;
}

/**
 * Rescales updates with Adan (Xie et al., 2022), as `optax.scale_by_adan`. With the gradient
 * difference `d = g - gPrev` (0 on the first step, whatever `g` is):
 * `m = (1 - b1) g + b1 m`, `v = (1 - b2) d + b2 v`, `n = (1 - b3) (g + (1 - b2) d)^2 + b3 n`, and
 * the update is `(m / (1 - b1^t) + (1 - b2) (v / (1 - b2^t))) / (sqrt(n / (1 - b3^t) + epsRoot)
 * + eps)` (bias corrections in float64); `g` is kept for the next step. This is optax's code; its
 * docstring writes the moment updates with `b` and `1 - b` the other way round. The state is
 * optax's `ScaleByAdanState` `{ m, v, n, g, t }` (the count is `t`).
 *
 * As in optax, with `eps = epsRoot = 0` an element whose gradients have all been 0 gets 0/0 = NaN.
 * `b1`, `b2`, `b3` must be in [0, 1), `eps`, `epsRoot` finite and >= 0.
 *
 * @example
 * ```ts
 * const tx = scaleByAdan();
 * // m = 0.04, v = 0, n = 0.04: (0.04 / 0.02) / (sqrt(0.04 / 0.01) + 1e-8)
 * const [u, s] = tx.update({ w: 2 }, tx.init({ w: 0 })); // { w: 0.999999995 }
 * s.t; // 1
 * ```
 */
export function scaleByAdan(
  options: ScaleByAdanOptions = {},
): GradientTransformationExtraArgs<ScaleByAdanState> {
  return makeScaleByAdan('scaleByAdan', options);
}
