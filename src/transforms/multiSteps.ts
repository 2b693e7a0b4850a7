/** Gradient accumulation, as `optax.MultiSteps`. */

import type {
  ExtraArgs,
  GradientTransformation,
  GradientTransformationExtraArgs,
} from '../base.js';
import { safeIncrement } from '../base.js';
import { disposeLeaf, type LeafOps, leafOps, typedArrayOps } from '../leaf.js';
import type { ArrayLeaf } from '../tree.js';
import { isContainer, mapLeaves, treeLeaves, treeZerosLike } from '../tree.js';
import {
  checkBoolean,
  checkCount,
  checkInteger,
  checkOptionKeys,
  checkTransformation,
} from '../validate.js';

/** Options of {@link multiSteps}. */
export interface MultiStepsOptions {
  /**
   * Mini-steps per update: an integer >= 1, or a function of the number of updates emitted so far
   * (`gradientStep`) returning one.
   */
  everyK: number | ((gradientStep: number) => number);
  /** Average the accumulated gradients (true, the default) or sum them (false). */
  useGradMean?: boolean;
}

/** The state of {@link multiSteps} (optax's `MultiStepsState`). */
export interface MultiStepsState<S = unknown> {
  /** Mini-steps accumulated since the last emitted update. */
  miniStep: number;
  /** Updates emitted so far. */
  gradientStep: number;
  /** The wrapped optimizer's state, advanced only when an update is emitted. */
  innerOptState: S;
  /** The running mean (or sum) of the gradients since the last emitted update. */
  accGrads: any;
}

/**
 * One accumulation step for one leaf, shared by both paths: the running mean
 * `acc + (g - acc) / (n + 1)` (Welford's update, as optax) or the sum `g + acc`.
 */
function accumulateLeaf(
  ops: LeafOps,
  g: any,
  acc: any,
  n: number,
  mean: boolean,
  out: any,
  tmp: any,
): any {
  if (!mean) return ops.add(acc, g, out);
  const diff = ops.linearCombination(1, g, -1, acc, tmp);
  const q = ops.divide(diff, n + 1, tmp);
  if (tmp === undefined) disposeLeaf(diff);
  const r = ops.add(acc, q, out);
  if (tmp === undefined) disposeLeaf(q);
  return r;
}

/**
 * Gradient accumulation, as `optax.MultiSteps`: each call adds the gradients to a running mean
 * (or sum, with `useGradMean: false`) and returns zeros, except every `everyK`-th call, which
 * passes the accumulated gradients to `inner`, returns its updates and starts a new accumulation.
 * `inner`'s state only advances on those calls.
 *
 * Differences from optax: the accumulator has the params' leaf type (optax defaults to float32),
 * `inner` is only called when an update is emitted (optax evaluates it every call and discards the
 * result), and the zeros between emitted updates are exact zeros even if a gradient was NaN.
 * A `everyK` schedule value that is not an integer >= 1 throws before anything changes.
 *
 * @example
 * ```ts
 * const tx = multiSteps(sgd(0.1), { everyK: 4 }); // a 4x larger batch from 4 small ones
 * ```
 */
export function multiSteps<S>(
  inner: GradientTransformation<S>,
  options: MultiStepsOptions,
): GradientTransformationExtraArgs<MultiStepsState<S>> {
  const fn = 'multiSteps';
  checkTransformation(fn, 'inner', inner);
  if (options === undefined) throw new TypeError(`${fn}: options { everyK } are required`);
  checkOptionKeys(fn, options, ['everyK', 'useGradMean']);
  const everyK = options.everyK;
  if (typeof everyK !== 'function') checkInteger(fn, 'everyK', everyK, 1);
  const mean = checkBoolean(fn, 'useGradMean', options.useGradMean ?? true);
  const kAt = (gradientStep: number): number => {
    if (typeof everyK === 'number') return everyK;
    const k = everyK(gradientStep);
    if (typeof k !== 'number' || !Number.isInteger(k) || k < 1)
      throw new RangeError(
        `${fn}: the everyK schedule returned ${String(k)} at gradientStep ${gradientStep}; expected an integer >= 1`,
      );
    return k;
  };
  const innerTx = inner as GradientTransformationExtraArgs<S>;
  const tx: GradientTransformationExtraArgs<MultiStepsState<S>> = {
    init: (params) => ({
      miniStep: 0,
      gradientStep: 0,
      innerOptState: inner.init(params),
      accGrads: treeZerosLike(params),
    }),
    update(updates, state, params, extraArgs) {
      if (
        !isContainer(state) ||
        typeof state.miniStep !== 'number' ||
        typeof state.gradientStep !== 'number' ||
        !('innerOptState' in state) ||
        !('accGrads' in state)
      )
        throw new TypeError(
          `${fn}.update: state must be { miniStep, gradientStep, innerOptState, accGrads } as made by ${fn}.init`,
        );
      const k = kAt(state.gradientStep);
      const acc = mapLeaves(
        ([g, a]) => accumulateLeaf(leafOps(g), g, a, state.miniStep, mean, undefined, undefined),
        [updates, state.accGrads],
        ['updates', 'state.accGrads'],
      );
      const emit = state.miniStep === k - 1;
      const miniStep = safeIncrement(state.miniStep) % k;
      if (!emit)
        return [
          treeZerosLike(updates),
          {
            miniStep,
            gradientStep: state.gradientStep,
            innerOptState: state.innerOptState,
            accGrads: acc,
          },
        ];
      const [u, innerOptState] = innerTx.update(acc, state.innerOptState, params, extraArgs);
      return [
        u,
        {
          miniStep,
          gradientStep: safeIncrement(state.gradientStep),
          innerOptState,
          accGrads: treeZerosLike(acc),
        },
      ];
    },
  };
  if (typeof inner.bindInPlace === 'function') {
    tx.bindInPlace = (state, params) => {
      const step = inner.bindInPlace!(state.innerOptState, params);
      const acc = treeLeaves<ArrayLeaf>(state.accGrads);
      const tmp = acc.map((a) => typedArrayOps.zerosLike(a));
      let k = 1;
      let emit = false;
      const what = [`multiSteps.update: state.miniStep`, `multiSteps.update: state.gradientStep`];
      return {
        cannotThrow: step.cannotThrow,
        prepare(extraArgs: ExtraArgs | undefined) {
          checkCount(what[0]!, state.miniStep);
          checkCount(what[1]!, state.gradientStep);
          k = kAt(state.gradientStep);
          emit = state.miniStep === k - 1;
          if (emit) step.prepare(extraArgs);
        },
        run(input, output, params) {
          const n = state.miniStep;
          for (let i = 0; i < input.length; i++)
            accumulateLeaf(typedArrayOps, input[i], acc[i], n, mean, acc[i], tmp[i]);
          state.miniStep = safeIncrement(n) % k;
          if (!emit) {
            for (let i = 0; i < output.length; i++) output[i]!.fill(0);
            return;
          }
          step.run(acc, output, params);
          for (let i = 0; i < acc.length; i++) acc[i]!.fill(0);
          state.gradientStep = safeIncrement(state.gradientStep);
        },
      };
    };
  }
  return tx;
}
