/** The optimistic gradient, as `optax.scale_by_optimistic_gradient`. */
import type { GradientTransformationExtraArgs } from '../base.js';
import { checkFinite, checkOptionKeys } from '../validate.js';
import { elementwise } from './elementwise.js';

/** Options of {@link scaleByOptimisticGradient}, with optax's defaults. */
export interface ScaleByOptimisticGradientOptions {
  /** Coefficient of the generalized optimistic gradient. Default 1. */
  alpha?: number;
  /** Coefficient of the negative momentum. Default 1. */
  beta?: number;
}

/** The option names {@link scaleByOptimisticGradient} accepts. */
export const OPTIMISTIC_GRADIENT_OPTIONS = ['alpha', 'beta'] as const;

/** The state of {@link scaleByOptimisticGradient} (optax's `ScaleByOptimisticGradientState`). */
export interface ScaleByOptimisticGradientState<T = any> {
  /** True until the first update. */
  isInitialStep: boolean;
  /** The previous update received (zeros before the first). */
  previousGradient: T;
}

/**
 * {@link scaleByOptimisticGradient} whose errors name `fn` (the alias that builds it).
 *
 * @example
 * ```ts
 * makeScaleByOptimisticGradient('optimisticAdamV2', { beta: Infinity }); // RangeError: optimisticAdamV2: beta must be a finite number, got Infinity
 * ```
 */
export function makeScaleByOptimisticGradient(
  fn: string,
  options: ScaleByOptimisticGradientOptions = {},
): GradientTransformationExtraArgs<ScaleByOptimisticGradientState> {
  checkOptionKeys(fn, options, OPTIMISTIC_GRADIENT_OPTIONS);
  const alpha = checkFinite(fn, 'alpha', options.alpha ?? 1);
  const beta = checkFinite(fn, 'beta', options.beta ?? 1);
  return elementwise({
    fn: 'scaleByOptimisticGradient',
    stages: ['optimisticFirst', 'optimistic'],
    arrays: [{ key: 'previousGradient' }],
    counted: false,
    initialStepKey: 'isInitialStep',
    // `alpha + beta` in float64, rounded once to the leaf's type (as optax's weak-typed scalar).
    constants: { alphaPlusBeta: alpha + beta, beta },
    step: (count) => (count === 0 ? 0 : 1),
  }) as GradientTransformationExtraArgs<ScaleByOptimisticGradientState>;
}

/**
 * The generalized optimistic gradient, as `optax.scale_by_optimistic_gradient`: the update is
 * `(alpha + beta) u - beta uPrev`, where `uPrev` is the previous update this transformation
 * received, or on the first step the current one (so the first update is `alpha u`, as optax
 * since its issue #1082). The state is optax's `{ isInitialStep, previousGradient }`. `alpha`,
 * `beta` must be finite (any sign).
 *
 * @example
 * ```ts
 * const tx = scaleByOptimisticGradient({ alpha: 0.5, beta: 2 });
 * let [u, s] = tx.update({ w: 4 }, tx.init({ w: 0 })); // { w: 2 }
 * [u, s] = tx.update({ w: 1 }, s); // { w: -5.5 }
 * ```
 */
export function scaleByOptimisticGradient(
  options: ScaleByOptimisticGradientOptions = {},
): GradientTransformationExtraArgs<ScaleByOptimisticGradientState> {
  return makeScaleByOptimisticGradient('scaleByOptimisticGradient', options);
}
