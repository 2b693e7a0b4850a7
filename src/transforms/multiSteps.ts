/** Gradient accumulation, as `optax.MultiSteps`. */

import type {
  ExtraArgs,
  GradientTransformation,
  GradientTransformationExtraArgs,
} from '../base.js';
import { safeIncrement } from '../base.js';
import { disposeLeaf, type LeafOps, leafOps, typedArrayOps } from '../leaf.js';
import type { ArrayLeaf } from '../tree.js';
import { isContainer, mapLeaves, treeLeaves, treeSumOfSquares, treeZerosLike } from '../tree.js';
import {
  checkBoolean,
  checkCount,
  checkInteger,
  checkOptionKeys,
  checkTransformation,
  describeValue,
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
  /**
   * Decides, per call, whether to drop the mini-step (optax's `should_skip_update_fn`): a dropped
   * mini-step returns zeros and changes nothing but `skipState`, as if it never happened. Use
   * {@link skipNotFinite} or {@link skipLargeUpdates}, or your own function. Default `null`: none.
   */
  shouldSkipUpdateFn?: ShouldSkipUpdateFunction | null;
}

/**
 * Whether {@link multiSteps} should drop a mini-step (optax's `ShouldSkipUpdateFunction`): called
 * with the mini-step's updates, the state's `gradientStep` and the params, it returns
 * `[shouldSkip, skipState]`, where `skipState` (any tree, for monitoring) is stored in the state.
 */
export type ShouldSkipUpdateFunction = (
  updates: any,
  gradientStep: number,
  params: any,
) => [boolean, unknown];

/** The skip functions of this module, which the in-place step computes without allocating. */
const SKIP_KIND: unique symbol = Symbol('optax-ts.skipKind');
type SkipKind = { kind: 'notFinite' } | { kind: 'large'; maxSquaredNorm: number };

function skipKind(fn: unknown): SkipKind | undefined {
  return typeof fn === 'function' ? (fn as { [SKIP_KIND]?: SkipKind })[SKIP_KIND] : undefined;
}

/** The number of NaN and ±Infinity elements of a leaf. */
function countNotFinite(x: unknown): number {
  if (typeof x === 'number') return Number.isFinite(x) ? 0 : 1;
  if (x instanceof Float32Array || x instanceof Float64Array) {
    let n = 0;
    for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i]!)) n++;
    return n;
  }
  // Other leaves (tensors): all finite, or counted as one.
  return leafOps(x).allFinite(x) ? 0 : 1;
}

/** The skip state of {@link skipNotFinite}. */
export interface SkipNotFiniteState {
  /** Whether the mini-step was dropped. */
  shouldSkip: boolean;
  /** The number of NaN and ±Infinity elements of the updates. */
  numNotFinite: number;
}

/**
 * A {@link ShouldSkipUpdateFunction} for {@link multiSteps} that drops a mini-step whose updates
 * contain NaN or ±Infinity, as `optax.skip_not_finite`; its skip state is
 * `{ shouldSkip, numNotFinite }`. (On TF.js or jax-js leaves, a leaf with any non-finite element
 * counts as one.)
 *
 * @example
 * ```ts
 * skipNotFinite({ w: new Float32Array([1, NaN, Infinity]) }, 0, null);
 * // [true, { shouldSkip: true, numNotFinite: 2 }]
 * const tx = multiSteps(sgd(0.1), { everyK: 4, shouldSkipUpdateFn: skipNotFinite });
 * ```
 */
export const skipNotFinite: ShouldSkipUpdateFunction = Object.defineProperty(
  (updates: unknown, _gradientStep: number, _params: unknown): [boolean, SkipNotFiniteState] => {
    let numNotFinite = 0;
    mapLeaves(
      ([x]) => {
        numNotFinite += countNotFinite(x);
        return null;
      },
      [updates],
      ['updates'],
    );
    const shouldSkip = numNotFinite > 0;
    return [shouldSkip, { shouldSkip, numNotFinite }];
  },
  SKIP_KIND,
  { value: { kind: 'notFinite' } satisfies SkipKind },
);

/** The skip state of {@link skipLargeUpdates}. */
export interface SkipLargeUpdatesState {
  /** Whether the mini-step was dropped. */
  shouldSkip: boolean;
  /** The squared L2 norm of the updates (float64). */
  normSquared: number;
}

/**
 * A {@link ShouldSkipUpdateFunction} for {@link multiSteps} that drops a mini-step unless the
 * squared L2 norm of its updates is below `maxSquaredNorm`, as `optax.skip_large_updates` (a NaN
 * norm is dropped too); its skip state is `{ shouldSkip, normSquared }`. The squared norm is summed
 * in float64 (optax sums in the updates' dtype), so a norm within float32 rounding of the bound may
 * be judged differently. `maxSquaredNorm` must be a number >= 0 (`Infinity` drops only NaN norms).
 *
 * @example
 * ```ts
 * skipLargeUpdates(11)({ w: new Float64Array([3, 1]) }, 0, null); // [false, { shouldSkip: false, normSquared: 10 }]
 * skipLargeUpdates(10)({ w: new Float64Array([3, 1]) }, 0, null)[0]; // true
 * skipLargeUpdates(-1); // RangeError: skipLargeUpdates: maxSquaredNorm must be a number >= 0, got -1
 * ```
 */
