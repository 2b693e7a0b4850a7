/** Gradient centralization, as `optax.centralize`. */

import type { EmptyState, GradientTransformationExtraArgs } from '../base.js';
import { floatKind, leafOps } from '../leaf.js';
import { type Shape, shapeOf, withShapeOf } from '../shape.js';
import type { ArrayLeaf } from '../tree.js';
import { isContainer, mapLeaves, treeLeaves } from '../tree.js';
import { rnd } from './rounding.js';

type Float = Float32Array | Float64Array;

/**
 * One leaf: each slice along the first axis minus its mean (summed in float64 in element order,
 * rounded once to the dtype); leaves of fewer than 2 dimensions are copied. `out` may be `g`.
 */
function centralizeLeaf(g: Float, shape: Shape | undefined, out: Float): Float {
  if (shape === undefined || shape.length < 2) {
    if (out !== g) out.set(g);
    return out;
  }
  const f32 = out instanceof Float32Array;
  const rows = shape[0]!;
  const cols = rows === 0 ? 0 : g.length / rows;
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let k = 0; k < cols; k++) s += g[r * cols + k]!;
    const mean = rnd(f32, s / cols);
    for (let k = 0; k < cols; k++) out[r * cols + k] = rnd(f32, g[r * cols + k]! - mean);
  }
  return out;
}

/**
 * Centralizes gradients, as `optax.centralize`: a leaf of 2 or more dimensions (its `shape`,
 * else its param's when `update` is given the params; the in-place `Optimizer` always has them)
 * has the mean over all axes but the first subtracted (each slice `g[i]` loses its own mean);
 * leaves of 0 or 1 dimensions (and arrays without a shape) pass unchanged. Typed-array and
 * number leaves.
 *
 * @example
 * ```ts
 * const g = Object.assign(Float64Array.of(1, 2, 3, 4, 5, 6), { shape: [2, 3] });
 * const [u] = centralize().update({ g }, {}); // { g: Float64Array [-1, 0, 1, -1, 0, 1] }
 * ```
 */
export function centralize(): GradientTransformationExtraArgs<EmptyState> {
  const fn = 'centralize';
  return {
    init: () => ({}),
    update(updates, state, params) {
      if (!isContainer(state) || Array.isArray(state))
        throw new TypeError(`${fn}.update: state must be {} as made by ${fn}.init`);
      const withParams = params !== undefined && params !== null;
      const out = mapLeaves(
        ([g, p]) => {
          if (typeof g === 'number') return g;
          if (floatKind(g) === undefined)
            throw new TypeError(
              `${fn}.update: ${leafOps(g).name} leaves are not supported (Float32Array, Float64Array or number leaves only)`,
            );
          const x = g as Float;
          const shape = shapeOf(x) ?? shapeOf(p);
          return centralizeLeaf(x, shape, withShapeOf(leafOps(x).zerosLike(x) as Float, p));
        },
        withParams ? [updates, params] : [updates],
        ['updates', 'params'],
      );
      return [out, state];
    },
    bindInPlace: (_state, params) => {
      // Each leaf's shape, from the params (the updates' buffers may have none).
      const shapes = treeLeaves<ArrayLeaf>(params).map((p) => shapeOf(p));
      return {
        cannotThrow: true,
        prepare() {},
        run(input, output) {
          for (let i = 0; i < input.length; i++)
            centralizeLeaf(input[i]!, shapeOf(input[i]) ?? shapes[i], output[i]!);
        },
      };
    },
  };
}
