/**
 * The adaptive-scaling and sign family of optax's aliases: `adagrad`, `rmsprop`, `adadelta`,
 * `signSgd`, `signum`, `rprop`, `optimisticGradientDescent`, `noisySgd` and `polyakSgd`, each
 * built as optax composes it.
 */
import type {
  GradientTransformation,
  GradientTransformationExtraArgs,
  ScalarOrSchedule,
} from '../base.js';
import { identity } from '../base.js';
import { type ChainState, chain } from '../combine.js';
import {
  ADADELTA_OPTIONS,
  makeScaleByAdadelta,
  type ScaleByAdadeltaOptions,
} from '../transforms/adadelta.js';
import { type AddNoiseOptions, makeAddNoise } from '../transforms/addNoise.js';
import { checkAccumulatorDtype, makeEma } from '../transforms/ema.js';
import { onHost } from '../transforms/host.js';
import type { Mask } from '../transforms/masked.js';
import { makeScaleByOptimisticGradient } from '../transforms/optimisticGradient.js';
import {
  makeScaleByPolyak,
  POLYAK_OPTIONS,
  type ScaleByPolyakOptions,
} from '../transforms/polyak.js';
import { makeScaleByRmsOrStddev, RMS_OPTIONS, type ScaleByRmsOptions } from '../transforms/rms.js';
import { makeScaleByRprop, RPROP_OPTIONS, type ScaleByRpropOptions } from '../transforms/rprop.js';
import { makeScaleByRss, RSS_OPTIONS, type ScaleByRssOptions } from '../transforms/rss.js';
import { scale, scaleByLearningRate } from '../transforms/scale.js';
import { scaleBySign } from '../transforms/sign.js';
import { trace } from '../transforms/trace.js';
import { addDecayedWeights } from '../transforms/weightDecay.js';
import { checkBoolean, checkFinite, checkOptionKeys, checkScalarOrSchedule } from '../validate.js';

/** Options of {@link adagrad}, with optax's defaults. */
export type AdagradOptions = ScaleByRssOptions;

/**
 * The Adagrad optimizer, as `optax.adagrad`: `chain(scaleByRss({ initialAccumulatorValue, eps }),
 * scaleByLearningRate(learningRate))`. Defaults `initialAccumulatorValue = 0.1`, `eps = 1e-7`
 * (added inside the square root: `g / sqrt(sum of squares + eps)`).
 *
 * @example
 * ```ts
 * const solver = adagrad(0.5, { initialAccumulatorValue: 0, eps: 0 });
 * const [u] = solver.update({ w: -4 }, solver.init({ w: 0 })); // { w: 0.5 }
 * ```
 */
export function adagrad(
  learningRate: ScalarOrSchedule,
  options: AdagradOptions = {},
): GradientTransformationExtraArgs<ChainState> {
  const fn = 'adagrad';
  checkOptionKeys(fn, options, RSS_OPTIONS);
  checkScalarOrSchedule(fn, 'learningRate', learningRate);
  return chain(makeScaleByRss(fn, options), scaleByLearningRate(learningRate));
}

/** Options of {@link rmsprop}, with optax's defaults. */
export interface RmspropOptions extends ScaleByRmsOptions {
  /** Divide by the centered second moment (`scaleByStddev`). Default false. */
  centered?: boolean;
  /** Momentum decay of a `trace` after the learning rate; `null` (default): no momentum. */
  momentum?: number | null;
  /** Nesterov momentum (with `momentum`). Default false. */
  nesterov?: boolean;
}

/**
 * The RMSprop optimizer, as `optax.rmsprop`: `chain(scaleByRms(...), scaleByLearningRate(lr))`
 * (`scaleByStddev` when `centered`), followed by `trace(momentum, { nesterov })` when `momentum`
 * is given; the momentum acts on the already scaled updates, as in optax. Defaults `decay = 0.9`,
 * `eps = 1e-8` (inside the square root, `epsInSqrt = true`), `initialScale = 0`,
 * `biasCorrection = false`, `momentum = null`. `nesterov: true` without a momentum throws (optax
 * ignores it), as in `sgd`.
 *
 * @example
 * ```ts
 * const solver = rmsprop(0.01, { decay: 0.75, eps: 0 });
 * const [u] = solver.update({ w: 2 }, solver.init({ w: 0 })); // { w: -0.02 }
 * const heavy = rmsprop(1e-3, { momentum: 0.9, centered: true });
 * ```
 */
