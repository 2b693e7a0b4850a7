/** Polyak's step size, as `optax.scale_by_polyak`. */
import type { EmptyState, ExtraArgs, GradientTransformationExtraArgs } from '../base.js';
import { leafOps, typedArrayOps } from '../leaf.js';
import { isContainer, mapLeaves, treeSumOfSquares } from '../tree.js';
import { checkFinite, checkNonNegative, checkOptionKeys, describeValue } from '../validate.js';

/** Options of {@link scaleByPolyak}, with optax's defaults. */
export interface ScaleByPolyakOptions {
  /** A lower bound of the loss (optax's `f_min`, the `f*` of the formula). Default 0. */
  fMin?: number;
  /** The largest step size. Default 1. */
  maxLearningRate?: number;
  /** Added to the squared gradient norm in the denominator. Default 0. */
  eps?: number;
  /** `'sps'`, or `'sps+'` (the loss gap clipped at 0). Default `'sps'`. */
  variant?: 'sps' | 'sps+';
}

/** The option names {@link scaleByPolyak} accepts. */
export const POLYAK_OPTIONS = ['fMin', 'maxLearningRate', 'eps', 'variant'] as const;

/** jnp.finfo(float).eps: below it the squared norm counts as zero and the step is 0. */
const TINY = 2.220446049250313e-16;

/**
 * {@link scaleByPolyak} with the caller's name in errors (`polyakSgd` builds its step with it).
 *
 * @example
 * ```ts
 * makeScaleByPolyak('polyakSgd', { eps: -1 }); // RangeError: polyakSgd: eps must be >= 0 and finite, got -1
 * ```
 */
export function makeScaleByPolyak(
  fn: string,
  options: ScaleByPolyakOptions,
): GradientTransformationExtraArgs<EmptyState> {
  checkOptionKeys(fn, options, POLYAK_OPTIONS);
  const fMin = checkFinite(fn, 'fMin', options.fMin ?? 0);
  const maxLearningRate = checkNonNegative(fn, 'maxLearningRate', options.maxLearningRate ?? 1);
  const eps = checkNonNegative(fn, 'eps', options.eps ?? 0);
  const variant = options.variant ?? 'sps';
  if (variant !== 'sps' && variant !== 'sps+')
    throw new TypeError(`${fn}: variant must be 'sps' or 'sps+', got ${describeValue(variant)}`);
  const plus = variant === 'sps+';

  /** The loss value of the extra arguments, checked. */
  const lossValue = (extraArgs: ExtraArgs | undefined): number => {
    const value = extraArgs?.value;
    if (value === undefined)
      throw new TypeError(
        `${fn}.update: the loss value is required: update(updates, state, params, { value }) or Optimizer.step(grads, { value })`,
      );
    if (typeof value !== 'number' || !Number.isFinite(value))
      throw new RangeError(
        `${fn}.update: value (the loss) must be a finite number, got ${describeValue(value)}`,
      );
    return value;
  };
  /** The step size (float64) for loss `value` and squared gradient norm `sq`. */
  const stepSize = (value: number, sq: number): number => {
    let gap = value - fMin;
    if (plus) gap = Math.max(gap, 0);
    const den = sq + eps;
    return den <= TINY ? 0 : Math.min(gap / den, maxLearningRate);
  };
  const checkState = (state: unknown) => {
    if (!isContainer(state) || Array.isArray(state))
      throw new TypeError(`${fn}.update: state must be {} as made by ${fn}.init`);
  };
  return {
    init: () => ({}),
    update(updates, state, _params, extraArgs) {
      checkState(state);
      const value = lossValue(extraArgs);
      const step = stepSize(value, treeSumOfSquares(updates, 'updates'));
      return [mapLeaves(([u]) => leafOps(u).scale(u, step), [updates], ['updates']), state];
    },
    bindInPlace(state) {
      let value = 0;
      return {
        cannotThrow: true,
        prepare(extraArgs) {
          checkState(state);
          value = lossValue(extraArgs);
        },
        run(input, output) {
          let sq = 0;
          for (let i = 0; i < input.length; i++) sq += typedArrayOps.sumOfSquares(input[i]!);
          const step = stepSize(value, sq);
          for (let i = 0; i < input.length; i++) typedArrayOps.scale(input[i]!, step, output[i]);
        },
      };
    },
  };
}

/**
 * Scales the updates by Polyak's step size (Loizou et al., 2021), as `optax.scale_by_polyak`:
 * `min((f - fMin) / (||u||² + eps), maxLearningRate)`, where `f` is the loss, given to `update`
 * as the extra argument `{ value }` (and to `Optimizer.step(grads, { value })`), and `||u||²` the
 * squared global norm of the incoming updates; the step is 0 when `||u||² + eps` is at most
 * 2.2e-16 (float64's epsilon, optax's `jnp.finfo(float).eps`). With `variant: 'sps+'` the gap
 * `f - fMin` is clipped at 0. The step is computed in float64 (the norm summed in float64) and
 * rounded to each leaf's dtype when it scales it. Keeps no state (`{}`).
 *
 * `value` must be a finite number: a missing or non-finite loss throws before anything changes.
 *
 * @example
 * ```ts
 * const tx = scaleByPolyak({ maxLearningRate: 10 });
 * const [u] = tx.update({ w: new Float64Array([3, 4]) }, {}, undefined, { value: 50 });
 * // { w: Float64Array [6, 8] }: the step is 50 / 25 = 2
 * tx.update({ w: 1 }, {}); // TypeError: scaleByPolyak.update: the loss value is required: update(updates, state, params, { value }) or Optimizer.step(grads, { value })
 * ```
 */
export function scaleByPolyak(
  options: ScaleByPolyakOptions = {},
): GradientTransformationExtraArgs<EmptyState> {
  return makeScaleByPolyak('scaleByPolyak', options);
}
