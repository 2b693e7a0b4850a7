/** SM3's memory-efficient second moments, as `optax.scale_by_sm3`. */

import type { GradientTransformationExtraArgs } from '../base.js';
import { floatKind, leafOps } from '../leaf.js';
import { type Shape, shapeOf } from '../shape.js';
import { isContainer, mapLeaves, treeLeaves, treeMap, treeZerosLike } from '../tree.js';
import { checkFinite, checkNonNegative, checkOptionKeys } from '../validate.js';
import { rnd } from './rounding.js';

type Float = Float32Array | Float64Array;

/** Options of {@link scaleBySm3}, with optax's defaults. */
export interface ScaleBySm3Options {
  /** Decay of the average of the rescaled gradients. Default 0.9. */
  b1?: number;
  /** Decay of the squared gradients' accumulator (1: a plain sum, as SM3). Default 1. */
  b2?: number;
  /** Added before the inverse square root. Default 1e-8. */
  eps?: number;
}

/** The state of {@link scaleBySm3} (optax's `ScaleBySM3State`). */
export interface ScaleBySm3State<T = any> {
  /** Per leaf, one vector per dimension (`shape[i]` elements): the accumulator's maxima. */
  mu: T;
  /** The average of the rescaled gradients, like the params. */
  nu: T;
}

/** Scratch of one leaf: the new maxima (one per dimension) and the multi-index. */
interface Work {
  shape: Shape;
  next: Float64Array[];
  index: Int32Array;
}

function workFor(shape: Shape): Work {
  return {
    shape,
    next: shape.map((d) => new Float64Array(d)),
    index: new Int32Array(shape.length),
  };
}

/**
 * One leaf, shared by both paths: `accum = c0 g² + b2 min_i mu_i[idx_i]` (`c0 = 1 - b2`, or 1
 * when `b2 = 1`), `up = g * (accum > 0 ? (accum + eps)^-0.5 : 0)`, `nu = (1 - b1) up + b1 nu`
 * (the update), and `mu_i` = the maximum of `accum` over every axis but `i`. In the leaf's
 * dtype, the inverse square root computed in float64 and rounded once. `out` may alias `g`.
 */
function sm3Leaf(
  g: Float,
  mu: readonly Float[],
  nu: Float,
  hp: Float64Array,
  w: Work,
  nuOut: Float,
  muOut: readonly Float[],
  out: Float,
): void {
  const f32 = out instanceof Float32Array;
  // [b1, b2, eps] come in `hp` so that a step passes no numbers (which the engine would box).
  const b1 = hp[0]!;
  const b2 = hp[1]!;
  const eps = hp[2]!;
  const c0 = rnd(f32, b2 !== 1 ? 1 - b2 : 1);
  const c1 = rnd(f32, b2);
  const e = rnd(f32, eps);
  const a1 = rnd(f32, 1 - b1);
  const d1 = rnd(f32, b1);
  const { shape, next, index } = w;
  const nd = shape.length;
  for (let d = 0; d < nd; d++) {
    const v = next[d]!;
    for (let k = 0; k < v.length; k++) v[k] = Number.NEGATIVE_INFINITY;
    index[d] = 0;
  }
  for (let i = 0; i < g.length; i++) {
    let lo = Number.POSITIVE_INFINITY;
    for (let d = 0; d < nd; d++) {
      const v = mu[d]![index[d]!]!;
      // jnp.minimum: NaN wins.
      lo = v < lo || Number.isNaN(v) ? v : lo;
    }
    const gi = g[i]!;
    const accum = rnd(f32, rnd(f32, c0 * rnd(f32, gi * gi)) + rnd(f32, c1 * lo));
    const inv = accum > 0 ? rnd(f32, 1 / Math.sqrt(rnd(f32, accum + e))) : 0;
    const up = rnd(f32, gi * inv);
    const n = rnd(f32, rnd(f32, a1 * up) + rnd(f32, d1 * nu[i]!));
    nuOut[i] = n;
    out[i] = n;
    for (let d = 0; d < nd; d++) {
      const k = index[d]!;
      const m = next[d]![k]!;
      next[d]![k] = accum > m || Number.isNaN(accum) ? accum : m;
    }
    // Next multi-index (row-major).
    for (let d = nd - 1; d >= 0; d--) {
      index[d] = index[d]! + 1;
      if (index[d]! < shape[d]!) break;
      index[d] = 0;
    }
  }
  for (let d = 0; d < nd; d++) muOut[d]!.set(next[d]!);
}

/** A leaf's shape: its own, else its param's, else a vector. */
function shapeFor(x: Float, ...likes: unknown[]): Shape {
  let s = shapeOf(x);
  for (const l of likes) s ??= shapeOf(l);
  return s ?? [x.length];
}

class Sm3LeafResult {
  constructor(
    readonly nu: unknown,
    readonly mu: unknown,
  ) {}
}

