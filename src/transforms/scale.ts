/** Scaling transformations: by a constant, by a schedule, by a learning rate. */
import type {
  EmptyState,
  GradientTransformationExtraArgs,
  ScalarOrSchedule,
  Schedule,
} from '../base.js';
import { countedMember, safeIncrement, statelessMember, withFusionTag } from '../base.js';
import { leafOps, typedArrayOps } from '../leaf.js';
import { isContainer, mapLeaves } from '../tree.js';
import {
  checkBoolean,
  checkCount,
  checkFinite,
  checkName,
  checkOptionKeys,
  checkScalarOrSchedule,
  describeValue,
  evaluate,
} from '../validate.js';

/** What a state is, for an error message. */
function describeState(state: unknown): string {
  if (Array.isArray(state)) return `a list of length ${state.length}`;
  if (isContainer(state)) return `an object with keys [${Object.keys(state).join(', ')}]`;
  return state === null ? 'null' : typeof state;
}

/** Throws unless `state` is `{}`, the state of a transformation that keeps none. */
function checkEmptyState(fn: string, state: unknown): void {
  if (!isContainer(state) || Array.isArray(state) || Object.keys(state).length > 0)
    throw new TypeError(
      `${fn}.update: state must be {} as made by ${fn}.init, got ${describeState(state)}`,
    );
}

/** Throws unless `state` is `{ count }` with an int32 step count. */
function checkScheduleState(fn: string, state: unknown): asserts state is ScaleByScheduleState {
  if (!isContainer(state) || Array.isArray(state) || !('count' in state))
    throw new TypeError(
      `${fn}.update: state must be { count } as made by ${fn}.init, got ${describeState(state)}`,
    );
  checkCount(`${fn}.update: state.count`, state.count);
}

/** Multiplies every leaf of a tree by `s`. */
function scaleTree(updates: unknown, s: number): unknown {
  return mapLeaves(([u]) => leafOps(u).scale(u, s), [updates], ['updates']);
}

/**
 * Multiplies the updates by a constant, as `optax.scale`.
 *
 * @example
 * ```ts
 * const [u] = scale(-0.1).update({ w: new Float64Array([1, 2]) }, {});
 * // { w: Float64Array [-0.1, -0.2] }
 * ```
 */
export function scale(stepSize: number): GradientTransformationExtraArgs<EmptyState> {
  checkFinite('scale', 'stepSize', stepSize);
  const tx: GradientTransformationExtraArgs<EmptyState> = {
    init: () => ({}),
    update(updates, state) {
      checkEmptyState('scale', state);
      return [scaleTree(updates, stepSize), state];
    },
    bindInPlace: () => ({
      cannotThrow: true,
      prepare() {},
      run(input, output) {
        for (let i = 0; i < input.length; i++) typedArrayOps.scale(input[i]!, stepSize, output[i]);
      },
    }),
  };
  return withFusionTag(tx, {
    kind: 'stage',
    name: 'scale',
    fuse: () => statelessMember('scale', [stepSize]),
  });
}

/** The state of {@link scaleBySchedule}: how many updates have been made. */
export interface ScaleByScheduleState {
  /** Updates made so far: the schedule's argument at the next update. */
  count: number;
}

/**
 * Multiplies the updates by `schedule(count)`, where `count` is the number of updates made before
 * this one (0 on the first), as `optax.scale_by_schedule`. A schedule value that is not a finite
 * number throws before anything changes.
 *
 * @example
 * ```ts
 * const tx = scaleBySchedule((count) => 1 / (count + 1));
 * let state = tx.init(params);
 * [updates, state] = tx.update(grads, state); // scaled by 1, then 1/2, 1/3, ...
 * ```
 */
export function scaleBySchedule(
  stepSizeFn: Schedule,
  name = 'scaleBySchedule',
): GradientTransformationExtraArgs<ScaleByScheduleState> {
  checkName('scaleBySchedule', 'name', name);
  if (typeof stepSizeFn !== 'function')
    throw new TypeError(
      `${name}: stepSizeFn must be a function (count) => number, got ${describeValue(stepSizeFn)}`,
    );
  const tx: GradientTransformationExtraArgs<ScaleByScheduleState> = {
    init: () => ({ count: 0 }),
    update(updates, state) {
      checkScheduleState(name, state);
      const s = evaluate(name, 'step size', stepSizeFn, state.count);
      return [scaleTree(updates, s), { count: safeIncrement(state.count) }];
    },
    bindInPlace(state) {
      let s = 0;
      const countWhat = `${name}.update: state.count`;
      return {
        cannotThrow: true,
        prepare() {
          checkCount(countWhat, state.count);
          s = evaluate(name, 'step size', stepSizeFn, state.count);
        },
        run(input, output) {
          for (let i = 0; i < input.length; i++) typedArrayOps.scale(input[i]!, s, output[i]);
          state.count = safeIncrement(state.count);
        },
      };
    },
  };
  return withFusionTag(tx, {
    kind: 'stage',
    name,
    fuse: (state) =>
      countedMember('scale', name, state, (count) =>
        evaluate(name, 'step size', stepSizeFn, count),
      ),
  });
}

/** Options of {@link scaleByLearningRate}. */
export interface ScaleByLearningRateOptions {
  /** Multiply by `-learningRate` (descent) rather than `learningRate`. Default `true`. */
  flipSign?: boolean;
}

/**
 * Multiplies the updates by `-learningRate` (or `+learningRate` with `flipSign: false`), as
 * `optax.scale_by_learning_rate`. A schedule is called with its own count, 0 on the first update.
 *
 * @example
 * ```ts
 * const [u] = scaleByLearningRate(0.5).update({ w: 2 }, {}); // { w: -1 }
 * ```
 */
export function scaleByLearningRate(
  learningRate: ScalarOrSchedule,
  options: ScaleByLearningRateOptions = {},
): GradientTransformationExtraArgs<EmptyState | ScaleByScheduleState> {
  const fn = 'scaleByLearningRate';
  checkOptionKeys(fn, options, ['flipSign']);
  const flipSign = checkBoolean(fn, 'flipSign', options.flipSign ?? true);
  checkScalarOrSchedule(fn, 'learningRate', learningRate);
  const sign = flipSign ? -1 : 1;
  if (typeof learningRate === 'function') {
    return scaleBySchedule(
      (count) => sign * evaluate(fn, 'learning-rate', learningRate, count),
      fn,
    );
  }
  return scale(sign * learningRate) as GradientTransformationExtraArgs<
    EmptyState | ScaleByScheduleState
  >;
}