export function skipLargeUpdates(maxSquaredNorm: number): ShouldSkipUpdateFunction {
  const fn = 'skipLargeUpdates';
  if (typeof maxSquaredNorm !== 'number' || !(maxSquaredNorm >= 0))
    throw new RangeError(
      `${fn}: maxSquaredNorm must be a number >= 0, got ${typeof maxSquaredNorm === 'number' ? maxSquaredNorm : describeValue(maxSquaredNorm)}`,
    );
  const skip = (
    updates: unknown,
    _gradientStep: number,
    _params: unknown,
  ): [boolean, SkipLargeUpdatesState] => {
    const normSquared = treeSumOfSquares(updates, 'updates');
    // `!(n < max)`: a NaN norm is skipped too.
    const shouldSkip = !(normSquared < maxSquaredNorm);
    return [shouldSkip, { shouldSkip, normSquared }];
  };
  return Object.defineProperty(skip, SKIP_KIND, {
    value: { kind: 'large', maxSquaredNorm } satisfies SkipKind,
  });
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
  /** What `shouldSkipUpdateFn` returned for the last mini-step (`[]` without one, as optax's `()`). */
  skipState: unknown;
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
 * With `shouldSkipUpdateFn` (optax's `should_skip_update_fn`: {@link skipNotFinite},
 * {@link skipLargeUpdates} or your own), a mini-step it rejects returns zeros and leaves the state
 * as it was but for `skipState`, where the function's second result is stored (`[]` without a
 * function, as optax's `()`). The in-place `Optimizer` runs `skipNotFinite` and
 * `skipLargeUpdates` without allocating; with another function it runs the functional update.
 *
 * @example
 * ```ts
 * const tx = multiSteps(sgd(0.1), { everyK: 4 }); // a 4x larger batch from 4 small ones
 * const safe = multiSteps(sgd(0.1), { everyK: 4, shouldSkipUpdateFn: skipNotFinite });
 * ```
 */
export function multiSteps<S>(
  inner: GradientTransformation<S>,
  options: MultiStepsOptions,
): GradientTransformationExtraArgs<MultiStepsState<S>> {
  const fn = 'multiSteps';
  checkTransformation(fn, 'inner', inner);
  if (options === undefined) throw new TypeError(`${fn}: options { everyK } are required`);
  checkOptionKeys(fn, options, ['everyK', 'useGradMean', 'shouldSkipUpdateFn']);
  const shouldSkip = options.shouldSkipUpdateFn ?? null;
  if (shouldSkip !== null && typeof shouldSkip !== 'function')
    throw new TypeError(
      `${fn}: shouldSkipUpdateFn must be a function (updates, gradientStep, params) => [boolean, skipState] or null, got ${typeof shouldSkip}`,
    );
  /** `[shouldSkip, skipState]` for a mini-step; checks what a custom function returns. */
  const skipFor = (updates: unknown, gradientStep: number, params: unknown): [boolean, unknown] => {
    if (shouldSkip === null) return [false, []];
    const r = shouldSkip(updates, gradientStep, params) as unknown;
    if (!Array.isArray(r) || r.length !== 2 || typeof r[0] !== 'boolean')
      throw new TypeError(
        `${fn}: shouldSkipUpdateFn must return [shouldSkip (a boolean), skipState], got ${
          Array.isArray(r) ? `[${typeof r[0]}, ...] of length ${r.length}` : typeof r
        }`,
      );
    return r as [boolean, unknown];
  };
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
      skipState: skipFor(treeZerosLike(params), 0, params)[1],
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
      const [skip, skipState] = skipFor(updates, state.gradientStep, params);
      if (skip)
        return [
          treeZerosLike(updates),
          {
            miniStep: state.miniStep,
            gradientStep: state.gradientStep,
            innerOptState: state.innerOptState,
            accGrads: state.accGrads,
            skipState,
          },
        ];
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
            skipState,
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
          skipState,
        },
      ];
    },
  };
  // In place: without a skip function, or with one of this module's (computed without allocating,
  // into the state's skip state); another function needs the trees, so the functional path runs.
  const kind = skipKind(shouldSkip);
  if (typeof inner.bindInPlace === 'function' && (shouldSkip === null || kind !== undefined)) {
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
          if (kind !== undefined && !isContainer(state.skipState))
            throw new TypeError(
              `multiSteps.update: state.skipState must be the object made by multiSteps.init, got ${typeof state.skipState}`,
            );
          k = kAt(state.gradientStep);
          emit = state.miniStep === k - 1;
          if (emit) step.prepare(extraArgs);
        },
        run(input, output, params) {
          if (kind !== undefined) {
            const sk = state.skipState as Record<string, unknown>;
            let skip: boolean;
            if (kind.kind === 'notFinite') {
              let count = 0;
              for (let i = 0; i < input.length; i++) count += countNotFinite(input[i]);
              skip = count > 0;
              sk.numNotFinite = count;
            } else {
              let sum = 0;
              for (let i = 0; i < input.length; i++) sum += typedArrayOps.sumOfSquares(input[i]!);
              skip = !(sum < kind.maxSquaredNorm);
              sk.normSquared = sum;
            }
            sk.shouldSkip = skip;
            if (skip) {
              for (let i = 0; i < output.length; i++) output[i]!.fill(0);
              return;
            }
          }
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
