/** Skipping non-finite steps, as `optax.apply_if_finite`. */

import type {
  ExtraArgs,
  GradientTransformation,
  GradientTransformationExtraArgs,
} from '../base.js';
import { safeIncrement } from '../base.js';
import { typedArrayOps } from '../leaf.js';
import { isContainer, treeAllFinite, treeZerosLike } from '../tree.js';
import { checkCount, checkInteger, checkTransformation } from '../validate.js';

/** The state of {@link applyIfFinite} (optax's `ApplyIfFiniteState`). */
export interface ApplyIfFiniteState<S = unknown> {
  /** Consecutive steps with a NaN or ±Infinity gradient; reset to 0 by a finite one. */
  notfiniteCount: number;
  /** Whether the last step's gradients were all finite. */
  lastFinite: boolean;
  /** Steps with a non-finite gradient since `init`; never reset. */
  totalNotfinite: number;
  /** The state of the wrapped transformation, untouched by skipped steps. */
  innerState: S;
}

function checkState(fn: string, state: unknown): asserts state is ApplyIfFiniteState {
  const s = state as ApplyIfFiniteState;
  if (
    !isContainer(s) ||
    typeof s.notfiniteCount !== 'number' ||
    typeof s.lastFinite !== 'boolean' ||
    typeof s.totalNotfinite !== 'number' ||
    !('innerState' in s)
  )
    throw new TypeError(
      `${fn}.update: state must be { notfiniteCount, lastFinite, totalNotfinite, innerState } as made by ${fn}.init`,
    );
}

function tooMany(fn: string, count: number, max: number): Error {
  return new RangeError(
    `${fn}: ${count} consecutive steps had NaN or infinite gradients, more than maxConsecutiveErrors = ${max}; refusing to apply a non-finite step (optax would apply it and corrupt the inner state). The state is unchanged`,
  );
}

/**
 * Wraps `inner` so that a step whose gradients contain NaN or ±Infinity is dropped, as
 * `optax.apply_if_finite`: the updates are zeros, the inner state is kept as it was, and the
 * counters `notfiniteCount` / `lastFinite` / `totalNotfinite` record it. A finite step runs `inner`
 * and resets `notfiniteCount`.
 *
 * Difference from optax, deliberately: once more than `maxConsecutiveErrors` consecutive steps are
 * non-finite, optax gives up and applies the non-finite step (NaN then fills the params and the
 * inner state); here `update` throws a `RangeError` instead, with nothing changed. With the in-place
 * `Optimizer`, put `applyIfFinite` outermost so that it sees the gradients before any other member
 * runs.
 *
 * @example
 * ```ts
 * const tx = applyIfFinite(radam(1e-3), 3);
 * let state = tx.init(params);
 * const before = state.innerState;
 * [updates, state] = tx.update({ w: new Float32Array([NaN, 1, 1]) }, state, params);
 * updates; // { w: Float32Array [0, 0, 0] }
 * state.innerState === before; // true
 * state.notfiniteCount; // 1
 * ```
 */
export function applyIfFinite<S>(
  inner: GradientTransformation<S>,
  maxConsecutiveErrors: number,
): GradientTransformationExtraArgs<ApplyIfFiniteState<S>> {
  const fn = 'applyIfFinite';
  checkTransformation(fn, 'inner', inner);
  checkInteger(fn, 'maxConsecutiveErrors', maxConsecutiveErrors, 0);
  const tx: GradientTransformationExtraArgs<ApplyIfFiniteState<S>> = {
    init: (params) => ({
      notfiniteCount: 0,
      lastFinite: true,
      totalNotfinite: 0,
      innerState: inner.init(params),
    }),
    update(updates, state, params, extraArgs) {
      checkState(fn, state);
      if (treeAllFinite(updates)) {
        const [u, innerState] = (inner as GradientTransformationExtraArgs<S>).update(
          updates,
          state.innerState as S,
          params,
          extraArgs,
        );
        return [
          u,
          { notfiniteCount: 0, lastFinite: true, totalNotfinite: state.totalNotfinite, innerState },
        ];
      }
      const count = safeIncrement(state.notfiniteCount);
      if (count > maxConsecutiveErrors) throw tooMany(fn, count, maxConsecutiveErrors);
      return [
        treeZerosLike(updates),
        {
          notfiniteCount: count,
          lastFinite: false,
          totalNotfinite: safeIncrement(state.totalNotfinite),
          innerState: state.innerState as S,
        },
      ];
    },
  };
  if (typeof inner.bindInPlace === 'function') {
    tx.bindInPlace = (state, params) => {
      const step = inner.bindInPlace!(state.innerState, params);
      const what = [`${fn}.update: state.notfiniteCount`, `${fn}.update: state.totalNotfinite`];
      return {
        // It throws in run after too many non-finite steps.
        cannotThrow: false,
        prepare(extraArgs: ExtraArgs | undefined) {
          checkState(fn, state);
          checkCount(what[0]!, state.notfiniteCount);
          checkCount(what[1]!, state.totalNotfinite);
          step.prepare(extraArgs);
        },
        run(input, output, params) {
          let finite = true;
          for (let i = 0; i < input.length && finite; i++)
            finite = typedArrayOps.allFinite(input[i]!);
          if (finite) {
            step.run(input, output, params);
            state.notfiniteCount = 0;
            state.lastFinite = true;
            return;
          }
          const count = safeIncrement(state.notfiniteCount);
          if (count > maxConsecutiveErrors) throw tooMany(fn, count, maxConsecutiveErrors);
          for (let i = 0; i < output.length; i++) output[i]!.fill(0);
          state.notfiniteCount = count;
          state.lastFinite = false;
          state.totalNotfinite = safeIncrement(state.totalNotfinite);
        },
      };
    };
  }
  return tx;
}