export function rmsprop(
  learningRate: ScalarOrSchedule,
  options: RmspropOptions = {},
): GradientTransformationExtraArgs<ChainState> {
  const fn = 'rmsprop';
  checkOptionKeys(fn, options, [...RMS_OPTIONS, 'centered', 'momentum', 'nesterov']);
  checkScalarOrSchedule(fn, 'learningRate', learningRate);
  const { centered = false, momentum = null, nesterov = false, ...rmsOptions } = options;
  checkBoolean(fn, 'centered', centered);
  checkBoolean(fn, 'nesterov', nesterov);
  if (momentum === null && nesterov) throw new TypeError(`${fn}: nesterov: true needs a momentum`);
  const last =
    momentum === null ? identity() : trace(checkFinite(fn, 'momentum', momentum), { nesterov });
  return chain(
    makeScaleByRmsOrStddev(fn, centered, rmsOptions),
    scaleByLearningRate(learningRate),
    last,
  );
}

/** Options of {@link adadelta}, with optax's defaults. */
export interface AdadeltaOptions extends ScaleByAdadeltaOptions {
  /** Weight decay added to the gradient before the rescaling (L2). Default 0. */
  weightDecay?: ScalarOrSchedule;
  /** Which params are decayed (see `masked`). Default: all. */
  weightDecayMask?: Mask | null;
}

/**
 * The Adadelta optimizer, as `optax.adadelta`: `chain(addDecayedWeights(weightDecay, { mask }),
 * scaleByAdadelta({ rho, eps }), scaleByLearningRate(learningRate))`. Defaults `rho = 0.9`,
 * `eps = 1e-6`, `weightDecay = 0` (added to the gradient, before the rescaling).
 *
 * `learningRate` defaults to `null`, as in optax, where `scaleByLearningRate(null)` is the
 * identity: the updates are then NOT negated, so `adadelta()` ascends the loss. This is optax's
 * behaviour, kept here; pass a learning rate (such as 1) to descend.
 *
 * @example
 * ```ts
 * const solver = adadelta(1, { rho: 0.75, eps: 1 });
 * const [u] = solver.update({ w: 2 }, solver.init({ w: 0 }), { w: 0 }); // { w: -1.414213562373095 }
 * ```
 */
export function adadelta(
  learningRate: ScalarOrSchedule | null = null,
  options: AdadeltaOptions = {},
): GradientTransformationExtraArgs<ChainState> {
  const fn = 'adadelta';
  checkOptionKeys(fn, options, [...ADADELTA_OPTIONS, 'weightDecay', 'weightDecayMask']);
  if (learningRate !== null) checkScalarOrSchedule(fn, 'learningRate', learningRate);
  const { weightDecay = 0, weightDecayMask = null, ...adadeltaOptions } = options;
  checkScalarOrSchedule(fn, 'weightDecay', weightDecay);
  return chain(
    addDecayedWeights(weightDecay, weightDecayMask === null ? {} : { mask: weightDecayMask }),
    makeScaleByAdadelta(fn, adadeltaOptions),
    learningRate === null ? identity() : scaleByLearningRate(learningRate),
  );
}

/**
 * SignSGD, as `optax.sign_sgd`: `chain(scaleBySign(), scaleByLearningRate(learningRate))`; every
 * update element is `-learningRate`, `+learningRate` or 0.
 *
 * @example
 * ```ts
 * const solver = signSgd(0.1);
 * const [u] = solver.update({ w: new Float64Array([3, -2, 0]) }, solver.init({ w: 0 }));
 * // { w: Float64Array [-0.1, 0.1, -0] }
 * ```
 */
