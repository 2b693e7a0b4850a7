/** NovoGrad's layer-wise second moment, as `optax.scale_by_novograd`. */

import type { GradientTransformationExtraArgs } from '../base.js';
import { safeIncrement } from '../base.js';
import { floatKind, leafOps } from '../leaf.js';
import type { ArrayLeaf } from '../tree.js';
import { isContainer, mapLeaves, treeLeaves, treeMap, treeZerosLike } from '../tree.js';
import {
  checkCount,
  checkDecay,
  checkFinite,
  checkNonNegative,
  checkOptionKeys,
} from '../validate.js';
import { rnd } from './rounding.js';

type Float = Float32Array | Float64Array;

/** Options of {@link scaleByNovograd}, with optax's defaults. */
export interface ScaleByNovogradOptions {
  /** Decay of the first moment. Default 0.9. */
  b1?: number;
  /** Decay of the layer-wise second moment. Default 0.25. */
  b2?: number;
  /** Added to the denominator outside the square root. Default 1e-8. */
  eps?: number;
  /** Added inside the square root. Default 0. */
  epsRoot?: number;
  /** Weight decay added to the normalized gradient (`weightDecay * params`). Default 0. */
  weightDecay?: number;
}

/** The state of {@link scaleByNovograd} (optax's `ScaleByNovogradState`). */
export interface ScaleByNovogradState<T = any> {
  /** Steps made so far (int32, saturating). */
  count: number;
  /** The first moment, like the params. */
  mu: T;
  /** One second moment per leaf: a 0-d array (`shape: []`, one element) of the leaf's dtype. */
  nu: T;
}

interface Hp {
  b1: number;
  b2: number;
  eps: number;
  epsRoot: number;
  weightDecay: number;
}

/**
 * One typed-array leaf, shared by both paths: `n = |g|²` (the norm summed in float64 and rounded
 * to the dtype, then squared in the dtype), `nu = n` on the first step else `(1 - b2) n + b2 nu`,
 * `mu = g / (sqrt(nu + epsRoot) + eps) + wd p` plus `b1 mu` after the first step; the update is
 * the new `mu`. `out` may alias `g`; `muOut`/`nuOut` may alias `mu`/`nu`.
 */
function novogradLeaf(
  g: Float,
  p: Float,
  mu: Float,
  nu: Float,
  hp: Hp,
  first: boolean,
  muOut: Float,
  nuOut: Float,
  out: Float,
): void {
  const f32 = out instanceof Float32Array;
  let s = 0;
  for (let i = 0; i < g.length; i++) s += g[i]! * g[i]!;
  const norm = rnd(f32, Math.sqrt(s));
  const n2 = rnd(f32, norm * norm);
  const v = first
    ? n2
    : rnd(f32, rnd(f32, rnd(f32, 1 - hp.b2) * n2) + rnd(f32, rnd(f32, hp.b2) * nu[0]!));
  nuOut[0] = v;
  const den = rnd(f32, rnd(f32, Math.sqrt(rnd(f32, v + rnd(f32, hp.epsRoot)))) + rnd(f32, hp.eps));
  const wd = rnd(f32, hp.weightDecay);
  const b1 = rnd(f32, hp.b1);
  for (let i = 0; i < g.length; i++) {
    const add = rnd(f32, rnd(f32, g[i]! / den) + rnd(f32, wd * p[i]!));
    const m = first ? add : rnd(f32, rnd(f32, b1 * mu[i]!) + add);
    muOut[i] = m;
    out[i] = m;
  }
}

class NovogradLeafResult {
  constructor(
    readonly u: unknown,
    readonly mu: unknown,
    readonly nu: unknown,
  ) {}
}

/**
 * NovoGrad's rescaling, as `optax.scale_by_novograd`: each leaf's gradient is divided by the
 * root of a per-leaf (not per-element) average of its squared norm, `weightDecay * params` is
 * added, and the result is accumulated with momentum `b1` (optax's first step takes the
 * gradient's values as they are). Needs the params. Typed-array and number leaves.
 *
 * @example
 * ```ts
 * const tx = scaleByNovograd({ eps: 0 });
 * const p = { w: Float64Array.of(0, 0) };
 * const [u] = tx.update({ w: Float64Array.of(3, 4) }, tx.init(p), p);
 * // nu = |g|² = 25: u.w is g / 5 = [0.6, 0.8]
 * ```
 */
export function scaleByNovograd(
  options: ScaleByNovogradOptions = {},
): GradientTransformationExtraArgs<ScaleByNovogradState> {
  return scaleByNovogradFor('scaleByNovograd', options);
}

