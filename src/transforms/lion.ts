/** Lion's rescaling, as `optax.scale_by_lion`. */
import type { GradientTransformationExtraArgs } from '../base.js';
import { checkDecay, checkOptionKeys } from '../validate.js';
import { type ElementwiseState, elementwise } from './elementwise.js';

/** Options of {@link scaleByLion} (and of `lion`), with optax's defaults. */
export interface ScaleByLionOptions {
  /** Decay of the momentum mixed into the update's sign. Default 0.9. */
  b1?: number;
  /** Decay of the momentum kept in the state. Default 0.99. */
  b2?: number;
}

/** The option names {@link scaleByLion} accepts. */
export const LION_OPTIONS = ['b1', 'b2'] as const;

/**
 * Rescales updates with Lion (Chen et al., 2023), as `optax.scale_by_lion`: the update is
 * `sign((1 - b1) g + b1 mu)`, then `mu = (1 - b2) g + b2 mu`. The state is optax's
 * `ScaleByLionState` `{ count, mu }`. `b1`, `b2` must be in [0, 1).
 *
 * @example
 * ```ts
 * const tx = scaleByLion();
 * const [u] = tx.update({ w: new Float32Array([0.5, -2, 0]) }, tx.init({ w: new Float32Array(3) }));
 * // { w: Float32Array [1, -1, 0] }
 * ```
 */
export function scaleByLion(
  options: ScaleByLionOptions = {},
): GradientTransformationExtraArgs<ElementwiseState> {
  return makeScaleByLion('scaleByLion', options);
}

/** {@link scaleByLion}, its errors naming `fn` (the alias the user called). */
export function makeScaleByLion(
  fn: string,
  options: ScaleByLionOptions = {},
): GradientTransformationExtraArgs<ElementwiseState> {
  checkOptionKeys(fn, options, LION_OPTIONS);
  const b1 = checkDecay(fn, 'b1', options.b1 ?? 0.9);
  const b2 = checkDecay(fn, 'b2', options.b2 ?? 0.99);
  return elementwise({
    fn,
    stages: ['lion'],
    arrays: [{ key: 'mu' }],
    counted: true,
    constants: { a1: 1 - b1, b1, a2: 1 - b2, b2 },
  });
}
