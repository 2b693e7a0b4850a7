/**
 * The aliases built on per-leaf norms and matrices, as optax composes them: `lamb`, `lars`,
 * `fromage`, `adafactor`, `sm3`, `novograd`.
 */
import type {
  GradientTransformation,
  GradientTransformationExtraArgs,
  ScalarOrSchedule,
  Schedule,
} from '../base.js';
import { type ChainState, chain } from '../combine.js';
import { ADAM_OPTIONS, adamHyperparams, scaleByAdam } from '../transforms/adam.js';
import { emaAverage } from '../transforms/emaAverage.js';
import {
  clipByBlockRms,
  scaleByFactoredRms,
  scaleByParamBlockRms,
} from '../transforms/factoredRms.js';
import { onHost } from '../transforms/host.js';
import { type Mask, masked } from '../transforms/masked.js';
import { scaleByNovogradFor } from '../transforms/novograd.js';
import { scale, scaleByLearningRate } from '../transforms/scale.js';
import { scaleBySm3For } from '../transforms/sm3.js';
import { trace } from '../transforms/trace.js';
import { scaleByTrustRatio } from '../transforms/trustRatio.js';
import { addDecayedWeights } from '../transforms/weightDecay.js';
import {
  checkBoolean,
  checkFinite,
  checkInteger,
  checkNonNegative,
  checkOptionKeys,
  checkScalarOrSchedule,
} from '../validate.js';

/** Options of {@link lamb}, with optax's defaults. */
export interface LambOptions {
  /** Decay of the first moment. Default 0.9. */
  b1?: number;
  /** Decay of the second moment. Default 0.999. */
  b2?: number;
  /** Added to the denominator outside the square root. Default 1e-6. */
  eps?: number;
  /** Added to the second moment inside the square root. Default 0. */
  epsRoot?: number;
  /** Decoupled weight decay rate, a number or a schedule. Default 0. */
  weightDecay?: ScalarOrSchedule;
  /** Which params are decayed (see `masked`); `null` (default): all. */
  mask?: Mask | null;
}

/**
 * The LAMB optimizer, as `optax.lamb`: `chain(scaleByAdam({ b1, b2, eps, epsRoot }),
 * addDecayedWeights(weightDecay, { mask }), scaleByTrustRatio(), scaleByLearningRate(lr))`.
 * Defaults `b1 = 0.9`, `b2 = 0.999`, `eps = 1e-6`, `epsRoot = 0`, `weightDecay = 0`.
 *
 * @example
 * ```ts
 * const solver = lamb(0.1);
 * const params = { w: Float64Array.of(3, 4) };
 * const [u] = solver.update({ w: Float64Array.of(1, 0) }, solver.init(params), params);
 * // Adam's step is about [1, 0]; the trust ratio rescales it to |w| = 5: u.w is about [-0.5, 0]
 * ```
 */
export function lamb(
  learningRate: ScalarOrSchedule,
  options: LambOptions = {},
): GradientTransformationExtraArgs<ChainState> {
  const fn = 'lamb';
  checkOptionKeys(fn, options, [
    ...ADAM_OPTIONS.filter((k) => k !== 'nesterov'),
    'weightDecay',
    'mask',
  ]);
  checkScalarOrSchedule(fn, 'learningRate', learningRate);
  const { weightDecay = 0, mask = null, eps = 1e-6, ...adamOptions } = options;
  // Checked here, so that errors name lamb.
  const { nesterov: _, ...hp } = adamHyperparams(fn, { ...adamOptions, eps });
  return chain(
    scaleByAdam(hp),
    addDecayedWeights(weightDecay, mask === null ? {} : { mask }),
    scaleByTrustRatio(),
    scaleByLearningRate(learningRate),
  );
}

/** Options of {@link lars}, with optax's defaults. */
export interface LarsOptions {
  /** Weight decay rate (added to the gradient first), a number or a schedule. Default 0. */
  weightDecay?: ScalarOrSchedule;
  /** Which params are decayed. Default `true` (all). */
  weightDecayMask?: Mask;
  /** Multiplies the trust ratio. Default 0.001. */
  trustCoefficient?: number;
  /** Added to the update's norm in the trust ratio. Default 0. */
  eps?: number;
  /** Which params get the trust ratio. Default `true` (all). */
  trustRatioMask?: Mask;
  /** Momentum decay. Default 0.9. */
  momentum?: number;
  /** Nesterov momentum. Default false. */
  nesterov?: boolean;
}

