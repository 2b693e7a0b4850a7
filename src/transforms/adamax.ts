/** Adamax's rescaling, as `optax.scale_by_adamax`. */
import type { GradientTransformationExtraArgs } from '../base.js';
import { safeIncrement } from '../base.js';
import { checkDecay, checkNonNegative, checkOptionKeys } from '../validate.js';
import { elementwise } from './elementwise.js';
import type { ScaleByAdamState } from './radam.js';

/** Options of {@link scaleByAdamax} (and of `adamax`, `adamaxw`), with optax's defaults. */
export interface ScaleByAdamaxOptions {
  /** Decay of the first-moment (mean) average. Default 0.9. */
  b1?: number;
  /** Decay of the running maximum of `|g|`. Default 0.999. */
  b2?: number;
  /** Added to `|g|` before the maximum (so the denominator is at least `eps`). Default 1e-8. */
  eps?: number;
}

/** The option names {@link scaleByAdamax} accepts. */
export const ADAMAX_OPTIONS = ['b1', 'b2', 'eps'] as const;

/**
 * {@link scaleByAdamax} whose errors name `fn` (the alias that builds it).
 *
 * @example
 * ```ts
 * makeScaleByAdamax('adamax', { eps: -1 }); // RangeError: adamax: eps must be >= 0 and finite, got -1
 * ```
 */
export function makeScaleByAdamax(
  fn: string,
  options: ScaleByAdamaxOptions = {},
): GradientTransformationExtraArgs<ScaleByAdamState> {
  checkOptionKeys(fn, options, ADAMAX_OPTIONS);
  const b1 = checkDecay(fn, 'b1', options.b1 ?? 0.9);
  const b2 = checkDecay(fn, 'b2', options.b2 ?? 0.999);
  const eps = checkNonNegative(fn, 'eps', options.eps ?? 1e-8);
  return elementwise({
    fn: 'scaleByAdamax',
    stages: ['adamax'],
    arrays: [{ key: 'mu' }, { key: 'nu' }],
    counted: true,
    constants: { a1: 1 - b1, b1, b2, eps },
    step(count, set) {
      set('bc1', 1 - b1 ** safeIncrement(count));
      return 0;
    },
  }) as GradientTransformationExtraArgs<ScaleByAdamState>;
}

/**
 * Rescales updates with Adamax (Kingma & Ba, 2014), as `optax.scale_by_adamax`:
 * `mu = (1 - b1) g + b1 mu`, `nu = max(|g| + eps, b2 nu)` (an exponentially weighted infinity
 * norm, not bias-corrected), and the update is `(mu / (1 - b1^t)) / nu` (bias correction in
 * float64). The state is optax's `ScaleByAdamState` `{ count, mu, nu }`.
 *
 * As in optax, with `eps = 0` an element whose gradients have all been 0 gets 0/0 = NaN. `b1`,
 * `b2` must be in [0, 1), `eps` finite and >= 0.
 *
 * @example
 * ```ts
 * const tx = scaleByAdamax();
 * // mu = 0.2, nu = 2 + 1e-8: (0.2 / 0.1) / (2 + 1e-8)
 * const [u] = tx.update({ w: 2 }, tx.init({ w: 0 })); // { w: 0.999999995 }
 * ```
 */
export function scaleByAdamax(
  options: ScaleByAdamaxOptions = {},
): GradientTransformationExtraArgs<ScaleByAdamState> {
  return makeScaleByAdamax('scaleByAdamax', options);
}
