/** The sign of the updates, as `optax.scale_by_sign`. */
import type { GradientTransformationExtraArgs } from '../base.js';
import { type ElementwiseState, elementwise } from './elementwise.js';

/**
 * Replaces every update element by its sign, as `optax.scale_by_sign` (`jnp.sign`): 1 or -1, with
 * ±0 and NaN kept as they are. Keeps no state (`{}`).
 *
 * @example
 * ```ts
 * const [u] = scaleBySign().update({ w: new Float32Array([3, -0.5, 0]) }, {});
 * // { w: Float32Array [1, -1, 0] }
 * ```
 */
export function scaleBySign(): GradientTransformationExtraArgs<ElementwiseState> {
  return elementwise({ fn: 'scaleBySign', stages: ['sign'], arrays: [], counted: false });
}
