/** Adadelta's rescaling, as `optax.scale_by_adadelta`. */
import type { GradientTransformationExtraArgs } from '../base.js';
import { checkDecay, checkNonNegative, checkOptionKeys } from '../validate.js';
import { type ElementwiseState, elementwise } from './elementwise.js';

/** Options of {@link scaleByAdadelta} (and of `adadelta`), with optax's defaults. */
export interface ScaleByAdadeltaOptions {
  /** Decay of both running averages, in [0, 1). Default 0.9. */
  rho?: number;
  /** Added inside both square roots. Default 1e-6. */
  eps?: number;
}

/** The option names {@link scaleByAdadelta} accepts. */
export const ADADELTA_OPTIONS = ['rho', 'eps'] as const;

/**
 * {@link scaleByAdadelta} with the caller's name in errors (`adadelta` builds its rescaling with it).
 *
 * @example
 * ```ts
 * makeScaleByAdadelta('adadelta', { rho: 1 }); // RangeError: adadelta: rho must be in [0, 1), got 1
 * ```
 */
export function makeScaleByAdadelta(
  fn: string,
  options: ScaleByAdadeltaOptions,
): GradientTransformationExtraArgs<ElementwiseState> {
  checkOptionKeys(fn, options, ADADELTA_OPTIONS);
  const rho = checkDecay(fn, 'rho', options.rho ?? 0.9);
  const eps = checkNonNegative(fn, 'eps', options.eps ?? 1e-6);
  return elementwise({
    fn,
    stages: ['adadelta'],
    arrays: [{ key: 'eG' }, { key: 'eX' }],
    counted: false,
    constants: { a: 1 - rho, rho, eps },
  });
}

/**
 * Rescales updates with Adadelta (Zeiler, 2012), as `optax.scale_by_adadelta`:
 * `eG = (1 - rho) g² + rho eG`, the update is `(sqrt(eX + eps) / sqrt(eG + eps)) g` (with the
 * previous `eX`), then `eX = (1 - rho) u² + rho eX`. The state is optax's `ScaleByAdaDeltaState`
 * `{ eG, eX }` (`e_g`, `e_x`). `rho` must be in [0, 1), `eps` >= 0.
 *
 * @example
 * ```ts
 * const tx = scaleByAdadelta({ rho: 0.75, eps: 1 });
 * const [u] = tx.update({ w: 2 }, tx.init({ w: 0 })); // { w: 1.414213562373095 }
 * ```
 */
export function scaleByAdadelta(
  options: ScaleByAdadeltaOptions = {},
): GradientTransformationExtraArgs<ElementwiseState> {
  return makeScaleByAdadelta('scaleByAdadelta', options);
}
