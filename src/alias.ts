/** Ready-made optimizers: a rescaling followed by the learning rate, as optax's aliases. */
import type {
  GradientTransformation,
  GradientTransformationExtraArgs,
  ScalarOrSchedule,
} from './base.js';
import { identity } from './base.js';
import { type ChainState, chain } from './combine.js';
import { ADAM_OPTIONS, makeScaleByAdam, type ScaleByAdamOptions } from './transforms/adam.js';
import { checkAccumulatorDtype } from './transforms/ema.js';
import type { Mask } from './transforms/masked.js';
import { makeScaleByRadam, type ScaleByRadamOptions } from './transforms/radam.js';
import { scaleByLearningRate } from './transforms/scale.js';
import { trace } from './transforms/trace.js';
import { addDecayedWeights } from './transforms/weightDecay.js';
import { checkBoolean, checkFinite, checkOptionKeys, checkScalarOrSchedule } from './validate.js';

/** Options of {@link radam}: RAdam's own, plus optional decoupled weight decay. */
export interface RadamOptions extends ScaleByRadamOptions {
  /**
   * Decoupled (AdamW-style) weight decay rate, a number or a schedule: when given, radam is
   * `chain(scaleByRadam, addDecayedWeights(weightDecay, { mask }), scaleByLearningRate)`.
   */
  weightDecay?: ScalarOrSchedule;
  /** Which params are decayed (see `masked`); only with `weightDecay`. */
  weightDecayMask?: Mask;
}

/**
 * The Rectified Adam optimizer, as `optax.radam`: `chain(scaleByRadam(options),
 * scaleByLearningRate(learningRate))`. Defaults `b1 = 0.9`, `b2 = 0.999`, `eps = 1e-8`,
 * `epsRoot = 0`, `threshold = 5`, `nesterov = false`.
 *
 * With `weightDecay` (optax's radam has none) it is `chain(scaleByRadam(options),
 * addDecayedWeights(weightDecay, { mask: weightDecayMask }), scaleByLearningRate(learningRate))`:
 * decoupled decay, as AdamW. For L2 decay as `torch.optim.RAdam(weight_decay=…)` does, put
 * `addDecayedWeights` first in a chain yourself.
 *
 * @example
 * ```ts
 * const solver = radam(0.003);
 * let params = new Float32Array([1, 2, 3]);
 * let state = solver.init(params);
 * const grads = params.map((x) => 2 * x); // gradient of sum(x²)
 * let updates;
 * [updates, state] = solver.update(grads, state, params);
 * params = applyUpdates(params, updates); // [0.994, 1.988, 2.982]
 * const decayed = radam(0.003, { weightDecay: 1e-2 }); // RAdam with decoupled weight decay
 * ```
 */
export function radam(
  learningRate: ScalarOrSchedule,
  options: RadamOptions = {},
): GradientTransformationExtraArgs<ChainState> {
  if (options === null || typeof options !== 'object')
    throw new TypeError(`radam: options must be an object, got ${String(options)}`);
  checkOptionKeys('radam', options, [
    'b1',
    'b2',
    'eps',
    'epsRoot',
    'threshold',
    'nesterov',
    'weightDecay',
    'weightDecayMask',
  ]);
  checkScalarOrSchedule('radam', 'learningRate', learningRate);
  const { weightDecay, weightDecayMask, ...radamOptions } = options;
  if (weightDecay === undefined) {
    if (weightDecayMask !== undefined)
      throw new TypeError(
        'radam: weightDecayMask was given without weightDecay; give both or neither',
      );
    return chain(makeScaleByRadam('radam', radamOptions), scaleByLearningRate(learningRate));
  }
  checkScalarOrSchedule('radam', 'weightDecay', weightDecay);
  return chain(
    makeScaleByRadam('radam', radamOptions),
    addDecayedWeights(weightDecay, weightDecayMask === undefined ? {} : { mask: weightDecayMask }),
    scaleByLearningRate(learningRate),
  );
}

/** Options of {@link adam}. */
export type AdamOptions = ScaleByAdamOptions;

