/** Optimistic gradients, as `optax.scale_by_optimistic_gradient`. */
import type { FusedMember, GradientTransformationExtraArgs } from '../base.js';
import { fusionTag, withFusionTag } from '../base.js';
import { isContainer } from '../tree.js';
import { checkFinite, checkOptionKeys } from '../validate.js';
import { elementwise } from './elementwise.js';

/** Options of {@link scaleByOptimisticGradient} (and of `optimisticGradientDescent`). */
export interface ScaleByOptimisticGradientOptions {
  /** Coefficient of the gradient. Default 1. */
  alpha?: number;
  /** Coefficient of the negative momentum. Default 1. */
  beta?: number;
}

/** The state of {@link scaleByOptimisticGradient} (optax's `ScaleByOptimisticGradientState`). */
export interface ScaleByOptimisticGradientState<T = any> {
  /** True until the first update. */
  isInitialStep: boolean;
  /** The gradient of the previous update (zeros before the first). */
  previousGradient: T;
}

/**
 * {@link scaleByOptimisticGradient} with the caller's name in errors (`optimisticGradientDescent`
 * builds its rescaling with it).
 *
 * @example
 * ```ts
 * optimisticFor('optimisticGradientDescent', { alpha: NaN }); // RangeError: optimisticGradientDescent: alpha must be a finite number, got NaN
 * ```
 */
export function optimisticFor(
  fn: string,
  options: ScaleByOptimisticGradientOptions,
): GradientTransformationExtraArgs<ScaleByOptimisticGradientState> {
  checkOptionKeys(fn, options, ['alpha', 'beta']);
  const alpha = checkFinite(fn, 'alpha', options.alpha ?? 1);
  const beta = checkFinite(fn, 'beta', options.beta ?? 1);
  // The elementwise transformation counts steps; stage 0 (`prev = g`) runs at count 0. Its state
  // { count, previousGradient } is derived from this one's { isInitialStep, previousGradient }.
  const inner = elementwise({
    fn,
    stages: ['optimisticFirst', 'optimistic'],
    arrays: [{ key: 'previousGradient' }],
    counted: true,
    constants: { ab: alpha + beta, beta },
    step: (count) => (count === 0 ? 0 : 1),
  });
  const checkState = (state: unknown): ScaleByOptimisticGradientState => {
    if (
      !isContainer(state) ||
      Array.isArray(state) ||
      typeof (state as { isInitialStep?: unknown }).isInitialStep !== 'boolean' ||
      !('previousGradient' in state)
    )
      throw new TypeError(
        `${fn}.update: state must be { isInitialStep, previousGradient } as made by ${fn}.init`,
      );
    return state as unknown as ScaleByOptimisticGradientState;
  };
  /** A view of `state` as the inner transformation's, kept in step by `sync`. */
  const view = (state: ScaleByOptimisticGradientState) => {
    const v = { count: 0, previousGradient: state.previousGradient };
    return {
      v,
      sync() {
        checkState(state);
        v.count = state.isInitialStep ? 0 : 1;
        v.previousGradient = state.previousGradient;
      },
    };
  };
  const tx: GradientTransformationExtraArgs<ScaleByOptimisticGradientState> = {
    init: (params) => ({
      isInitialStep: true,
      previousGradient: inner.init(params).previousGradient,
    }),
    update(updates, state, params, extraArgs) {
      const st = checkState(state);
      const [u, next] = inner.update(
        updates,
        { count: st.isInitialStep ? 0 : 1, previousGradient: st.previousGradient },
        params,
        extraArgs,
      );
      return [u, { isInitialStep: false, previousGradient: next.previousGradient }];
    },
    bindInPlace(state, params) {
      const { v, sync } = view(state);
      sync();
      const step = inner.bindInPlace!(v, params);
      return {
        cannotThrow: true,
        prepare(extraArgs) {
          sync();
          step.prepare(extraArgs);
        },
        run(input, output, p) {
          step.run(input, output, p);
          state.isInitialStep = false;
        },
      };
    },
  };
  const innerTag = fusionTag(inner);
  return withFusionTag(tx, {
    kind: 'stage',
    name: fn,
    fuse(state, leaves): FusedMember | undefined {
      if (innerTag?.kind !== 'stage' || !isContainer(state) || Array.isArray(state))
        return undefined;
      if (typeof (state as { isInitialStep?: unknown }).isInitialStep !== 'boolean')
        return undefined;
      const st = state as unknown as ScaleByOptimisticGradientState;
      const { v, sync } = view(st);
      const m = innerTag.fuse(v, leaves);
      if (m === undefined) return undefined;
      return {
        stages: m.stages,
        get stage() {
          return m.stage;
        },
        arrays: m.arrays,
        scalars: m.scalars,
        prepare() {
          sync();
          m.prepare();
        },
        commit() {
          m.commit();
          st.isInitialStep = false;
        },
      };
    },
  });
}

/**
 * Generalized optimistic gradients, as `optax.scale_by_optimistic_gradient`: the update is
 * `(alpha + beta) g - beta prev`, where `prev` is the previous update's gradient, or on the first
 * update `g` itself (so the first update is `alpha g`). `alpha + beta` is computed in float64.
 * The state is optax's `{ isInitialStep, previousGradient }`.
 *
 * @example
 * ```ts
 * const tx = scaleByOptimisticGradient({ alpha: 1, beta: 0.5 });
 * let state = tx.init({ w: 0 });
 * let u;
 * [u, state] = tx.update({ w: 2 }, state); // { w: 2 }
 * [u, state] = tx.update({ w: 4 }, state); // { w: 5 }
 * ```
 */
export function scaleByOptimisticGradient(
  options: ScaleByOptimisticGradientOptions = {},
): GradientTransformationExtraArgs<ScaleByOptimisticGradientState> {
  return optimisticFor('scaleByOptimisticGradient', options);
}
