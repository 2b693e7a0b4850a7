/** Layer-wise trust ratios, as `optax.scale_by_trust_ratio` (used by `lamb`, `lars`, `fromage`). */

import type { EmptyState, GradientTransformationExtraArgs } from '../base.js';
import { floatKind, type LeafOps, leafOps, typedArrayOps } from '../leaf.js';
import { isContainer, mapLeaves } from '../tree.js';
import { checkFinite, checkNonNegative, checkOptionKeys } from '../validate.js';
import { rnd } from './rounding.js';

type Float = Float32Array | Float64Array;

/** Options of {@link scaleByTrustRatio}, with optax's defaults. */
export interface ScaleByTrustRatioOptions {
  /** Norms below this are raised to it (0: no clipping). Default 0. */
  minNorm?: number;
  /** Multiplies the trust ratio. Default 1. */
  trustCoefficient?: number;
  /** Added to the update's norm in the denominator. Default 0. */
  eps?: number;
}

/**
 * The Euclidean norm of one leaf in its dtype: the squares are summed in float64 (in element
 * order), the square root is taken in float64 and the result rounded once to the leaf's dtype.
 * `optax.safe_norm(x, minNorm)`: a norm `<= minNorm` is `minNorm`.
 *
 * @example
 * ```ts
 * leafNorm(typedArrayOps, new Float32Array([3, 4]), 0); // 5
 * leafNorm(typedArrayOps, new Float32Array([0, 0]), 0.5); // 0.5
 * ```
 */
export function leafNorm(ops: LeafOps, x: unknown, minNorm: number): number {
  const f32 = ops.dtype(x) === 'float32';
  const norm = rnd(f32, Math.sqrt(ops.sumOfSquares(x)));
  const lo = rnd(f32, minNorm);
  return norm <= lo ? lo : norm;
}

/**
 * One leaf: `u * ratio` with `ratio = trustCoefficient * |p| / (|u| + eps)`, or 1 when either
 * norm is 0. In float32 every scalar operation is rounded to float32, as jnp does on float32
 * arrays. `out` is absent on the functional path; it may be `u`.
 */
function trustRatioLeaf(
  ops: LeafOps,
  u: unknown,
  p: unknown,
  minNorm: number,
  trustCoefficient: number,
  eps: number,
  out: unknown,
): unknown {
  const f32 = ops.dtype(u) === 'float32';
  const pn = leafNorm(ops, p, minNorm);
  const un = leafNorm(ops, u, minNorm);
  const ratio = rnd(f32, rnd(f32, rnd(f32, trustCoefficient) * pn) / rnd(f32, un + rnd(f32, eps)));
  const safe = pn === 0 || un === 0 ? 1 : ratio;
  return ops.scale(u, safe, out);
}

/**
 * {@link trustRatioLeaf} on typed arrays, the same operations written out, with the
 * hyperparameters in `hp` (`[minNorm, trustCoefficient, eps]`) so that a step passes and returns
 * no numbers (which the engine would box). `out` may be `u`.
 */
function trustRatioTyped(u: Float, p: Float, hp: Float64Array, out: Float): void {
  const f32 = u instanceof Float32Array;
  const pf32 = p instanceof Float32Array;
  let sp = 0;
  for (let i = 0; i < p.length; i++) sp += p[i]! * p[i]!;
  let su = 0;
  for (let i = 0; i < u.length; i++) su += u[i]! * u[i]!;
  const loP = rnd(pf32, hp[0]!);
  const loU = rnd(f32, hp[0]!);
  let pn = rnd(pf32, Math.sqrt(sp));
  if (pn <= loP) pn = loP;
  let un = rnd(f32, Math.sqrt(su));
  if (un <= loU) un = loU;
  const ratio = rnd(f32, rnd(f32, rnd(f32, hp[1]!) * pn) / rnd(f32, un + rnd(f32, hp[2]!)));
  const t = rnd(f32, pn === 0 || un === 0 ? 1 : ratio);
  for (let i = 0; i < u.length; i++) out[i] = rnd(f32, u[i]! * t);
}

/**
 * Scales each leaf of the updates by its trust ratio, as `optax.scale_by_trust_ratio`:
 * `trustCoefficient * norm(p) / (norm(u) + eps)` with both norms raised to `minNorm`, or 1 when
 * either norm is 0 (a param or update that is all zeros). Needs the params. The norm of a leaf is
 * summed in float64 and rounded once to the leaf's dtype (optax sums in the dtype, in an order
 * XLA chooses); the ratio and the product are then computed in the leaf's dtype.
 *
 * @example
 * ```ts
 * const tx = scaleByTrustRatio();
 * const [u] = tx.update({ w: Float64Array.of(3, 4) }, tx.init({}), { w: Float64Array.of(0, 10) });
 * // { w: Float64Array [6, 8] }: the update rescaled to the norm of the param (10 / 5 = 2)
 * ```
 */
export function scaleByTrustRatio(
  options: ScaleByTrustRatioOptions = {},
): GradientTransformationExtraArgs<EmptyState> {
  const fn = 'scaleByTrustRatio';
  checkOptionKeys(fn, options, ['minNorm', 'trustCoefficient', 'eps']);
  const minNorm = checkNonNegative(fn, 'minNorm', options.minNorm ?? 0);
  const trustCoefficient = checkFinite(fn, 'trustCoefficient', options.trustCoefficient ?? 1);
  const eps = checkNonNegative(fn, 'eps', options.eps ?? 0);
  const hp = Float64Array.of(minNorm, trustCoefficient, eps);
  return {
    init: () => ({}),
    update(updates, state, params) {
      if (!isContainer(state) || Array.isArray(state))
        throw new TypeError(`${fn}.update: state must be {} as made by ${fn}.init`);
      if (params === undefined || params === null)
        throw new TypeError(
          `${fn}.update: params are required (call update(updates, state, params)); the trust ratio uses the norm of each param`,
        );
      const out = mapLeaves(
        ([u, p]) => {
          if (floatKind(u) !== undefined && floatKind(p) !== undefined) {
            const o = typedArrayOps.zerosLike(u as Float) as Float;
            trustRatioTyped(u as Float, p as Float, hp, o);
            return o;
          }
          return trustRatioLeaf(leafOps(u), u, p, minNorm, trustCoefficient, eps, undefined);
        },
        [updates, params],
        ['updates', 'params'],
      );
      return [out, state];
    },
    bindInPlace: () => ({
      cannotThrow: true,
      prepare() {},
      run(input, output, params) {
        for (let i = 0; i < input.length; i++)
          trustRatioTyped(input[i]!, params[i] as Float, hp, output[i]!);
      },
    }),
  };
}