export function signSgd(
  learningRate: ScalarOrSchedule,
  options: Record<string, never> = {},
): GradientTransformationExtraArgs<ChainState> {
  // optax's sign_sgd has no other argument; an options object is refused key by key.
  checkOptionKeys('signSgd', options, []);
  checkScalarOrSchedule('signSgd', 'learningRate', learningRate);
  return chain(scaleBySign(), scaleByLearningRate(learningRate));
}

/** Options of {@link signum}, with optax's defaults. */
export interface SignumOptions {
  /** Decay of the momentum whose sign is taken, in [0, 1). Default 0.9. */
  beta?: number;
  /** optax's `accumulator_dtype`; only `null` (the params' dtype) is supported. */
  accumulatorDtype?: null;
}

/**
 * Signum (sign of momentum), as `optax.signum`: `chain(ema(beta, { debias: false }),
 * scaleBySign(), scaleByLearningRate(learningRate))`: the sign of an exponential moving average of
 * the gradients (not debiased: the sign does not need it). Default `beta = 0.9`.
 *
 * @example
 * ```ts
 * const solver = signum(0.1);
 * const grads = { w: new Float64Array([3, -2]) };
 * const [u] = solver.update(grads, solver.init(grads)); // { w: Float64Array [-0.1, 0.1] }
 * ```
 */
export function signum(
  learningRate: ScalarOrSchedule,
  options: SignumOptions = {},
): GradientTransformationExtraArgs<ChainState> {
  const fn = 'signum';
  checkOptionKeys(fn, options, ['beta', 'accumulatorDtype']);
  checkScalarOrSchedule(fn, 'learningRate', learningRate);
  checkAccumulatorDtype(fn, options.accumulatorDtype);
  return chain(
    makeEma(fn, options.beta ?? 0.9, { debias: false }, 'beta'),
    scaleBySign(),
    scaleByLearningRate(learningRate),
  );
}

/** Options of {@link rprop}, with optax's defaults. */
export type RpropOptions = ScaleByRpropOptions;

/**
 * The Rprop optimizer, as `optax.rprop`: `chain(scaleByRprop(learningRate, options), scale(-1))`;
 * `learningRate` is the initial per-element step size (a number: it is not a schedule in optax
 * either). Defaults `etaMinus = 0.5`, `etaPlus = 1.2`, `minStepSize = 1e-6`, `maxStepSize = 50`,
 * `lagged = true`: by default each update is the previous step's, as optax computes it (the first
 * update is 0); `lagged: false` gives the paper's Rprop (iRprop-; see `scaleByRprop` for how it
 * differs from PyTorch's).
 *
 * @example
 * ```ts
 * const solver = rprop(0.1, { lagged: false });
 * const [u] = solver.update({ w: -3 }, solver.init({ w: 0 })); // { w: 0.1 }
 * ```
 */
export function rprop(
  learningRate: number,
  options: RpropOptions = {},
): GradientTransformationExtraArgs<ChainState> {
  checkOptionKeys('rprop', options, RPROP_OPTIONS);
  return chain(makeScaleByRprop('rprop', learningRate, options), scale(-1));
}

/** Options of {@link optimisticGradientDescent}, with optax's defaults. */
export interface OptimisticGradientDescentOptions {
  /** Coefficient of the gradient. Default 1. */
  alpha?: number;
  /** Coefficient of the negative momentum. Default 1. */
  beta?: number;
}

/**
 * Optimistic gradient descent, as `optax.optimistic_gradient_descent`:
 * `chain(scaleByOptimisticGradient({ alpha, beta }), scaleByLearningRate(learningRate))`, the
 * update `-lr ((alpha + beta) g - beta gPrev)` (on the first step `gPrev = g`). Defaults
 * `alpha = 1`, `beta = 1`; they are numbers (optax types them as schedules but cannot use one).
 *
 * @example
 * ```ts
 * const solver = optimisticGradientDescent(0.1);
 * let state = solver.init({ w: 0 });
 * let u;
 * [u, state] = solver.update({ w: 1 }, state); // { w: -0.1 }
 * [u, state] = solver.update({ w: 3 }, state); // { w: -0.5 }
 * ```
 */
