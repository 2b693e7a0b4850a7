/**
 * Lookahead on plain params: the slow params move into the state, so that code that owns only
 * the fast params (a TF.js optimizer, a training loop written for ordinary transformations) can run
 * `lookahead`.
 */

import type {
  ExtraArgs,
  GradientTransformation,
  GradientTransformationExtraArgs,
} from '../base.js';
import { applyUpdates, disposeTree } from '../base.js';
import { isContainer } from '../tree.js';
import { checkTransformation, describeValue } from '../validate.js';
import { type LookaheadParams, lookaheadParams } from './lookahead.js';

/** The state of {@link slowParamsInState}: the wrapped state and the slow params. */
export interface SlowParamsState<S = unknown, T = any> {
  /** The state of the wrapped lookahead. */
  innerState: S;
  /** The slow params, kept in the state. */
  slow: T;
}

/**
 * Runs a transformation whose params are `{ fast, slow }` (`lookahead`) on plain params: `init`
 * copies the params into `state.slow`, `update(grads, state, params)` treats `params` as the fast
 * params, applies the slow updates to `state.slow` and returns the fast updates. The results are
 * those of `lookahead` with `applyUpdates` on both halves. Use it where only the fast params are
 * yours to update, such as `new TransformationOptimizer(slowParamsInState(lookahead(...)))` in
 * `optax-ts/tfjs`, whose `getWeights` then saves the slow params with the rest of the state.
 *
 * @example
 * ```ts
 * const tx = slowParamsInState(lookahead(radam(0.1), { syncPeriod: 2, slowStepSize: 0.5 }));
 * let p = { w: new Float64Array([1, 2]) };
 * let s = tx.init(p);
 * for (let i = 0; i < 2; i++) {
 *   const [u, next] = tx.update({ w: Float64Array.of(1, 1) }, s, p);
 *   [p, s] = [applyUpdates(p, u), next];
 * }
 * s.innerState.stepsSinceSync; // 0
 * Math.abs(p.w[0] - s.slow.w[0]) < 1e-12; // true
 * ```
 */
export function slowParamsInState<S>(
  tx: GradientTransformation<S>,
): GradientTransformationExtraArgs<SlowParamsState<S>> {
  const fn = 'slowParamsInState';
  checkTransformation(fn, 'tx', tx);
  const inner = tx as GradientTransformationExtraArgs<S>;
  return {
    init(params) {
      const pair = lookaheadParams(params);
      const innerState = inner.init(pair as never);
      return { innerState, slow: pair.slow };
    },
    update(updates, state, params, extraArgs?: ExtraArgs) {
      if (
        !isContainer(state) ||
        Array.isArray(state) ||
        !('innerState' in state) ||
        !('slow' in state)
      )
        throw new TypeError(
          `${fn}.update: state must be { innerState, slow } as made by ${fn}.init, got ${
            isContainer(state)
              ? `an object with keys [${Object.keys(state).sort().join(', ')}]`
              : typeof state
          }`,
        );
      const pair: LookaheadParams = { fast: params, slow: state.slow };
      const result: unknown = inner.update(updates, state.innerState, pair as never, extraArgs);
      if (!Array.isArray(result) || result.length !== 2)
        throw new TypeError(
          `${fn}.update: tx.update must return [updates, state], got ${describeValue(result)}`,
        );
      const [u, innerState] = result as [unknown, S];
      const both = u as unknown as LookaheadParams;
      const slow = applyUpdates(state.slow, both.slow);
      disposeTree(both.slow);
      return [both.fast, { innerState, slow }];
    },
  };
}