/**
 * The LARS optimizer, as `optax.lars`: `chain(addDecayedWeights(weightDecay, { mask:
 * weightDecayMask }), masked(scaleByTrustRatio({ trustCoefficient, eps }), trustRatioMask),
 * scaleByLearningRate(lr), trace(momentum, { nesterov }))`. As in optax both masks are always
 * applied (default `true`), so the state has optax's `MaskedState` wrappers.
 *
 * @example
 * ```ts
 * const solver = lars(0.1, { weightDecay: 1e-4, trustRatioMask: { w: true, b: false } });
 * lars(0.1, { momentum: Number.NaN }); // RangeError: lars: momentum must be a finite number, got NaN
 * ```
 */
export function lars(
  learningRate: ScalarOrSchedule,
  options: LarsOptions = {},
): GradientTransformationExtraArgs<ChainState> {
  const fn = 'lars';
  checkOptionKeys(fn, options, [
    'weightDecay',
    'weightDecayMask',
    'trustCoefficient',
    'eps',
    'trustRatioMask',
    'momentum',
    'nesterov',
  ]);
  checkScalarOrSchedule(fn, 'learningRate', learningRate);
  const momentum = checkFinite(fn, 'momentum', options.momentum ?? 0.9);
  const nesterov = checkBoolean(fn, 'nesterov', options.nesterov ?? false);
  const trustCoefficient = checkFinite(fn, 'trustCoefficient', options.trustCoefficient ?? 0.001);
  const eps = checkNonNegative(fn, 'eps', options.eps ?? 0);
  return chain(
    addDecayedWeights(options.weightDecay ?? 0, { mask: options.weightDecayMask ?? true }),
    masked(scaleByTrustRatio({ trustCoefficient, eps }), options.trustRatioMask ?? true),
    scaleByLearningRate(learningRate),
    trace(momentum, { nesterov }),
  );
}

/** Options of {@link fromage}, with optax's defaults. */
export interface FromageOptions {
  /** Norms of params and updates are raised to at least this. Default 1e-6. */
  minNorm?: number;
}

/**
 * The Fromage optimizer, as `optax.fromage`: with `m = 1 / sqrt(1 + lr²)`,
 * `chain(scaleByTrustRatio({ minNorm }), scaleByLearningRate(lr * m), addDecayedWeights(m - 1))`
 * (for a schedule, both factors follow the schedule's value at each count).
 *
 * @example
 * ```ts
 * const solver = fromage(0.01);
 * const params = { w: Float64Array.of(3, 4) };
 * const [u] = solver.update({ w: Float64Array.of(1, 0) }, solver.init(params), params);
 * // u.w is about [-0.05, 0] - 0.00005 * [3, 4]
 * ```
 */
export function fromage(
  learningRate: ScalarOrSchedule,
  options: FromageOptions = {},
): GradientTransformationExtraArgs<ChainState> {
  const fn = 'fromage';
  checkOptionKeys(fn, options, ['minNorm']);
  checkScalarOrSchedule(fn, 'learningRate', learningRate);
  const minNorm = checkNonNegative(fn, 'minNorm', options.minNorm ?? 1e-6);
  if (typeof learningRate !== 'function') {
    const mult = 1 / (1 + learningRate ** 2) ** 0.5;
    return chain(
      scaleByTrustRatio({ minNorm }),
      scaleByLearningRate(learningRate * mult),
      addDecayedWeights(mult - 1),
    );
  }
  const schedule = learningRate as Schedule;
  const multLr = (count: number) => 1 / (1 + schedule(count) ** 2) ** 0.5;
  return chain(
    scaleByTrustRatio({ minNorm }),
    scaleByLearningRate((c: number) => multLr(c) * schedule(c)),
    addDecayedWeights((c: number) => multLr(c) - 1),
  );
}