/**
 * SM3's rescaling, as `optax.scale_by_sm3`. Each leaf of `d` dimensions (its `shape`; an array
 * without one is a vector) keeps one vector per dimension; an element's accumulator is
 * `(1 - b2) g² + b2 * min_i mu_i` (with `b2 = 1`: `g² + min_i mu_i`), the step is `g /
 * sqrt(accum + eps)` (0 where the accumulator is 0) averaged with momentum `b1`, and each `mu_i`
 * becomes the maximum of the accumulator over the other axes. Typed-array leaves of at least one
 * dimension (optax fails on 0-d leaves too).
 *
 * @example
 * ```ts
 * const tx = scaleBySm3({ eps: 0 });
 * const p = { w: Object.assign(new Float64Array(4), { shape: [2, 2] }) };
 * const [u] = tx.update({ w: Float64Array.of(1, 2, 3, 4) }, tx.init(p), p);
 * // accum = g² on the first step, so up = sign(g) and u = 0.1 * [1, 1, 1, 1]
 * ```
 */
export function scaleBySm3(
  options: ScaleBySm3Options = {},
): GradientTransformationExtraArgs<ScaleBySm3State> {
  return scaleBySm3For('scaleBySm3', options);
}

/**
 * {@link scaleBySm3} with errors naming `fn` (the alias that made it).
 *
 * @example
 * ```ts
 * scaleBySm3For('sm3', { eps: -1 }); // RangeError: sm3: eps must be >= 0 and finite, got -1
 * ```
 */
export function scaleBySm3For(
  fn: string,
  options: ScaleBySm3Options,
): GradientTransformationExtraArgs<ScaleBySm3State> {
  checkOptionKeys(fn, options, ['b1', 'b2', 'eps']);
  const b1 = checkFinite(fn, 'b1', options.b1 ?? 0.9);
  const b2 = checkFinite(fn, 'b2', options.b2 ?? 1);
  const eps = checkNonNegative(fn, 'eps', options.eps ?? 1e-8);
  const hp = Float64Array.of(b1, b2, eps);
  const checkLeaf = (x: unknown, what: string) => {
    if (floatKind(x) === undefined)
      throw new TypeError(
        `${fn}.${what}: ${typeof x === 'number' ? 'number' : leafOps(x).name} leaves are not supported (Float32Array or Float64Array leaves of at least one dimension)`,
      );
  };
  const check = (state: unknown): ScaleBySm3State => {
    if (!isContainer(state) || Array.isArray(state) || !('mu' in state) || !('nu' in state))
      throw new TypeError(`${fn}.update: state must be { mu, nu } as made by ${fn}.init`);
    return state as unknown as ScaleBySm3State;
  };
  /** The mu vectors of each leaf, in leaf order, checked against the shapes. */
  const groups = (muTree: unknown, shapes: Shape[], C: (i: number) => unknown): Float[][] => {
    const flat = treeLeaves<Float>(muTree);
    let at = 0;
    return shapes.map((s, i) => {
      const group = flat.slice(at, at + s.length);
      at += s.length;
      s.forEach((d, k) => {
        const v = group[k];
        if (v === undefined || v.length !== d || v.constructor !== C(i))
          throw new TypeError(
            `${fn}.update: state.mu does not match the leaves' shapes (leaf ${i} of shape [${s.join(', ')}] needs ${s.length} vectors of lengths ${s.join(', ')})`,
          );
      });
      return group;
    });
  };
  return {
    init(params) {
      return {
        mu: treeMap((p: unknown) => {
          checkLeaf(p, 'init');
          const x = p as Float;
          const C = x instanceof Float32Array ? Float32Array : Float64Array;
          return shapeFor(x).map((d) => Object.assign(new C(d), { shape: [d] }));
        }, params),
        nu: treeZerosLike(params),
      };
    },
    update(updates, state) {
      const st = check(state);
      const [gs, nus] = [treeLeaves<Float>(updates), treeLeaves<Float>(st.nu)];
      mapLeaves(
        ([g]) => {
          checkLeaf(g, 'update');
          return null;
        },
        [updates, st.nu],
        ['updates', 'state.nu'],
      );
      const shapes = gs.map((g, i) => shapeFor(g, nus[i]));
      const mus = groups(st.mu, shapes, (i) => nus[i]!.constructor);
      const results = gs.map((g, i) => {
        const nu = nus[i]!;
        const nuOut = leafOps(nu).zerosLike(nu) as Float;
        const muOut = mus[i]!.map((v) => leafOps(v).zerosLike(v) as Float);
        sm3Leaf(g, mus[i]!, nu, hp, workFor(shapes[i]!), nuOut, muOut, nuOut);
        return new Sm3LeafResult(nuOut, muOut);
      });
      let k = 0;
      const rebuilt = treeMap(() => results[k++], updates);
      const nu = treeMap((r: Sm3LeafResult) => r.nu, rebuilt);
      return [
        nu,
        {
          mu: treeMap((r: Sm3LeafResult) => r.mu, rebuilt),
          nu: treeMap((r: Sm3LeafResult) => r.nu, rebuilt),
        },
      ];
    },
    bindInPlace(state, params) {
      const st = state;
      const nus = treeLeaves<Float>(st.nu);
      const ps = treeLeaves<Float>(params);
      const shapes = ps.map((p, i) => shapeFor(p, nus[i]));
      const mus = groups(st.mu, shapes, (i) => nus[i]!.constructor);
      const works = shapes.map(workFor);
      return {
        cannotThrow: true,
        prepare() {
          check(st);
        },
        run(input, output) {
          for (let i = 0; i < input.length; i++)
            sm3Leaf(input[i]!, mus[i]!, nus[i]!, hp, works[i]!, nus[i]!, mus[i]!, output[i]!);
        },
      };
    },
  };
}
