/** Gradient clipping, as `optax.clip` and `optax.clip_by_global_norm`. */

import type { EmptyState, GradientTransformationExtraArgs } from '../base.js';
import { statelessMember, withFusionTag } from '../base.js';
import { disposeLeaf, type LeafOps, leafOps, typedArrayOps } from '../leaf.js';
import { mapLeaves, treeL2Norm } from '../tree.js';
import { checkFinite } from '../validate.js';

/**
 * Clamps every element of the updates to `[-maxDelta, maxDelta]`, as `optax.clip`. NaN stays NaN.
 * `maxDelta` must be a finite number >= 0.
 *
 * @example
 * ```ts
 * const [u] = clip(1).update({ w: new Float64Array([-3, 0.5, 2]) }, {});
 * // { w: Float64Array [-1, 0.5, 1] }
 * ```
 */
export function clip(maxDelta: number): GradientTransformationExtraArgs<EmptyState> {
  const fn = 'clip';
  checkFinite(fn, 'maxDelta', maxDelta);
  if (maxDelta < 0)
    throw new RangeError(
      `clip: maxDelta must be >= 0 (the largest |update| allowed), got ${maxDelta}`,
    );
  const tx: GradientTransformationExtraArgs<EmptyState> = {
    init: () => ({}),
    update: (updates, state) => [
      mapLeaves(([u]) => leafOps(u).clip(u, -maxDelta, maxDelta), [updates], ['updates']),
      state,
    ],
    bindInPlace: () => ({
      cannotThrow: true,
      prepare() {},
      run(input, output) {
        for (let i = 0; i < input.length; i++)
          typedArrayOps.clip(input[i]!, -maxDelta, maxDelta, output[i]);
      },
    }),
  };
  return withFusionTag(tx, {
    kind: 'stage',
    name: fn,
    fuse: () => statelessMember('clip', [-maxDelta, maxDelta]),
  });
}

/**
 * One leaf of {@link clipByGlobalNorm}, shared by both paths: unchanged when `trigger`, else
 * `(u / gNorm) * maxNorm` (two roundings, in optax's order). `out` is absent on the functional path.
 */
function clipNormLeaf(
  ops: LeafOps,
  u: any,
  trigger: boolean,
  gNorm: number,
  maxNorm: number,
  out: any,
): any {
  if (trigger) {
    if (out !== undefined && out !== u) out.set(u);
    return out ?? u;
  }
  const q = ops.divide(u, gNorm, out);
  const r = ops.scale(q, maxNorm, out);
  if (out === undefined) disposeLeaf(q);
  return r;
}

/**
 * Rescales the updates so that their global norm (the Euclidean norm of all elements of all leaves)
 * is at most `maxNorm`, as `optax.clip_by_global_norm`: when `norm < maxNorm` the updates pass
 * unchanged, otherwise each becomes `(u / norm) * maxNorm`.
 *
 * Refusals and differences from optax: `maxNorm` must be finite and > 0 (with 0, optax turns a
 * zero update into 0/0 = NaN). When the global norm is not finite (a NaN or ±Infinity element,
 * or a sum of squares that overflows) the updates pass through unchanged, so the non-finite values
 * stay visible to `applyIfFinite` or to the caller, where optax silently returns NaN (or zeros).
 *
 * @example
 * ```ts
 * const [u] = clipByGlobalNorm(1).update({ a: 3, b: new Float64Array([4]) }, {});
 * // { a: 0.6, b: Float64Array [0.8] }
 * ```
 */
export function clipByGlobalNorm(maxNorm: number): GradientTransformationExtraArgs<EmptyState> {
  const fn = 'clipByGlobalNorm';
  checkFinite(fn, 'maxNorm', maxNorm);
  if (!(maxNorm > 0))
    throw new RangeError(
      `${fn}: maxNorm must be > 0 (the largest global norm allowed), got ${maxNorm}`,
    );
  return {
    init: () => ({}),
    update(updates, state) {
      const gNorm = treeL2Norm(updates, 'updates');
      const trigger = gNorm < maxNorm || !Number.isFinite(gNorm);
      const out = mapLeaves(
        ([u]) => clipNormLeaf(leafOps(u), u, trigger, gNorm, maxNorm, undefined),
        [updates],
        ['updates'],
      );
      return [out, state];
    },
    bindInPlace: () => ({
      cannotThrow: true,
      prepare() {},
      run(input, output) {
        let sumSq = 0;
        for (let i = 0; i < input.length; i++) sumSq += typedArrayOps.sumOfSquares(input[i]!);
        const gNorm = Math.sqrt(sumSq);
        const trigger = gNorm < maxNorm || !Number.isFinite(gNorm);
        for (let i = 0; i < input.length; i++)
          clipNormLeaf(typedArrayOps, input[i], trigger, gNorm, maxNorm, output[i]);
      },
    }),
  };
}