/** Options of {@link adafactor}, with optax's defaults. */
export interface AdafactorOptions {
  /** Factor the second moment of leaves whose two largest dimensions are at least this. Default 128. */
  minDimSizeToFactor?: number;
  /** The exponent of the second-moment decay `1 - (t + 1)^-decayRate`. Default 0.8. */
  decayRate?: number;
  /** Subtracted from the step count in the decay (fine-tuning). Default 0. */
  decayOffset?: number;
  /** Scale the updates by the root mean square of each param (at least 1e-3). Default true. */
  multiplyByParameterScale?: boolean;
  /** Clip each update leaf to this root mean square; `null`: no clipping. Default 1. */
  clippingThreshold?: number | null;
  /** Momentum (an exponential average of the updates, not debiased); `null` (default): none. */
  momentum?: number | null;
  /** The momentum accumulator's dtype: `'float32'` (default, as optax), `'float64'`, or `null` for the params'. */
  dtypeMomentum?: 'float32' | 'float64' | null;
  /** Decoupled weight decay rate; `null` (default): none. */
  weightDecayRate?: ScalarOrSchedule | null;
  /** Added to the squared gradients. Default 1e-30. */
  eps?: number;
  /** Use the factored second moment at all. Default true. */
  factored?: boolean;
  /** Which params are decayed; `null` (default): all. */
  weightDecayMask?: Mask | null;
}

/**
 * The Adafactor optimizer, as `optax.adafactor`: `scaleByFactoredRms({ factored, decayRate,
 * stepOffset: decayOffset, minDimSizeToFactor, epsilon: eps })`, then as optax adds them:
 * `clipByBlockRms(clippingThreshold)`, `scaleByLearningRate(learningRate, { flipSign: false })`,
 * `scaleByParamBlockRms()`, the momentum average, `addDecayedWeights(weightDecayRate, { mask })`,
 * and finally `scale(-1)`. `learningRate` may be `null` (no learning-rate scaling, as optax's
 * default). Leaves are factored by their `shape` (see `shapeOf`); give 2-D params a shape.
 *
 * With `momentum` and float64 params, the default `dtypeMomentum: 'float32'` stores the average
 * in float32 as optax does; the new average is computed in the updates' dtype.
 *
 * @example
 * ```ts
 * const solver = adafactor(0.01);
 * const w = Object.assign(new Float32Array(256 * 128), { shape: [256, 128] });
 * const state = solver.init({ w }); // vRow of shape [128], vCol of shape [256]
 * adafactor(null, { decayRate: Number.NaN }); // RangeError: adafactor: decayRate must be a finite number, got NaN
 * ```
 */
export function adafactor(
  learningRate: ScalarOrSchedule | null = null,
  options: AdafactorOptions = {},
): GradientTransformationExtraArgs<ChainState> {
  const fn = 'adafactor';
  checkOptionKeys(fn, options, [
    'minDimSizeToFactor',
    'decayRate',
    'decayOffset',
    'multiplyByParameterScale',
    'clippingThreshold',
    'momentum',
    'dtypeMomentum',
    'weightDecayRate',
    'eps',
    'factored',
    'weightDecayMask',
  ]);
  if (learningRate !== null) checkScalarOrSchedule(fn, 'learningRate', learningRate);
  const decayRate = checkFinite(fn, 'decayRate', options.decayRate ?? 0.8);
  const stepOffset = checkInteger(fn, 'decayOffset', options.decayOffset ?? 0, 0);
  const minDimSizeToFactor = checkInteger(
    fn,
    'minDimSizeToFactor',
    options.minDimSizeToFactor ?? 128,
    0,
  );
  const epsilon = checkNonNegative(fn, 'eps', options.eps ?? 1e-30);
  const factored = checkBoolean(fn, 'factored', options.factored ?? true);
  const byScale = checkBoolean(
    fn,
    'multiplyByParameterScale',
    options.multiplyByParameterScale ?? true,
  );
  const clipping = options.clippingThreshold === undefined ? 1 : options.clippingThreshold;
  if (clipping !== null) checkFinite(fn, 'clippingThreshold', clipping);
  const momentum = options.momentum ?? null;
  if (momentum !== null) checkFinite(fn, 'momentum', momentum);
  const dtypeMomentum = options.dtypeMomentum === undefined ? 'float32' : options.dtypeMomentum;
  if (dtypeMomentum !== null && dtypeMomentum !== 'float32' && dtypeMomentum !== 'float64')
    throw new TypeError(
      `${fn}: dtypeMomentum must be 'float32', 'float64' or null, got ${JSON.stringify(dtypeMomentum)}`,
    );
  const weightDecayRate = options.weightDecayRate ?? null;
  if (weightDecayRate !== null) checkScalarOrSchedule(fn, 'weightDecayRate', weightDecayRate);
  const mask = options.weightDecayMask ?? null;
  const txs: GradientTransformation[] = [
    scaleByFactoredRms({ factored, decayRate, stepOffset, minDimSizeToFactor, epsilon }),
  ];
  if (clipping !== null) txs.push(clipByBlockRms(clipping));
  if (learningRate !== null) txs.push(scaleByLearningRate(learningRate, { flipSign: false }));
  if (byScale) txs.push(scaleByParamBlockRms());
  if (momentum !== null) txs.push(emaAverage(momentum, dtypeMomentum));
  if (weightDecayRate !== null)
    txs.push(addDecayedWeights(weightDecayRate, mask === null ? {} : { mask }));
  txs.push(scale(-1));
  return onHost(fn, chain(...txs));
}

