/**
 * The momentum of `adafactor`: an exponential moving average of the updates without bias
 * correction, stored in a chosen dtype, as `optax.ema(decay, debias=False, accumulator_dtype)`.
 * (Internal: the catalogue's general `ema` may replace it; the state is optax's `EmaState`.)
 */

import type { GradientTransformationExtraArgs } from '../base.js';
import { safeIncrement } from '../base.js';
import { floatKind, leafOps, typedArrayOps } from '../leaf.js';
import { withShapeOf } from '../shape.js';
import type { ArrayLeaf } from '../tree.js';
import { isContainer, mapLeaves, treeLeaves, treeMap } from '../tree.js';
import { checkCount } from '../validate.js';
import { rnd } from './rounding.js';

/** The state: optax's `EmaState`. */
export interface EmaAverageState<T = any> {
  /** Steps made so far (int32, saturating). */
  count: number;
  /** The average, in the accumulator dtype. */
  ema: T;
}

type Float = Float32Array | Float64Array;

function castTo(x: unknown, dtype: 'float32' | 'float64' | null): unknown {
  const kind = floatKind(x);
  if (dtype === null || kind === undefined) return x;
  if ((kind === 'f32') === (dtype === 'float32')) return x;
  const out = dtype === 'float32' ? Float32Array.from(x as Float) : Float64Array.from(x as Float);
  return withShapeOf(out, x);
}

/**
 * `(1 - d) u + d e` into `out` (typed like `out`, `e` already in its dtype), as
 * `typedArrayOps.linearCombination` computes it, with `d = hp[0]` (no number passed per call).
 */
function emaTyped(u: ArrayLeaf, e: ArrayLeaf, hp: Float64Array, out: ArrayLeaf): void {
  const f32 = out instanceof Float32Array;
  const a = rnd(f32, 1 - hp[0]!);
  const b = rnd(f32, hp[0]!);
  for (let i = 0; i < out.length; i++) out[i] = rnd(f32, rnd(f32, a * u[i]!) + rnd(f32, b * e[i]!));
}

/**
 * `ema = (1 - decay) * u + decay * ema` (in the updates' dtype; the stored average is cast to
 * `dtype`), and the updates are the new average.
 *
 * @example
 * ```ts
 * const tx = emaAverage(0.5, null);
 * const [u] = tx.update({ w: 2 }, tx.init({ w: 0 })); // { w: 1 }
 * ```
 */
export function emaAverage(
  decay: number,
  dtype: 'float32' | 'float64' | null,
): GradientTransformationExtraArgs<EmaAverageState> {
  const fn = 'ema';
  const check = (state: unknown): EmaAverageState => {
    if (!isContainer(state) || Array.isArray(state) || !('count' in state) || !('ema' in state))
      throw new TypeError(`${fn}.update: state must be { count, ema } as made by ${fn}.init`);
    checkCount(`${fn}.update: state.count`, (state as unknown as EmaAverageState).count);
    return state as unknown as EmaAverageState;
  };
  return {
    init: (params) => ({
      count: 0,
      ema: treeMap((p: unknown) => castTo(leafOps(p).zerosLike(p), dtype), params),
    }),
    update(updates, state) {
      const st = check(state);
      const next = mapLeaves(
        ([u, e]) => leafOps(u).linearCombination(1 - decay, u, decay, e),
        [updates, st.ema],
        ['updates', 'state.ema'],
      );
      const ema = treeMap((x: unknown) => castTo(x, dtype), next);
      return [next, { count: safeIncrement(st.count), ema }];
    },
    bindInPlace(state, params) {
      const st = state;
      const hp = Float64Array.of(decay);
      const ema = treeLeaves<ArrayLeaf>(st.ema);
      // A copy of the average in the updates' (params') dtype where they differ, filled each step.
      const tmp = treeLeaves<ArrayLeaf>(params).map((p, i) =>
        p.constructor === ema[i]!.constructor ? undefined : typedArrayOps.zerosLike(p),
      );
      return {
        cannotThrow: true,
        prepare() {
          check(st);
        },
        run(input, output) {
          for (let i = 0; i < input.length; i++) {
            const t = tmp[i];
            let e: ArrayLeaf = ema[i]!;
            if (t !== undefined) {
              t.set(e);
              e = t;
            }
            emaTyped(input[i]!, e, hp, output[i]!);
            ema[i]!.set(output[i]!);
          }
          st.count = safeIncrement(st.count);
        },
      };
    },
  };
}