/**
 * The Adam optimizer, as `optax.adam`: `chain(scaleByAdam(options),
 * scaleByLearningRate(learningRate))`. Defaults `b1 = 0.9`, `b2 = 0.999`, `eps = 1e-8`,
 * `epsRoot = 0`, `nesterov = false`.
 *
 * @example
 * ```ts
 * const solver = adam(1e-3);
 * const [u] = solver.update({ w: 2 }, solver.init({ w: 0 })); // { w: -0.000999999995 }
 * ```
 */
export function adam(
  learningRate: ScalarOrSchedule,
  options: AdamOptions = {},
): GradientTransformationExtraArgs<ChainState> {
  checkScalarOrSchedule('adam', 'learningRate', learningRate);
  return chain(makeScaleByAdam('adam', options), scaleByLearningRate(learningRate));
}

/** Options of {@link adamw}. */
export interface AdamwOptions extends ScaleByAdamOptions {
  /** Decoupled weight decay rate, a number or a schedule. Default 1e-4 (optax's). */
  weightDecay?: ScalarOrSchedule;
  /** Which params are decayed (see `masked`). Default: all. */
  mask?: Mask;
}

/**
 * Adam with decoupled weight decay, as `optax.adamw`: `chain(scaleByAdam(options),
 * addDecayedWeights(weightDecay, { mask }), scaleByLearningRate(learningRate))`.
 *
 * @example
 * ```ts
 * const solver = adamw(1e-3, { weightDecay: 1e-2 });
 * ```
 */
export function adamw(
  learningRate: ScalarOrSchedule,
  options: AdamwOptions = {},
): GradientTransformationExtraArgs<ChainState> {
  checkOptionKeys('adamw', options, [...ADAM_OPTIONS, 'weightDecay', 'mask']);
  checkScalarOrSchedule('adamw', 'learningRate', learningRate);
  const { weightDecay = 1e-4, mask, ...adamOptions } = options;
  checkScalarOrSchedule('adamw', 'weightDecay', weightDecay);
  return chain(
    makeScaleByAdam('adamw', adamOptions),
    addDecayedWeights(weightDecay, mask === undefined ? {} : { mask }),
    scaleByLearningRate(learningRate),
  );
}

/** Options of {@link sgd}. */
export interface SgdOptions {
  /**
   * Momentum decay; when absent or `null` (optax's `None`), plain gradient descent (no state).
   * `0` is a `trace(0)` (a state of zeros, updates equal to the gradients), as in optax.
   */
  momentum?: number | null;
  /** Nesterov momentum (needs `momentum`). Default false. */
  nesterov?: boolean;
  /** optax's `accumulator_dtype`; only `null` (the trace takes each param's dtype) is supported. */
  accumulatorDtype?: null;
}

/**
 * Stochastic gradient descent, as `optax.sgd`: `chain(trace(momentum, { nesterov }),
 * scaleByLearningRate(learningRate))`, with `identity()` in place of `trace` when `momentum` is
 * not given or `null`. Unlike optax, which ignores it, `nesterov: true` without a momentum throws.
 *
 * @example
 * ```ts
 * const [u] = sgd(0.1).update({ w: 2 }, sgd(0.1).init({ w: 0 })); // { w: -0.2 }
 * const heavyBall = sgd(0.1, { momentum: 0.9 });
 * ```
 */
export function sgd(
  learningRate: ScalarOrSchedule,
  options: SgdOptions = {},
): GradientTransformationExtraArgs<ChainState> {
  const fn = 'sgd';
  checkOptionKeys(fn, options, ['momentum', 'nesterov', 'accumulatorDtype']);
  checkScalarOrSchedule(fn, 'learningRate', learningRate);
  const nesterov = checkBoolean(fn, 'nesterov', options.nesterov ?? false);
  checkAccumulatorDtype(fn, options.accumulatorDtype);
  let first: GradientTransformation;
  if (options.momentum === undefined || options.momentum === null) {
    if (nesterov) throw new TypeError('sgd: nesterov: true needs a momentum');
    first = identity();
  } else first = trace(checkFinite(fn, 'momentum', options.momentum), { nesterov });
  return chain(first, scaleByLearningRate(learningRate));
}