/** Options of {@link novograd}, with optax's defaults. */
export interface NovogradOptions {
  /** Decay of the first moment. Default 0.9. */
  b1?: number;
  /** Decay of the layer-wise second moment. Default 0.25. */
  b2?: number;
  /** Added to the denominator. Default 1e-6. */
  eps?: number;
  /** Added inside the square root. Default 0. */
  epsRoot?: number;
  /** Weight decay (a number: optax's schedule type does not work there either). Default 0. */
  weightDecay?: number;
}

/**
 * NovoGrad, as `optax.novograd`: `chain(scaleByNovograd({ b1, b2, eps, epsRoot, weightDecay }),
 * scaleByLearningRate(learningRate))`, with `eps = 1e-6` by default.
 *
 * @example
 * ```ts
 * const solver = novograd(0.1);
 * const p = { w: Float64Array.of(1, 1) };
 * const [u] = solver.update({ w: Float64Array.of(3, 4) }, solver.init(p), p);
 * // g / |g| times -lr: about [-0.06, -0.08]
 * ```
 */
export function novograd(
  learningRate: ScalarOrSchedule,
  options: NovogradOptions = {},
): GradientTransformationExtraArgs<ChainState> {
  const fn = 'novograd';
  checkOptionKeys(fn, options, ['b1', 'b2', 'eps', 'epsRoot', 'weightDecay']);
  checkScalarOrSchedule(fn, 'learningRate', learningRate);
  return onHost(
    fn,
    chain(
      scaleByNovogradFor(fn, { ...options, eps: options.eps ?? 1e-6 }),
      scaleByLearningRate(learningRate),
    ),
  );
}

/** Options of {@link sm3}, with optax's defaults. */
export interface Sm3Options {
  /** The momentum (`scaleBySm3`'s `b1`). Default 0.9. */
  momentum?: number;
}

/**
 * SM3, as `optax.sm3`: `chain(scaleBySm3({ b1: momentum }), scale(-learningRate))`. As in optax
 * the learning rate is a number (no schedule). Give 2-D params a `shape` to get SM3's per-row and
 * per-column accumulators; arrays without one are vectors.
 *
 * @example
 * ```ts
 * const solver = sm3(0.1);
 * sm3((c: number) => 0.1); // TypeError: sm3: learningRate must be a finite number (optax's sm3 takes no schedule)
 * ```
 */
export function sm3(
  learningRate: number,
  options: Sm3Options = {},
): GradientTransformationExtraArgs<ChainState> {
  const fn = 'sm3';
  checkOptionKeys(fn, options, ['momentum']);
  if (typeof learningRate !== 'number')
    throw new TypeError(
      `${fn}: learningRate must be a finite number (optax's sm3 takes no schedule), got ${typeof learningRate}`,
    );
  checkFinite(fn, 'learningRate', learningRate);
  const momentum = checkFinite(fn, 'momentum', options.momentum ?? 0.9);
  return onHost(fn, chain(scaleBySm3For(fn, { b1: momentum }), scale(-learningRate)));
}