export function optimisticGradientDescent(
  learningRate: ScalarOrSchedule,
  options: OptimisticGradientDescentOptions = {},
): GradientTransformationExtraArgs<ChainState> {
  const fn = 'optimisticGradientDescent';
  checkOptionKeys(fn, options, ['alpha', 'beta']);
  checkScalarOrSchedule(fn, 'learningRate', learningRate);
  return chain(makeScaleByOptimisticGradient(fn, options), scaleByLearningRate(learningRate));
}

/** Options of {@link noisySgd}, with optax's defaults. */
export interface NoisySgdOptions extends AddNoiseOptions {
  /** Base variance of the noise. Default 0.01. */
  eta?: number;
}

/**
 * SGD with annealed gradient noise, as `optax.noisy_sgd`: `chain(addNoise(eta, { gamma, key }),
 * scaleByLearningRate(learningRate))`, the noise variance `eta / t^gamma` at step `t` (from 1).
 * Defaults `eta = 0.01`, `gamma = 0.55`, `key = 0`. The noise is this project's own generator,
 * reproducible for a key but not JAX's numbers (see `addNoise`).
 *
 * @example
 * ```ts
 * const solver = noisySgd(0.1, { eta: 0, key: 1 }); // no noise: plain SGD
 * const [u] = solver.update({ w: 2 }, solver.init({ w: 0 })); // { w: -0.2 }
 * ```
 */
export function noisySgd(
  learningRate: ScalarOrSchedule,
  options: NoisySgdOptions = {},
): GradientTransformationExtraArgs<ChainState> {
  const fn = 'noisySgd';
  checkOptionKeys(fn, options, ['eta', 'gamma', 'key', 'seed']);
  checkScalarOrSchedule(fn, 'learningRate', learningRate);
  const { eta = 0.01, ...noiseOptions } = options;
  return onHost(
    fn,
    chain(makeAddNoise(fn, eta, noiseOptions, 0.55), scaleByLearningRate(learningRate)),
  );
}

/** Options of {@link polyakSgd}, with optax's defaults. */
export interface PolyakSgdOptions extends Omit<ScaleByPolyakOptions, 'maxLearningRate'> {
  /** A learning rate (or schedule) applied before the Polyak step. Default 1. */
  scaling?: ScalarOrSchedule;
}

/**
 * SGD with Polyak step sizes, as `optax.polyak_sgd`: `chain(sgd(scaling),
 * scaleByPolyak({ maxLearningRate, fMin, eps, variant }))`. The updates are first scaled by
 * `-scaling`, then by `min((f - fMin) / (||u||² + eps), maxLearningRate)` where `u` are the
 * already scaled updates (as in optax, so `scaling` enters the norm) and `f` the loss, given as
 * `update(grads, state, params, { value })` or `Optimizer.step(grads, { value })`. Defaults
 * `maxLearningRate = 1`, `scaling = 1`, `fMin = 0`, `eps = 0`, `variant = 'sps'`.
 *
 * @example
 * ```ts
 * const solver = polyakSgd(10);
 * const grads = { w: new Float64Array([3, 4]) };
 * const [u] = solver.update(grads, solver.init(grads), undefined, { value: 50 });
 * // { w: Float64Array [-6, -8] }
 * ```
 */
export function polyakSgd(
  maxLearningRate = 1,
  options: PolyakSgdOptions = {},
): GradientTransformationExtraArgs<ChainState> {
  const fn = 'polyakSgd';
  checkOptionKeys(fn, options, [
    ...POLYAK_OPTIONS.filter((k) => k !== 'maxLearningRate'),
    'scaling',
  ]);
  const { scaling = 1, ...polyakOptions } = options;
  checkScalarOrSchedule(fn, 'scaling', scaling);
  const sgdPart: GradientTransformation = chain(identity(), scaleByLearningRate(scaling));
  return chain(sgdPart, makeScaleByPolyak(fn, { ...polyakOptions, maxLearningRate }));
}