/**
 * {@link scaleByNovograd} with errors naming `fn` (the alias that made it).
 *
 * @example
 * ```ts
 * scaleByNovogradFor('novograd', { b2: 1 }); // RangeError: novograd: b2 must be in [0, 1), got 1
 * ```
 */
export function scaleByNovogradFor(
  fn: string,
  options: ScaleByNovogradOptions,
): GradientTransformationExtraArgs<ScaleByNovogradState> {
  checkOptionKeys(fn, options, ['b1', 'b2', 'eps', 'epsRoot', 'weightDecay']);
  const hp: Hp = {
    b1: checkFinite(fn, 'b1', options.b1 ?? 0.9),
    b2: checkDecay(fn, 'b2', options.b2 ?? 0.25),
    eps: checkNonNegative(fn, 'eps', options.eps ?? 1e-8),
    epsRoot: checkNonNegative(fn, 'epsRoot', options.epsRoot ?? 0),
    weightDecay: checkFinite(fn, 'weightDecay', options.weightDecay ?? 0),
  };
  const check = (state: unknown): ScaleByNovogradState => {
    if (
      !isContainer(state) ||
      Array.isArray(state) ||
      !('count' in state && 'mu' in state && 'nu' in state)
    )
      throw new TypeError(`${fn}.update: state must be { count, mu, nu } as made by ${fn}.init`);
    checkCount(`${fn}.update: state.count`, (state as unknown as ScaleByNovogradState).count);
    return state as unknown as ScaleByNovogradState;
  };
  const leafKind = (x: unknown, what: string) => {
    if (typeof x !== 'number' && floatKind(x) === undefined)
      throw new TypeError(
        `${fn}.${what}: ${leafOps(x).name} leaves are not supported (Float32Array, Float64Array or number leaves only)`,
      );
  };
  return {
    init(params) {
      return {
        count: 0,
        mu: treeZerosLike(params),
        nu: treeMap((p: unknown) => {
          leafKind(p, 'init');
          if (typeof p === 'number') return 0;
          return Object.assign(
            p instanceof Float32Array ? new Float32Array(1) : new Float64Array(1),
            {
              shape: [],
            },
          );
        }, params),
      };
    },
    update(updates, state, params) {
      const st = check(state);
      if (params === undefined || params === null)
        throw new TypeError(
          `${fn}.update: params are required (call update(updates, state, params))`,
        );
      const count = safeIncrement(st.count);
      const first = count === 1;
      // The leaves' sizes and kinds are checked as every update does.
      mapLeaves(() => null, [updates, st.mu, params], ['updates', 'state.mu', 'params']);
      const results = treeMap(
        (g: unknown, mu: unknown, nu: unknown, p: unknown) => {
          leafKind(g, 'update');
          if (typeof g === 'number') {
            const n2 = Math.abs(g) ** 2;
            const v = first ? n2 : (1 - hp.b2) * n2 + hp.b2 * (nu as number);
            const add = g / (Math.sqrt(v + hp.epsRoot) + hp.eps) + hp.weightDecay * (p as number);
            const m = first ? add : hp.b1 * (mu as number) + add;
            return new NovogradLeafResult(m, m, v);
          }
          const x = g as Float;
          const C = floatKind(mu) === 'f32' ? Float32Array : Float64Array;
          const muOut = leafOps(mu).zerosLike(mu) as Float;
          const nuOut = Object.assign(new C(1), { shape: [] });
          novogradLeaf(x, p as Float, mu as Float, nu as Float, hp, first, muOut, nuOut, muOut);
          return new NovogradLeafResult(muOut, muOut, nuOut);
        },
        updates,
        st.mu,
        st.nu,
        params,
      );
      const pick = (k: 'u' | 'mu' | 'nu') => treeMap((r: NovogradLeafResult) => r[k], results);
      return [pick('u'), { count, mu: pick('mu'), nu: pick('nu') }];
    },
    bindInPlace(state) {
      const st = state;
      const mu = treeLeaves<Float>(st.mu);
      const nu = treeLeaves<Float>(st.nu);
      let first = false;
      return {
        cannotThrow: true,
        prepare() {
          check(st);
          first = safeIncrement(st.count) === 1;
        },
        run(input, output, params) {
          for (let i = 0; i < input.length; i++)
            novogradLeaf(
              input[i]!,
              params[i] as ArrayLeaf,
              mu[i]!,
              nu[i]!,
              hp,
              first,
              mu[i]!,
              nu[i]!,
              output[i]!,
            );
          st.count = safeIncrement(st.count);
        },
      };
    },
  };
}
