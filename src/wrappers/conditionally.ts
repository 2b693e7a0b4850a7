/** Running a transformation only at some steps: `optax.conditionally_transform` and `conditionally_mask`. */

import type {
  ExtraArgs,
  GradientTransformation,
  GradientTransformationExtraArgs,
  InPlaceStep,
} from '../base.js';
import { safeIncrement } from '../base.js';
import { isContainer, treeZerosLike } from '../tree.js';
import { checkBoolean, checkCount, checkOptionKeys, checkTransformation } from '../validate.js';

/**
 * Decides whether the inner transformation runs: called with the number of previous `update`
 * calls (`step`, from 0) and, with `forwardExtraArgs`, the extra arguments. Must return a boolean.
 */
export type ConditionFn = (step: number, extraArgs?: ExtraArgs) => boolean;

/** Options of {@link conditionallyTransform} and {@link conditionallyMask}. */
export interface ConditionallyOptions {
  /** Pass the update's extra arguments to `shouldTransformFn`. Default false. */
  forwardExtraArgs?: boolean;
}

/** The state of {@link conditionallyTransform} (optax's `ConditionallyTransformState`). */
export interface ConditionallyTransformState<S = unknown> {
  /** The inner state, advanced only at the steps where the inner transformation runs. */
  innerState: S;
  /** Calls of `update` so far (int32, saturating). */
  step: number;
}

/** The state of {@link conditionallyMask} (optax's `ConditionallyMaskState`). */
export interface ConditionallyMaskState<S = unknown> {
  /** Calls of `update` so far (int32, saturating). */
  step: number;
  /** The inner state, advanced only at the steps where the inner transformation runs. */
  innerState: S;
}

type State = { step: number; innerState: unknown };

function checkState(fn: string, stepWhat: string, state: unknown): asserts state is State {
  if (
    !isContainer(state) ||
    typeof (state as State).step !== 'number' ||
    !('innerState' in (state as State))
  )
    throw new TypeError(`${fn}.update: state must be { step, innerState } as made by ${fn}.init`);
  checkCount(stepWhat, (state as State).step);
}

/** The extra arguments a predicate receives when there are none (shared: nothing allocated per step). */
const NO_EXTRA_ARGS: ExtraArgs = Object.freeze({});

/** The predicate's answer at `step`; anything but a boolean throws. */
function decide(
  fn: string,
  should: ConditionFn,
  forward: boolean,
  step: number,
  extraArgs: ExtraArgs | undefined,
): boolean {
  const r = forward ? should(step, extraArgs ?? NO_EXTRA_ARGS) : should(step);
  if (typeof r !== 'boolean')
    throw new TypeError(
      `${fn}: shouldTransformFn must return true or false, got ${typeof r === 'number' ? `number ${r}` : typeof r} at step ${step}`,
    );
  return r;
}

/** Both wrappers: `mask` says whether a skipped step gives zeros (else the updates unchanged). */
function conditionally<S>(
  fn: string,
  mask: boolean,
  inner: GradientTransformation<S>,
  shouldTransformFn: ConditionFn,
  options: ConditionallyOptions,
): GradientTransformationExtraArgs<any> {
  checkTransformation(fn, 'inner', inner);
  if (typeof shouldTransformFn !== 'function')
    throw new TypeError(
      `${fn}: shouldTransformFn must be a function (step) => boolean, got ${typeof shouldTransformFn}`,
    );
  checkOptionKeys(fn, options, ['forwardExtraArgs']);
  const forward = checkBoolean(fn, 'forwardExtraArgs', options.forwardExtraArgs ?? false);
  const innerTx = inner as GradientTransformationExtraArgs<S>;
  const stepWhat = `${fn}.update: state.step`;
  // Field order as optax's NamedTuples.
  const make = (step: number, innerState: unknown): State =>
    mask ? { step, innerState } : ({ innerState, step } as State);
  const tx: GradientTransformationExtraArgs<State> = {
    init: (params) => make(0, inner.init(params)),
    update(updates, state, params, extraArgs) {
      checkState(fn, stepWhat, state);
      const step = safeIncrement(state.step);
      if (decide(fn, shouldTransformFn, forward, state.step, extraArgs)) {
        const [u, s] = innerTx.update(updates, state.innerState as S, params, extraArgs);
        return [u, make(step, s)];
      }
      return [mask ? treeZerosLike(updates) : updates, make(step, state.innerState)];
    },
  };
  if (typeof inner.bindInPlace === 'function') {
    tx.bindInPlace = (state, params) => {
      const st = state as State;
      const step: InPlaceStep = inner.bindInPlace!(st.innerState as S, params);
      let run = false;
      return {
        cannotThrow: step.cannotThrow,
        prepare(extraArgs: ExtraArgs | undefined) {
          checkState(fn, stepWhat, st);
          run = decide(fn, shouldTransformFn, forward, st.step, extraArgs);
          if (run) step.prepare(extraArgs);
        },
        run(input, output, params) {
          if (run) step.run(input, output, params);
          else if (mask) for (let i = 0; i < output.length; i++) output[i]!.fill(0);
          else
            for (let i = 0; i < input.length; i++)
              if (output[i] !== input[i]) output[i]!.set(input[i]!);
          st.step = safeIncrement(st.step);
        },
      };
    };
  }
  return tx;
}

/**
 * Runs `inner` only at the steps where `shouldTransformFn(step)` is true, as
 * `optax.conditionally_transform`; at the other steps the updates pass through unchanged and the
 * inner state is kept. `step` counts the previous `update` calls (from 0). With
 * `forwardExtraArgs: true` the predicate also receives the update's extra arguments. The state is
 * optax's `ConditionallyTransformState`, `{ innerState, step }`.
 *
 * @example
 * ```ts
 * const tx = conditionallyTransform(scale(10), (step) => step % 2 === 1);
 * let state = tx.init({ w: 0 });
 * let u;
 * [u, state] = tx.update({ w: 1 }, state); // u = { w: 1 } (step 0: skipped)
 * [u, state] = tx.update({ w: 1 }, state); // u = { w: 10 }
 * state.step; // 2
 * ```
 */
export function conditionallyTransform<S>(
  inner: GradientTransformation<S>,
  shouldTransformFn: ConditionFn,
  options: ConditionallyOptions = {},
): GradientTransformationExtraArgs<ConditionallyTransformState<S>> {
  return conditionally('conditionallyTransform', false, inner, shouldTransformFn, options);
}

/**
 * Runs `inner` only at the steps where `shouldTransformFn(step)` is true, as
 * `optax.conditionally_mask`; at the other steps the updates are zeros and the inner state is
 * kept. `step` counts the previous `update` calls (from 0). With `forwardExtraArgs: true` the
 * predicate also receives the update's extra arguments. The state is optax's
 * `ConditionallyMaskState`, `{ step, innerState }`.
 *
 * @example
 * ```ts
 * const tx = conditionallyMask(scale(10), (step) => step >= 1);
 * let state = tx.init({ w: 0 });
 * let u;
 * [u, state] = tx.update({ w: 1 }, state); // u = { w: 0 }
 * [u, state] = tx.update({ w: 1 }, state); // u = { w: 10 }
 * ```
 */
export function conditionallyMask<S>(
  inner: GradientTransformation<S>,
  shouldTransformFn: ConditionFn,
  options: ConditionallyOptions = {},
): GradientTransformationExtraArgs<ConditionallyMaskState<S>> {
  return conditionally('conditionallyMask', true, inner, shouldTransformFn, options);
}
